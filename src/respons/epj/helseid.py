"""HelseID: an access token for the EPJ by OAuth2 client credentials, the client authenticated
with a signed JWT client assertion (``private_key_jwt``, RFC 7523), as HelseID requires of
every client (docs/epj.md, "HelseID").

The assertion is a JWT signed with the client's private key: ``iss`` and ``sub`` the client id,
``aud`` HelseID's issuer, a unique ``jti``, ``iat``/``nbf`` now and ``exp`` at most 60 s later,
and the key's ``kid`` in the header. The key file is the private JWK HelseID's self-service
gives (JSON, with its ``kid``) or a PEM key (its ``kid`` is then the RFC 7638 thumbprint, the
value to register). A token is kept until a minute before it expires, per endpoint; an EPJ
answering 401 makes the next delivery fetch a new one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = timedelta(seconds=60)  # HelseID: exp no more than 60 s ahead
RENEW_BEFORE = timedelta(seconds=60)


class TokenUnavailable(Exception):
    """No access token: the key cannot be read, or the token endpoint did not give one."""


@dataclass(frozen=True)
class ClientKey:
    private_key: object  # a cryptography private key
    kid: str
    algorithm: str


def load_key(path: str) -> ClientKey:
    """The client's private key from a JWK (JSON) or PEM file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise TokenUnavailable(f"the HelseID key file cannot be read: {exc}") from None
    try:
        if text.lstrip().startswith("{"):
            jwk = json.loads(text)
            key = jwt.PyJWK(jwk)
            return ClientKey(key.key, jwk.get("kid") or _thumbprint(jwk), jwk.get("alg") or _default_alg(jwk["kty"]))
        private = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError, KeyError, jwt.PyJWTError) as exc:
        raise TokenUnavailable(f"the HelseID key file is not a private JWK or PEM key: {exc}") from None
    kind = RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else ECAlgorithm
    public = json.loads(kind.to_jwk(private.public_key()))
    return ClientKey(private, _thumbprint(public), _default_alg(public["kty"]))


def _default_alg(kty: str) -> str:
    return {"RSA": "RS256", "EC": "ES256"}.get(kty, "RS256")


def _thumbprint(jwk: dict) -> str:
    """RFC 7638: the SHA-256 of the required members, in order, without spaces."""
    members = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def issuer_of(token_url: str) -> str:
    """HelseID's issuer, the assertion's audience: the token endpoint's origin
    (https://helseid-sts.nhn.no for https://helseid-sts.nhn.no/connect/token)."""
    parsed = urlparse(token_url)
    return f"{parsed.scheme}://{parsed.netloc}"


def client_assertion(*, client_id: str, audience: str, key: ClientKey, now: datetime, jti: str) -> str:
    """The signed JWT that authenticates the client at the token endpoint (pure: ``now`` and
    ``jti`` are given)."""
    issued = int(now.timestamp())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "jti": jti, "iat": issued, "nbf": issued,
              "exp": issued + int(ASSERTION_LIFETIME.total_seconds())}
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid, "typ": "JWT"})


@dataclass(frozen=True)
class Token:
    value: str
    renew_at: datetime


class Tokens:
    """Access tokens per municipality, fetched when missing or about to expire; one per node,
    shared by the delivery worker and the care-plan reader (both run it in a thread)."""

    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self.timeout_seconds = timeout_seconds
        self._tokens: dict[int, Token] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def authorization(self, endpoint, now: datetime) -> dict[str, str]:
        """The request headers the endpoint needs: a bearer token for HelseID, else none."""
        if endpoint.auth != "helseid":
            return {}
        with self._guard:
            lock = self._locks.setdefault(endpoint.municipality_id, threading.Lock())
        # One fetch per municipality at a time: deliveries starting together share it.
        with lock:
            held = self._tokens.get(endpoint.municipality_id)
            if held is None or now >= held.renew_at:
                held = self._tokens[endpoint.municipality_id] = fetch(endpoint, now, timeout=self.timeout_seconds)
        return {"Authorization": f"Bearer {held.value}"}

    def forget(self, municipality_id: int) -> None:
        """The EPJ refused the token (401): the next request fetches a new one."""
        self._tokens.pop(municipality_id, None)


def fetch(endpoint, now: datetime, *, timeout: float) -> Token:
    """A new access token from the endpoint's HelseID token URL."""
    if not (endpoint.client_id and endpoint.token_url and endpoint.key_file):
        raise TokenUnavailable("HelseID needs the client id, the token URL and the key file")
    key = load_key(endpoint.key_file)
    assertion = client_assertion(client_id=endpoint.client_id, audience=issuer_of(endpoint.token_url), key=key,
                                 now=now, jti=uuid.uuid4().hex)
    form = {"grant_type": "client_credentials", "client_id": endpoint.client_id,
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    if endpoint.scope:
        form["scope"] = endpoint.scope
    try:
        response = httpx.post(endpoint.token_url, data=form, headers={"Accept": "application/json"}, timeout=timeout)
    except (httpx.HTTPError, OSError) as exc:
        raise TokenUnavailable(f"HelseID did not answer: {type(exc).__name__}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or "access_token" not in body:
        said = ": ".join(str(body[k]) for k in ("error", "error_description") if body.get(k)) or response.text[:200]
        raise TokenUnavailable(f"HelseID gave no token (HTTP {response.status_code}): {said}")
    lifetime = timedelta(seconds=int(body.get("expires_in") or 60))
    return Token(body["access_token"], now + max(lifetime - RENEW_BEFORE, lifetime / 2))
