"""The FHIR R4 server the patient-record tests deliver to: Medplum's FHIR engine behind
tools/fhir-server/server.mjs, installed by scripts/ensure-fhir-server.sh (docs/epj.md).

When it is not installed the tests skip with a message, except when RESPONS_REQUIRE_FHIR=1
(set by .ci/run, which installs it): then they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from respons.demo.epj import NODE, SERVER, available, start_tool

REQUIRE_FHIR = os.environ.get("RESPONS_REQUIRE_FHIR") == "1"


class FhirServer:
    """One server process on ``port``; ``stop`` and ``start`` again is an EPJ that was down
    (and, its data being in memory, comes back empty)."""

    def __init__(self, port: int, log_path: Path, *, issuer: str | None = None):
        self.port, self._log_path = port, log_path
        self.base_url = f"http://127.0.0.1:{port}/fhir"
        self._arguments = ["--port", str(port), *(["--issuer", issuer] if issuer else [])]
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "FhirServer":
        self._process = start_tool("server.mjs", self._arguments, ready_url=f"{self.base_url}/metadata",
                                   log_file=self._log_path, timeout=timeout)
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def search(self, resource_type: str, **params: str) -> list[dict]:
        response = httpx.get(f"{self.base_url}/{resource_type}", params=params, timeout=10)
        response.raise_for_status()
        return [entry["resource"] for entry in response.json().get("entry", [])]


def require_fhir_server() -> None:
    """Skip the test when the FHIR server is not installed, or fail it where it must be (CI)."""
    if not available():
        problem = "the FHIR server is not installed (bash scripts/ensure-fhir-server.sh)"
        if REQUIRE_FHIR:
            pytest.fail(problem + " (RESPONS_REQUIRE_FHIR=1)")
        pytest.skip(problem)


def fhir_server_or_skip(port: int, log_path: Path, *, issuer: str | None = None) -> FhirServer:
    require_fhir_server()
    return FhirServer(port, log_path, issuer=issuer)


class TokenServer:
    """HelseID's stand-in (tools/fhir-server/token-server.mjs, oidc-provider): one client that
    authenticates with a signed JWT, access tokens for ``audience``."""

    def __init__(self, port: int, log_path: Path, *, client_id: str, jwks_file: Path, audience: str, ttl: int = 300):
        self.issuer = f"http://127.0.0.1:{port}"
        self.token_url = f"{self.issuer}/token"
        self._log_path = log_path
        self._arguments = ["--port", str(port), "--client-id", client_id, "--jwks", str(jwks_file),
                           "--audience", audience, "--ttl", str(ttl)]
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "TokenServer":
        self._process = start_tool("token-server.mjs", self._arguments, log_file=self._log_path, timeout=timeout,
                                   ready_url=f"{self.issuer}/.well-known/openid-configuration")
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)


def jwk_thumbprint_by_jose(public_jwk: dict) -> str:
    """RFC 7638 thumbprint of ``public_jwk`` as the jose library computes it (a second opinion)."""
    script = ("import { calculateJwkThumbprint } from 'jose'; "
              "process.stdout.write(await calculateJwkThumbprint(JSON.parse(process.argv[1])));")
    return subprocess.run([str(NODE), "--input-type=module", "-e", script, json.dumps(public_jwk)], cwd=SERVER.parent,
                          capture_output=True, text=True, check=True).stdout
