#!/usr/bin/env bash
# Make sure the voice components are installed (docs/voice.md): the media gateway (Janus,
# with its SIP plugin) and baresip, the simulated alarm unit. Used by CI and `make demo`; on
# a developer machine without them the voice tests skip with a message instead
# (RESPONS_REQUIRE_VOICE=1 turns that into a failure) and the console says "Tale utilgjengelig".
set -euo pipefail

missing=()
command -v janus >/dev/null 2>&1 || missing+=(janus)
command -v baresip >/dev/null 2>&1 || missing+=(baresip-core)
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)

if [ ${#missing[@]} -eq 0 ]; then
  echo "Voice: $(command -v janus), $(command -v baresip)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "Voice: ${missing[*]} missing and not root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "Voice: $(command -v janus), $(command -v baresip)"
