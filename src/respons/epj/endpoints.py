"""Where each municipality's EPJ receives documents, and how Respons authenticates there.
This module owns ``epj_endpoints`` (docs/epj.md, "Configuration per municipality")."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

import httpx
from sqlalchemy import Connection, delete, insert, select

from respons.auth import audit
from respons.store.tables import epj_endpoints

# none: a test server only; mtls: a client certificate; helseid: an access token from HelseID by
# client credentials with a signed JWT client assertion (epj/helseid.py); ``key_file`` is then
# the client's signing key (JWK or PEM).
AUTH_METHODS = ("none", "mtls", "helseid")


class BadEndpoint(ValueError):
    pass


@dataclass(frozen=True)
class Endpoint:
    municipality_id: int
    base_url: str
    auth: str
    key_file: str | None = None
    cert_file: str | None = None
    ca_file: str | None = None
    enabled: bool = True
    client_id: str | None = None  # HelseID
    token_url: str | None = None
    scope: str | None = None


def set_endpoint(conn: Connection, municipality_id: int, *, base_url: str, auth: str, now: datetime, actor: str,
                 key_file: str | None = None, cert_file: str | None = None, ca_file: str | None = None,
                 enabled: bool = True, client_id: str | None = None, token_url: str | None = None,
                 scope: str | None = None) -> Endpoint:
    """Where the municipality's EPJ receives documents (replacing what was there); audited."""
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise BadEndpoint(f"The FHIR base URL must be http(s)://host/…, not {base_url!r}.")
    if auth not in AUTH_METHODS:
        raise BadEndpoint(f"Unknown authentication {auth!r}; known: {', '.join(AUTH_METHODS)}.")
    if auth == "mtls" and not (key_file and cert_file):
        raise BadEndpoint("Mutual TLS needs the client's certificate and key files.")
    if auth == "helseid":
        if not (client_id and token_url and key_file):
            raise BadEndpoint("HelseID needs the client id, the token URL and the client's key file (JWK or PEM).")
        token = urlparse(token_url)
        if token.scheme not in ("http", "https") or not token.netloc:
            raise BadEndpoint(f"The HelseID token URL must be http(s)://host/…, not {token_url!r}.")
    else:
        client_id = token_url = scope = None
    endpoint = Endpoint(municipality_id, base_url.rstrip("/"), auth, key_file, cert_file, ca_file, enabled,
                        client_id, token_url, scope)
    conn.execute(delete(epj_endpoints).where(epj_endpoints.c.municipality_id == municipality_id))
    conn.execute(insert(epj_endpoints).values(municipality_id=municipality_id, base_url=endpoint.base_url, auth=auth,
                                              key_file=key_file, cert_file=cert_file, ca_file=ca_file, enabled=enabled,
                                              client_id=client_id, token_url=token_url, scope=scope, updated_at=now))
    audit.append(conn, now=now, actor=actor, action=audit.UPDATE, municipality_id=municipality_id,
                 details={"entity": "epj_endpoint", "base_url": endpoint.base_url, "auth": auth, "enabled": enabled,
                          **({"client_id": client_id, "token_url": token_url} if auth == "helseid" else {})})
    return endpoint


def endpoints_for(conn: Connection, municipality_ids: set[int]) -> dict[int, Endpoint]:
    rows = conn.execute(select(epj_endpoints).where(epj_endpoints.c.municipality_id.in_(municipality_ids)))
    return {r.municipality_id: Endpoint(r.municipality_id, r.base_url, r.auth, r.key_file, r.cert_file, r.ca_file,
                                        r.enabled, r.client_id, r.token_url, r.scope) for r in rows}


def tls_context(endpoint: Endpoint) -> ssl.SSLContext:
    """The TLS an endpoint is reached with (delivery and the card's reads alike): its CA file or
    folder, else what httpx trusts by default (certifi's bundle, or SSL_CERT_FILE /
    SSL_CERT_DIR where the host sets them), and for mutual TLS the client's certificate and
    key. Reads the files now: OSError (ssl.SSLError among them) if one cannot be used."""
    if endpoint.ca_file and os.path.isdir(endpoint.ca_file):
        context = ssl.create_default_context(capath=endpoint.ca_file)
    elif endpoint.ca_file:
        context = ssl.create_default_context(cafile=endpoint.ca_file)
    else:
        context = httpx.create_ssl_context(verify=True, trust_env=True)
    if endpoint.auth == "mtls":
        context.load_cert_chain(endpoint.cert_file, endpoint.key_file)
    return context


def tls_files(endpoint: Endpoint) -> str:
    """The files ``tls_context`` reads, for an error an administrator can act on."""
    files = (endpoint.cert_file, endpoint.key_file) if endpoint.auth == "mtls" else ()
    return ", ".join(name for name in (*files, endpoint.ca_file) if name)
