#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser test of the Dagster UI (Playwright
# drives /usr/bin/chromium; it never downloads a browser of its own). Without recommends: a
# headless browser needs none of the desktop services they pull in.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium (without recommends) for the browser test"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
    >/dev/null 2>&1
fi
# The binary itself: Debian's /usr/bin/chromium wrapper prints a shell error on some machines.
/usr/lib/chromium/chromium --version 2>/dev/null || /usr/bin/chromium --version 2>/dev/null
