"""Fixtures of the API tests: the app on the isolated home, tokens, spec-checked clients.

Every response a test receives through ``client`` (or through ``check_response`` for real
uvicorn servers) is validated against the patched spec's schema for that operation and
status; a status the spec does not list for the operation fails the test. ``raw_client`` is
for the few deliberate answers the spec does not list (413, unknown paths).
"""

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from api_bridge.app import create_app
from sync_pipelines.catalog import Catalog
from sync_pipelines.settings import Settings

SPEC: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "sync_pipelines/spec/sync.openapi.patched.json").read_text()
)
REGISTRY: Registry = Registry().with_resource(
    "urn:spec", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
S3 = {"bucket_name": "docs", "region": "us-east-1", "collection_name": "kb1"}


def _path_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")


_ROUTES = sorted(
    ((_path_regex(path), path) for path in SPEC["paths"]),
    key=lambda item: item[1].count("{"),
)


def spec_operation(method: str, path: str) -> dict[str, Any] | None:
    """The spec operation serving ``method path`` (literal segments win over templates)."""
    for regex, template in _ROUTES:
        if regex.match(path):
            return SPEC["paths"][template].get(method.lower())  # type: ignore[no-any-return]
    return None


def check_response(method: str, path: str, status: int, body: bytes) -> None:
    """Fail unless ``status`` is listed for the operation and ``body`` matches its schema."""
    operation = spec_operation(method, path)
    assert operation is not None, f"{method} {path} is not an operation of the spec"
    listed = operation["responses"].get(str(status))
    assert listed is not None, f"{method} {path} answered {status}, not listed in the spec"
    schema = listed.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        if status == 204:
            assert body == b""
        return
    payload = json.loads(body)
    validator = Draft202012Validator(
        _rewrite_refs(schema), registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(payload)]
    assert errors == [], f"{method} {path} {status}: {errors} in {payload!r}"


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (f"urn:spec{v}" if k == "$ref" and v.startswith("#") else _rewrite_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _validate_hook(response: httpx.Response) -> None:
    response.read()
    request = response.request
    check_response(request.method, request.url.path, response.status_code, response.content)


@pytest.fixture
def settings(chroma_sync_home: Path) -> Settings:
    return Settings()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings, orchestrator_probe=lambda: True)


@pytest.fixture
def catalog(app: FastAPI) -> Catalog:
    cat: Catalog = app.state.catalog
    return cat


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        test_client.event_hooks = {"request": [], "response": [_validate_hook]}
        yield test_client


@pytest.fixture
def raw_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


TokenHeaders = Callable[..., dict[str, str]]


@pytest.fixture
def make_token(catalog: Catalog) -> TokenHeaders:
    def make(database: str = "db1", admin: bool = False) -> dict[str, str]:
        _, secret = catalog.create_token(database, admin=admin)
        return {"x-chroma-token": secret}

    return make


@pytest.fixture
def admin(make_token: TokenHeaders) -> dict[str, str]:
    return make_token("db1", admin=True)


@pytest.fixture
def member(make_token: TokenHeaders) -> dict[str, str]:
    return make_token("db1")


def create_source(client: TestClient, headers: dict[str, str], **body: Any) -> str:
    response = client.post(
        "/api/v1/sources", json={"database_name": "db1", **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(uuid.UUID(response.json()["source_id"]))


@pytest.fixture
def s3_source(client: TestClient, admin: dict[str, str]) -> str:
    return create_source(client, admin, s3={**S3, "path_prefix": "docs/"})


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
