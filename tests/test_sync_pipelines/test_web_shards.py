"""The sharded path of ``sync_web_job``: a real site on 127.0.0.1, in process.

Contract: when a crawl fetched more pages than ``CHROMA_SYNC_SHARD_MAX_FILES``, its fetched
pages are chunked and written by one step per shard and a finish step removes gone pages and
saves the crawl state; the collection and the saved crawl state then equal what the one-step
path leaves, on a first sync and on a re-sync where pages changed, one became a 404, one
unparseable document keeps its chunks, and the rest answered 304.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.web_site import LocalWebSite, Page
from sync_pipelines.names import CRAWL_WEB_OP, SYNC_WEB_JOB
from sync_pipelines.ops.web import WebSyncConfig
from sync_pipelines.schemas import CreateSourcePayload, Source
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.github_helpers import DATABASE, contents
from tests.test_sync_pipelines.s3_helpers import failure_description

PAGES = [f"/p{i:02d}" for i in range(12)]


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalWebSite]:
    monkeypatch.setenv("CHROMA_SYNC_CRAWL_MAX_RETRIES", "1")
    get_settings.cache_clear()
    with LocalWebSite() as server:
        server.add_html("/", "Home", "<h1>Welcome</h1><p>Start here.</p>", [*PAGES, "/report.pdf"])
        for path in PAGES:
            server.add_html(
                path, f"Page {path}", f"<h1>Topic {path}</h1><p>{path} explains a feature.</p>"
            )
        yield server


def run(
    source: Source, collection: str, shard_pages: int, monkeypatch: pytest.MonkeyPatch
) -> dg.ExecuteInProcessResult:
    monkeypatch.setenv("CHROMA_SYNC_SHARD_MAX_FILES", str(shard_pages))
    get_settings.cache_clear()
    job = build_definitions(get_settings()).resolve_job_def(SYNC_WEB_JOB)
    config = WebSyncConfig(source_id=str(source.id), target_collection=collection)
    result = job.execute_in_process(
        run_config=dg.RunConfig(ops={CRAWL_WEB_OP: config}), raise_on_error=False
    )
    assert result.success, failure_description(result)
    return result


def shard_steps(result: dg.ExecuteInProcessResult) -> int:
    return sum(
        1
        for e in result.all_events
        if e.event_type_value == "STEP_SUCCESS"
        and (e.step_key or "").startswith("sync_web_shard_op[")
    )


def crawl_state(source: Source, collection: str) -> dict[str, Any]:
    pages = Catalog(get_settings().resolved_catalog_url).web_pages(source.id, collection)
    return {url: (s.etag, s.last_modified, s.version_key, s.title) for url, s in pages.items()}


def test_a_sharded_web_sync_equals_the_one_step_sync(
    site: LocalWebSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.add_pdf("/report.pdf", ["Quarterly report", "Revenue grew in every region."])
    source = Catalog(get_settings().resolved_catalog_url).create_source(
        CreateSourcePayload.model_validate(
            {"database_name": DATABASE, "web_scrape": {"starting_url": site.url("/")}}
        )
    )
    one = run(source, "one", 1000, monkeypatch)
    sharded = run(source, "sharded", 4, monkeypatch)

    assert shard_steps(one) == 0 and shard_steps(sharded) == 4  # 14 pages, 4 per shard
    assert sharded.output_for_node("finish_web_op")["pages_written"] == 14
    assert contents("sharded") == contents("one") != {}
    assert crawl_state(source, "sharded") == crawl_state(source, "one") != {}

    for path in PAGES[:3]:
        site.add_html(path, f"Page {path}", f"<h1>Topic {path}</h1><p>{path} was rewritten.</p>")
    del site.pages[PAGES[3]]  # now a 404
    site.pages["/report.pdf"] = Page(b"%PDF-1.7 truncated", "application/pdf")  # unparseable
    one = run(source, "one", 1000, monkeypatch)
    sharded = run(source, "sharded", 2, monkeypatch)

    assert shard_steps(sharded) == 2  # three rewritten pages and the broken PDF, two per shard
    done = sharded.output_for_node("finish_web_op")
    assert (done["pages_written"], done["pages_removed"], done["pages_failed"]) == (3, 1, 1)
    assert done == one.output_for_node("upsert_web_op")
    assert contents("sharded") == contents("one")
    assert any("rewritten" in doc for doc, _ in contents("sharded").values())
    assert crawl_state(source, "sharded") == crawl_state(source, "one")
