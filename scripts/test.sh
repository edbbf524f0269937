#!/usr/bin/env bash
# The whole test suite: setup, lint and type checks, then pytest against real services
# (SeaweedFS S3 started by the tests, PostgreSQL on 127.0.0.1:5432, embedded Chroma, Debian's
# Chromium for the Dagster UI browser test, screenshots in artifacts/ui/; LibreOffice for the
# office documents the document tests make; RabbitMQ and Redis for the Celery deployment test).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/ensure_postgres.sh
bash scripts/ensure_brokers.sh
bash scripts/ensure_chromium.sh
bash scripts/install_libreoffice.sh
export CHROMA_SYNC_REQUIRE_PG=1
export CHROMA_SYNC_REQUIRE_UI=1
.venv/bin/ruff check sync_pipelines sensors api_bridge tests bench scripts
.venv/bin/ruff format --check sync_pipelines sensors api_bridge tests bench scripts
.venv/bin/mypy
.venv/bin/pytest --durations=15 "$@"
