"""Delivery and the care-plan read through HelseID's client credentials with a signed JWT:
against a real OpenID provider (oidc-provider, as HelseID's stand-in) and a FHIR server that
lets nobody in without its token, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from respons.epj import endpoints
from respons.epj.care import CareReader
from respons.store.db import write_transaction
from respons.store.tables import epj_delivery_faults, epj_documents
from tests.chaos.server import free_port
from tests.factories import T0, FakeClock, drain_deliveries as drain
from tests.fhir_server import TokenServer, fhir_server_or_skip, jwk_thumbprint_by_jose

CLIENT = "respons-test-4204"


@pytest.fixture
def helseid_epj(tmp_path):
    """A token service whose one client's public key is the first of two keys, and an EPJ that
    takes only its tokens. Returns (token service, EPJ, registered key file, unknown key file)."""
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]
    files = []
    for n, key in enumerate(keys):
        path = tmp_path / f"key{n}.pem"
        path.write_text(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode())
        files.append(str(path))
    public = json.loads(RSAAlgorithm.to_jwk(keys[0].public_key()))
    # Registered under the kid jose computes: Respons's own thumbprint of the PEM key must agree.
    epj_port, token_port = free_port(), free_port()
    epj = fhir_server_or_skip(epj_port, tmp_path / "fhir.log", issuer=f"http://127.0.0.1:{token_port}")
    public["kid"] = jwk_thumbprint_by_jose(public)
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [public]}))
    tokens = TokenServer(token_port, tmp_path / "token.log", client_id=CLIENT, jwks_file=tmp_path / "jwks.json",
                         audience=epj.base_url).start()
    epj.start()
    yield tokens, epj, files[0], files[1]
    epj.stop()
    tokens.stop()


def use_helseid(engine, municipality: int, base_url: str, token_url: str, key_file: str) -> None:
    with write_transaction(engine) as conn:
        endpoints.set_endpoint(conn, municipality, base_url=base_url, auth="helseid", client_id=CLIENT,
                               token_url=token_url, key_file=key_file, scope="vkp/epj", now=T0, actor="test")


def test_documents_are_delivered_with_a_helseid_token_and_refused_without_one(
        engine, journal, world, registry, helseid_epj, make_worker):
    tokens, epj, key_file, _ = helseid_epj
    world(2)  # the centre's endpoint is replaced below: same municipality, now behind HelseID
    use_helseid(engine, registry.municipality_ids[0], epj.base_url, tokens.token_url, key_file)
    # The assertion is checked against the token service's own clock: real time here.
    drain(make_worker(FakeClock(datetime.now(UTC))))
    with engine.connect() as conn:
        assert [r.state for r in conn.execute(select(epj_documents.c.state))] == ["delivered", "delivered"]
        assert conn.execute(select(epj_delivery_faults)).first() is None

    anonymous = httpx.get(f"{epj.base_url}/DetectedIssue", timeout=10)
    assert anonymous.status_code == 401, "the EPJ lets nobody in without the token"


def test_a_key_helseid_does_not_know_gets_no_token_and_the_documents_wait_saying_why(
        engine, journal, world, registry, helseid_epj, make_worker):
    tokens, epj, _, unknown_key = helseid_epj
    world(1)
    use_helseid(engine, registry.municipality_ids[0], epj.base_url, tokens.token_url, unknown_key)
    drain(make_worker(FakeClock(datetime.now(UTC))))
    with engine.connect() as conn:
        row = conn.execute(select(epj_documents)).one()
        fault = conn.execute(select(epj_delivery_faults)).one()
    assert (row.state, row.attempts) == ("waiting", 1)
    assert row.last_error.startswith("HelseID gave no token (HTTP 401)") and "invalid_client" in row.last_error
    assert fault.failures == 1, "a municipality whose HelseID refuses Respons is failing"


def test_the_care_plan_is_read_with_the_same_token(engine, registry, helseid_epj):
    tokens, epj, key_file, _ = helseid_epj
    use_helseid(engine, registry.municipality_ids[0], epj.base_url, tokens.token_url, key_file)
    with engine.connect() as conn:
        endpoint = endpoints.endpoints_for(conn, {registry.municipality_ids[0]})[registry.municipality_ids[0]]
    view = CareReader().read(endpoint, "01818012345", now=datetime.now(UTC))
    assert view.reachable and view.known_patient is False, view.error
