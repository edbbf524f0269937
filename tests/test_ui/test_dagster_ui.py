"""Browser test of the Dagster UI of a running stack (Debian chromium driven by Playwright).

Contract: the UI of the chroma-sync code location lists the S3, GitHub and web jobs and the
invocation, git-branch and S3 auto-sync sensors; the run that processed an invocation created
over HTTP (found through the invocation's ``run_id`` in the catalog, whichever S3 job ran it)
shows the invocation's tags and its step output metadata. Screenshots of the jobs list, the
sensors list, the run page and its tags are saved into ``CHROMA_SYNC_ARTIFACTS_DIR``.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync_pipelines.catalog import Catalog
from sync_pipelines.devtools.dagster_stack import DagsterStack
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.names import (
    DATABASE_TAG,
    INVOCATION_SENSOR,
    INVOCATION_TAG,
    SOURCE_TAG,
    SYNC_GITHUB_JOB,
    SYNC_S3_OBJECT_JOB,
    SYNC_WEB_JOB,
)
from sync_pipelines.settings import Settings
from tests.test_api_bridge.stack_helpers import Api, word
from tests.test_ui.conftest import DATABASE

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

UI_TIMEOUT_MS = 30_000
SPINNER_WAIT_MS = 5_000
JOBS = [SYNC_S3_OBJECT_JOB, SYNC_GITHUB_JOB, SYNC_WEB_JOB]
SENSORS = [INVOCATION_SENSOR, "git_branch_sensor", "s3_auto_sync_sensor"]


@contextmanager
def shot(page: "Page", folder: Path, name: str) -> Iterator[None]:
    """Screenshot ``page`` into ``folder`` after the block (``<name>-failed.png`` on failure)."""
    try:
        yield
    except BaseException:
        page.screenshot(path=folder / f"{name}-failed.png", animations="disabled")
        raise
    path = folder / f"{name}.png"
    page.screenshot(path=path, animations="disabled")
    print(f"screenshot: {path}")


def expect_text(scope: "Page | Locator", text: str) -> None:
    """Wait until an element whose whole text is ``text`` is visible in ``scope``."""
    from playwright.sync_api import expect

    expect(scope.get_by_text(text, exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)


def expect_loaded(page: "Page") -> None:
    """Give loading spinners a few seconds to go, so screenshots show the loaded state.

    Not an assertion: a sensor tick in progress keeps a spinner on the automation page.
    """
    from playwright.sync_api import expect

    with suppress(AssertionError):
        expect(page.get_by_role("progressbar")).to_have_count(0, timeout=SPINNER_WAIT_MS)


def expect_metadata(page: "Page", key: str, value: str) -> None:
    """Wait until an event's metadata table shows ``key`` with ``value``."""
    from playwright.sync_api import expect

    row = page.locator("tr").filter(has=page.get_by_text(key, exact=True)).first
    expect(row.locator("td").nth(1)).to_have_text(value, timeout=UI_TIMEOUT_MS)


def start_invocation(api: Api, s3: LocalS3Server, s3_client: Any, bucket: str) -> tuple[str, str]:
    """Create an S3 source and one invocation of it over HTTP; return (source, invocation)."""
    s3_client.put_object(
        Bucket=bucket, Key="faq.md", Body=b"# Refunds\n\nRefunds are issued within 14 days.\n"
    )
    body = s3.source_body(DATABASE, bucket, f"kb-{bucket}")
    response = api.call("POST", "/api/v1/sources", json=body)
    assert response.status_code == 201, response.text
    source_id = str(response.json()["source_id"])
    return source_id, api.invoke(source_id, "faq.md")


def test_ui_lists_definitions_and_shows_an_invocation_run(
    browser: "Browser",
    stack: DagsterStack,
    api: tuple[Api, Settings],
    s3_server: LocalS3Server,
    s3_client: Any,
    bucket: str,
    artifacts_dir: Path,
) -> None:
    client, settings = api
    source_id, invocation_id = start_invocation(client, s3_server, s3_client, bucket)
    base = stack.webserver_url
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(UI_TIMEOUT_MS)

    # The definitions pages need no finished run: browse them while the invocation runs.
    page.goto(f"{base}/jobs")
    with shot(page, artifacts_dir, "dagster-jobs"):
        for job in JOBS:
            expect_text(page, job)
        expect_loaded(page)

    page.goto(f"{base}/automation")
    with shot(page, artifacts_dir, "dagster-sensors"):
        for sensor in SENSORS:
            expect_text(page, sensor)
        expect_text(page, "Standard sensor")
        expect_loaded(page)

    seen = client.wait(invocation_id)
    assert word(seen[-1]) == "complete", seen
    record = Catalog(settings.resolved_catalog_url).get_invocation_record(uuid.UUID(invocation_id))
    assert record is not None and record.run_id, record

    page.goto(f"{base}/runs/{record.run_id}")
    with shot(page, artifacts_dir, "dagster-run"):
        expect_text(page, record.run_id[:8])
        expect_text(page, "Success")
        log_filter = page.get_by_placeholder("Filter…")
        log_filter.fill("type:STEP_OUTPUT")
        log_filter.press("Enter")
        expect_metadata(page, "chunks_written", "1")
        expect_metadata(page, "chunks_deleted", "0")

    page.get_by_role("button", name="View tags and config").click()
    with shot(page, artifacts_dir, "dagster-run-tags"):
        dialog = page.get_by_role("dialog")
        expect_text(dialog, f"{INVOCATION_TAG}: {invocation_id}")
        expect_text(dialog, f"{SOURCE_TAG}: {source_id}")
        expect_text(dialog, f"{DATABASE_TAG}: {DATABASE}")
    page.close()
