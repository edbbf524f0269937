#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser test of the Dagster UI (Playwright
# drives /usr/bin/chromium; it never downloads a browser of its own).
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version
