"""The patched Sync API spec (the contract), loaded once from the package data."""

import copy
import json
from importlib import resources
from typing import Any


def load_spec() -> dict[str, Any]:
    """Return a fresh copy of ``sync_pipelines/spec/sync.openapi.patched.json``."""
    text = resources.files("sync_pipelines").joinpath("spec/sync.openapi.patched.json")
    spec: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return spec


SPEC: dict[str, Any] = load_spec()
"""The contract, shared read-only."""

ADD_FILE_OPENAPI: dict[str, Any] = {
    key: copy.deepcopy(SPEC["paths"]["/api/v1/add-file"]["post"][key])
    for key in ("parameters", "requestBody", "description")
}
"""The multipart request of add-file as the spec gives it (FastAPI cannot infer it)."""
