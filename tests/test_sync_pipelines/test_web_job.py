"""``sync_web_job`` end to end: a real site on 127.0.0.1, embedded Chroma, a real catalog.

Contract: a full sync stores each page's main content under ids sha256(url)-i with the
standard metadata plus ``title``; a re-sync with nothing changed sends conditional GETs and
writes nothing; a changed page is re-embedded alone; a removed or no-longer-linked page loses
its chunks; a page that keeps failing keeps its chunks; a starting URL the guard refuses fails
the run naming the URL and the reason, leaving the collection as it was. After a chunker
upgrade each page is fetched unconditionally and rewritten once, then unchanged again.
"""

import hashlib
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.web_site import LocalWebSite, Page
from sync_pipelines.names import CRAWL_WEB_OP, INVOCATION_TAG, SYNC_WEB_JOB
from sync_pipelines.ops.web import WebSyncConfig
from sync_pipelines.schemas import CreateSourcePayload, IndexJobMetadata, Source
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.chunker_helpers import old_chunker
from tests.test_sync_pipelines.github_helpers import DATABASE, contents, document_keys
from tests.test_sync_pipelines.s3_helpers import failure_description

COLLECTION = "site"


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalWebSite]:
    """A small docs site: / links to three pages; the crawler may reach 127.0.0.1."""
    monkeypatch.setenv("CHROMA_SYNC_CRAWL_ALLOW_HOSTS", '["127.0.0.1"]')
    monkeypatch.setenv("CHROMA_SYNC_CRAWL_MAX_RETRIES", "1")
    get_settings.cache_clear()
    with LocalWebSite() as server:
        server.add_html("/", "Home", "<h1>Welcome</h1><p>Start here.</p>", ["/a", "/b", "/c"])
        for name in ("a", "b", "c"):
            server.add_html(
                f"/{name}",
                f"Page {name.upper()}",
                f"<h1>Page {name.upper()}</h1><p>{name * 3} explains the {name} feature.</p>",
            )
        yield server


def web_source(site: LocalWebSite, **web: Any) -> Source:
    payload = CreateSourcePayload.model_validate(
        {"database_name": DATABASE, "web_scrape": {"starting_url": site.url("/"), **web}}
    )
    return Catalog(get_settings().resolved_catalog_url).create_source(payload)


def run(source: Source, tags: dict[str, str] | None = None) -> dg.ExecuteInProcessResult:
    job = build_definitions(get_settings()).resolve_job_def(SYNC_WEB_JOB)
    config = WebSyncConfig(source_id=str(source.id), target_collection=COLLECTION)
    return job.execute_in_process(
        run_config=dg.RunConfig(ops={CRAWL_WEB_OP: config}), tags=tags, raise_on_error=False
    )


def summary(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    assert result.success, failure_description(result)
    out: dict[str, int] = result.output_for_node("upsert_web_op")
    return out


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_full_sync_stores_main_content_with_ids_and_metadata(site: LocalWebSite) -> None:
    source = web_source(site)
    metadata = IndexJobMetadata.model_validate(
        {
            "web_scrape": {"starting_url": site.url("/")},
            "database_name": DATABASE,
            "collection_name": COLLECTION,
        }
    )
    store = Catalog(get_settings().resolved_catalog_url)
    job = store.create_invocation(source.id, metadata)

    counts = summary(run(source, {INVOCATION_TAG: str(job.id)}))

    urls = {site.url("/"), site.url("/a"), site.url("/b"), site.url("/c")}
    assert document_keys(COLLECTION) == urls
    assert counts["pages_written"] == 4 and counts["pages_removed"] == 0
    chunks = contents(COLLECTION)
    page_a = {cid: v for cid, v in chunks.items() if v[1]["document_key"] == site.url("/a")}
    assert set(page_a) == {f"{sha(site.url('/a'))}-{i}" for i in range(len(page_a))}
    text, meta = page_a[f"{sha(site.url('/a'))}-0"]
    assert "aaa explains the a feature" in text
    assert "Navigation" not in text and "Footer" not in text
    assert meta["title"] == "Page A"
    assert meta["version_key"] == meta["version_key"] and len(str(meta["version_key"])) == 64
    assert meta["chunk_strategy"] in ("tree_sitter", "lines")
    done = store.get_invocation(job.id)
    assert done is not None and done.status.word == "complete"
    progress = store.get_progress(job.id)
    assert progress is not None
    assert (progress.unit, progress.done, progress.total) == ("pages", 4, 4)
    assert progress.chunks_written == counts["chunks_written"] > 0


def test_resync_with_nothing_changed_writes_nothing_and_sends_conditional_gets(
    site: LocalWebSite,
) -> None:
    source = web_source(site)
    summary(run(source))
    before = contents(COLLECTION)
    site.clear_log()

    counts = summary(run(source))

    assert counts["chunks_written"] == 0 and counts["pages_removed"] == 0
    assert counts["pages_unchanged"] == 4
    assert contents(COLLECTION) == before
    page_requests = site.requests_for("/a")
    assert page_requests and all(
        "if-none-match" in r.headers and r.status == 304 for r in page_requests
    )


def test_changed_removed_and_unlinked_pages(site: LocalWebSite) -> None:
    source = web_source(site)
    summary(run(source))
    site.add_html("/a", "Page A", "<h1>Page A</h1><p>The a feature was rewritten entirely.</p>")
    del site.pages["/b"]  # now a 404
    site.add_html("/", "Home", "<h1>Welcome</h1><p>Start here.</p>", ["/a", "/b"])  # /c unlinked

    counts = summary(run(source))

    assert document_keys(COLLECTION) == {site.url("/"), site.url("/a")}
    assert counts["pages_removed"] == 2
    texts = [doc for doc, meta in contents(COLLECTION).values() if meta["title"] == "Page A"]
    assert any("rewritten entirely" in doc for doc in texts)


def test_a_page_that_keeps_failing_keeps_its_chunks(site: LocalWebSite) -> None:
    source = web_source(site)
    summary(run(source))
    site.pages["/c"] = Page("<h1>oops</h1>", status=500)

    counts = summary(run(source))

    assert site.url("/c") in document_keys(COLLECTION)
    assert counts["pages_failed"] == 1 and counts["pages_removed"] == 0


def test_refused_starting_url_fails_naming_it_and_writes_nothing(
    site: LocalWebSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = web_source(site)
    summary(run(source))
    before = contents(COLLECTION)
    monkeypatch.delenv("CHROMA_SYNC_CRAWL_ALLOW_HOSTS")
    monkeypatch.setenv("CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS", "[]")
    get_settings.cache_clear()

    result = run(source)

    assert not result.success
    message = failure_description(result)
    assert message.startswith(site.url("/")) and "127.0.0.1" in message
    assert contents(COLLECTION) == before


def test_chunker_upgrade_refetches_and_rewrites_each_page_once(
    site: LocalWebSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = web_source(site)
    with monkeypatch.context() as patch:
        old_chunker(patch)
        summary(run(source))
    assert all("chunker_version" not in meta for _, meta in contents(COLLECTION).values())
    site.clear_log()

    counts = summary(run(source))

    # Validators of pages chunked by another version are not sent: each page is read again.
    assert all("if-none-match" not in r.headers for r in site.requests_for("/a"))
    assert counts["pages_written"] == 4 and counts["pages_unchanged"] == 0
    stored = contents(COLLECTION)
    assert counts["chunks_written"] + counts["chunks_metadata_updated"] == len(stored)
    assert {meta["chunker_version"] for _, meta in stored.values()} == {2}

    again = summary(run(source))

    assert again["pages_unchanged"] == 4 and again["pages_written"] == 0
    assert again["chunks_written"] == again["chunks_metadata_updated"] == 0
    assert contents(COLLECTION) == stored


def test_linked_office_documents_are_parsed_by_the_registry(
    site: LocalWebSite, tmp_path: Any
) -> None:
    from tests.document_corpus import SHEET, SHEET_CELL, TABLE_VALUE, write_docx, write_xlsx

    docx = write_docx(tmp_path / "report.docx", pages=1).read_bytes()
    xlsx = write_xlsx(tmp_path / "stock.xlsx").read_bytes()
    word = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    excel = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    site.pages["/files/report"] = Page(docx, word)  # no suffix: the MIME type decides
    site.pages["/files/stock.xlsx"] = Page(xlsx, excel)
    site.pages["/files/broken.docx"] = Page(b"PK\x03\x04 broken", word)
    site.add_html("/", "Home", "<p>Files.</p>", ["/files/report", "/files/stock.xlsx",
                                                  "/files/broken.docx"])  # fmt: skip
    summary(run(web_source(site)))

    chunks = contents(COLLECTION).values()
    report = [text for text, meta in chunks if meta["document_key"] == site.url("/files/report")]
    assert any(TABLE_VALUE in text and "|" in text for text in report), report
    stock = [meta for text, meta in chunks if SHEET_CELL in text]
    assert stock and stock[0]["sheet"] == SHEET
    assert site.url("/files/broken.docx") not in document_keys(COLLECTION)
