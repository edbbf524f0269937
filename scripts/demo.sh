#!/usr/bin/env bash
# The newcomer's command: set everything up, start a local S3 server, sync a few objects into
# the embedded Chroma through the Dagster S3 job, and print a query result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/chroma-sync demo "$@"
