#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (Playwright drives it via
# executable_path; `playwright install` cannot download browsers here). Used by CI; on a
# developer machine without Chromium the browser tests skip with a message instead.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "Chromium: $(chromium --version 2>/dev/null || echo installed)"
  exit 0
fi

echo "Installing Chromium from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# fonts-dejavu-core: the console's font, so screenshots and contrast checks match.
apt-get install -y -q chromium fonts-dejavu-core
chromium --version
