"""Fixtures of the UI tests: a headless Debian chromium, a running stack and its HTTP API.

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright (no browser download). When
it (or Playwright) is missing the tests skip, unless ``CHROMA_SYNC_REQUIRE_UI=1`` (CI), which
fails them with the reason.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from sync_pipelines.devtools.dagster_stack import PROJECT_ROOT, DagsterStack
from sync_pipelines.settings import Settings
from tests.test_api_bridge.stack_helpers import Api, live_api, running_stack

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
    with running_stack(ui_home) as dagster:
        yield dagster


@pytest.fixture
def api(
    stack: DagsterStack, ui_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Api, Settings]]:
    """The HTTP API (uvicorn on 127.0.0.1) on the stack's home, with an admin token."""
    with live_api(stack, ui_home, DATABASE, monkeypatch) as api:
        yield api
