#!/usr/bin/env bash
# Make sure SIPp (Debian's sip-tester) is installed: the SCAIP receiver is tested against it
# as an independent SIP peer. Used by CI; on a developer machine without sipp the SIPp test
# skips with a message instead (RESPONS_REQUIRE_SIPP=1 turns that into a failure).
set -euo pipefail

if command -v sipp >/dev/null 2>&1; then
  echo "SIPp: $(command -v sipp)"
  exit 0
fi

echo "Installing SIPp (sip-tester) from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q sip-tester
echo "SIPp: $(command -v sipp)"
