"""A live stack for end-to-end tests: Dagster daemon + webserver, and the HTTP API on it.

Used by the API end-to-end tests and the Dagster UI browser test; ``Api`` is their
spec-checked HTTP client.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from api_bridge.app import create_app
from sync_pipelines.catalog import Catalog
from sync_pipelines.devtools.chroma_server import ChromaServer
from sync_pipelines.devtools.dagster_stack import DagsterStack
from sync_pipelines.resources.chroma import reset_client_cache
from sync_pipelines.settings import Settings, get_settings
from tests.test_api_bridge.conftest import check_response, live_server

TERMINAL = {"complete", "failed", "cancelled"}
#: The direct launch's head start over the invocation sensor: long enough for a loaded
#: machine's GraphQL launch, so the sensor never launches a second run of the same invocation.
LAUNCH_GRACE_S = "8"


def word(status: Any) -> str:
    """The status word of a Job ``status`` (a string, or a one-key object)."""
    return status if isinstance(status, str) else next(iter(status))


class SpecClient:
    """An HTTP client of a live API whose every answer is checked against the spec."""

    def __init__(self, base: str, token: str) -> None:
        """Talk to the API at ``base`` with ``token``."""
        self.base = base
        self.session = requests.Session()
        self.session.headers["x-chroma-token"] = token

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request and check the answer against the spec."""
        response = self.session.request(method, self.base + path, timeout=30, **kwargs)
        check_response(method, path, response.status_code, response.content)
        return response


class Api(SpecClient):
    """The end-to-end tests' client: S3 invocations by object key, and waiting for them."""

    def invoke(self, source_id: str, key: str) -> str:
        response = self.call(
            "POST", f"/api/v1/sources/{source_id}/invocations", json={"object_key": key}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["invocation_id"])

    def status(self, invocation_id: str) -> Any:
        response = self.call("GET", f"/api/v1/invocations/{invocation_id}")
        assert response.status_code == 200
        return response.json()["status"]

    def wait(self, invocation_id: str, timeout: float = 120) -> list[Any]:
        seen: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(invocation_id)
            if not seen or word(seen[-1]) != word(status):
                seen.append(status)
            if word(status) in TERMINAL:
                return seen
            time.sleep(0.25)
        raise AssertionError(f"invocation {invocation_id} still {seen[-1]!r}")


@contextmanager
def running_stack(home: Path, timeout: float = 120) -> Iterator[DagsterStack]:
    """dagster-daemon + dagster-webserver on ``home``, yielded once the webserver answers.

    The daemon knows the API launches runs directly (``CHROMA_SYNC_DAGSTER_URL``), so its
    invocation sensor leaves new invocations to it for the grace period and must recognise
    the directly launched runs as its own.
    """
    env = {
        "CHROMA_SYNC_HOME": str(home / "home"),
        "CHROMA_SYNC_LAUNCH_GRACE_SECONDS": LAUNCH_GRACE_S,
    }
    # The store's one owner: run workers and the test process reach it through this server.
    chroma = ChromaServer(home / "home" / "chroma").start()
    dagster = DagsterStack(home / "dagster", env=env, webserver=True)
    dagster.env["CHROMA_SYNC_DAGSTER_URL"] = dagster.webserver_url or ""
    dagster.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{dagster.webserver_url}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the Dagster webserver did not start"
            time.sleep(0.5)
        yield dagster
    finally:
        dagster.stop()
        chroma.stop()


@contextmanager
def live_api(
    stack: DagsterStack, home: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Api, Settings]]:
    """The HTTP API (uvicorn on 127.0.0.1) on the stack's home, with an admin token."""
    monkeypatch.setenv("CHROMA_SYNC_HOME", str(home / "home"))
    monkeypatch.setenv("CHROMA_SYNC_DAGSTER_URL", stack.webserver_url or "")
    monkeypatch.setenv("DAGSTER_HOME", str(stack.dagster_home))
    get_settings.cache_clear()
    settings = Settings()
    app = create_app(settings, orchestrator_probe=lambda: True)
    _, token = Catalog(settings.resolved_catalog_url).create_token(database, admin=True)
    with live_server(app) as base:
        yield Api(base, token), settings
    reset_client_cache()
