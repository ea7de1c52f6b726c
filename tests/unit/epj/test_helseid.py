"""The HelseID client assertion: what HelseID requires of its claims and header (docs/epj.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from respons.epj import helseid

NOW = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def test_the_assertion_names_the_client_the_issuer_and_lives_sixty_seconds(tmp_path, rsa_key):
    jwk = {**json.loads(RSAAlgorithm.to_jwk(rsa_key)), "kid": "nhn-key-1", "alg": "PS256"}
    (tmp_path / "key.json").write_text(json.dumps(jwk))
    key = helseid.load_key(str(tmp_path / "key.json"))
    token = helseid.client_assertion(client_id="respons-4204", audience="https://helseid-sts.test.nhn.no", key=key,
                                     now=NOW, jti="abc")
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "PS256", "kid": "nhn-key-1", "typ": "JWT"}
    claims = jwt.decode(token, rsa_key.public_key(), algorithms=["PS256"], audience="https://helseid-sts.test.nhn.no",
                        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False})
    stamp = int(NOW.timestamp())
    assert claims == {"iss": "respons-4204", "sub": "respons-4204", "aud": "https://helseid-sts.test.nhn.no",
                      "jti": "abc", "iat": stamp, "nbf": stamp, "exp": stamp + 60}


def test_a_pem_key_is_named_by_its_thumbprint_and_an_ec_key_signs_es256(tmp_path, rsa_key):
    (tmp_path / "rsa.pem").write_text(pem(rsa_key))
    (tmp_path / "ec.pem").write_text(pem(ec.generate_private_key(ec.SECP256R1())))
    from_pem = helseid.load_key(str(tmp_path / "rsa.pem"))
    assert from_pem.algorithm == "RS256" and len(from_pem.kid) == 43  # base64url of a SHA-256, no padding
    assert helseid.load_key(str(tmp_path / "ec.pem")).algorithm == "ES256"


@pytest.mark.parametrize("content, said", [(None, "cannot be read"), ("not a key", "not a private JWK or PEM key"),
                                           ('{"kty": "RSA"}', "not a private JWK or PEM key")])
def test_a_key_file_that_is_missing_or_no_key_is_a_clear_refusal(tmp_path, content, said):
    path = tmp_path / "key"
    if content is not None:
        path.write_text(content)
    with pytest.raises(helseid.TokenUnavailable, match=said):
        helseid.load_key(str(path))


def test_the_audience_is_the_token_services_origin():
    assert helseid.issuer_of("https://helseid-sts.nhn.no/connect/token") == "https://helseid-sts.nhn.no"
    assert helseid.issuer_of("http://127.0.0.1:8098/token") == "http://127.0.0.1:8098"
