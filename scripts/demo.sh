#!/usr/bin/env bash
# The newcomer's command: set everything up, start the whole stack (API, Dagster, local S3) in a
# fresh ~/.chroma-sync-demo, create a GitHub, an S3 and a web source on local servers through the
# HTTP API, sync each, print a query result per collection, and stop everything it started.
# Arguments go to `chroma-sync demo` (--home DIR, --query TEXT).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/chroma-sync demo "$@"
