"""Fixtures of the UI tests: a headless Debian chromium, a running stack and its HTTP API.

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright (no browser download). When
it (or Playwright) is missing the tests skip, unless ``CHROMA_SYNC_REQUIRE_UI=1`` (CI), which
fails them with the reason.
"""

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest
import requests

from api_bridge.app import create_app
from sync_pipelines.catalog import Catalog
from sync_pipelines.devtools.dagster_stack import PROJECT_ROOT, DagsterStack
from sync_pipelines.resources.chroma import reset_client_cache
from sync_pipelines.settings import Settings, get_settings
from tests.test_api_bridge.conftest import live_server
from tests.test_api_bridge.test_dagster_e2e import Api

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path(os.environ.get("CHROMA_SYNC_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_UI = os.environ.get("CHROMA_SYNC_REQUIRE_UI") == "1"
DATABASE = "ui_db"


def _unavailable(reason: str) -> NoReturn:
    if REQUIRE_UI:
        pytest.fail(f"UI test required (CHROMA_SYNC_REQUIRE_UI=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator["Browser"]:
    """A headless chromium from ``/usr/bin/chromium`` (``CHROMA_SYNC_CHROMIUM`` overrides)."""
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def artifacts_dir() -> Path:
    """Where screenshots go: ``CHROMA_SYNC_ARTIFACTS_DIR`` or ``<repo>/artifacts/ui``."""
    folder = Path(os.environ.get("CHROMA_SYNC_ARTIFACTS_DIR") or PROJECT_ROOT / "artifacts/ui")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def ui_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui")


@pytest.fixture(scope="module")
def stack(browser: "Browser", ui_home: Path) -> Iterator[DagsterStack]:
    """dagster-daemon + dagster-webserver on the embedded defaults, webserver answering."""
    env = {"CHROMA_SYNC_HOME": str(ui_home / "home"), "CHROMA_SYNC_LAUNCH_GRACE_SECONDS": "8"}
    dagster = DagsterStack(ui_home / "dagster", env=env, webserver=True)
    dagster.env["CHROMA_SYNC_DAGSTER_URL"] = dagster.webserver_url or ""
    dagster.start()
    try:
        deadline = time.monotonic() + 120
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


@pytest.fixture
def api(
    stack: DagsterStack, ui_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Api, Settings]]:
    """The HTTP API (uvicorn on 127.0.0.1) on the stack's home, with an admin token."""
    monkeypatch.setenv("CHROMA_SYNC_HOME", str(ui_home / "home"))
    monkeypatch.setenv("CHROMA_SYNC_DAGSTER_URL", stack.webserver_url or "")
    monkeypatch.setenv("DAGSTER_HOME", str(stack.dagster_home))
    get_settings.cache_clear()
    settings = Settings()
    app = create_app(settings, orchestrator_probe=lambda: True)
    _, token = Catalog(settings.resolved_catalog_url).create_token(DATABASE, admin=True)
    with live_server(app) as base:
        yield Api(base, token), settings
    reset_client_cache()
