"""The web crawl op: crawl a web source's site, politely and safely, into page results.

The crawl itself lives in :mod:`sync_pipelines.web` (no Dagster import); this op loads the
source, hands the crawler the state the previous sync left (ETags, Last-Modified and links, for
conditional GETs), reports progress while it runs, and refuses to go on when robots.txt or the
starting page itself cannot be read, so a site that is down never empties its collection
(:mod:`sync_pipelines.core.deletion_policy`).
"""

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from sync_pipelines.catalog.web_pages import WebPageState
from sync_pipelines.core.deletion_policy import TransientSourceError
from sync_pipelines.core.git_sync import stored_versions
from sync_pipelines.core.shards import split_shards
from sync_pipelines.core.writer import iter_metadatas
from sync_pipelines.ops.documents import SyncTarget, failure, open_target
from sync_pipelines.ops.progress import ProgressReporter
from sync_pipelines.ops.tracking import start_invocation
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.resources.web import WebCrawlerResource
from sync_pipelines.schemas import InvocationProgress, Source, to_chunking_options
from sync_pipelines.settings import get_settings

if TYPE_CHECKING:
    from sync_pipelines.web import CrawlLimits, CrawlStats, PageResult

PROGRESS_EVERY_S = 2.0


class WebSyncConfig(dg.Config):
    """Which web source to crawl, into which collection (the run config of ``sync_web_job``)."""

    source_id: str = Field(description="Id of a web_scrape source in the catalog.")
    target_collection: str = Field(description="Collection the pages are synced into.")


@dataclass(frozen=True)
class WebCrawl:
    """A finished crawl and the state it ran against.

    Attributes:
        target: Destination and chunking settings.
        source_id: The web source.
        start_url: The source's starting URL (used in errors).
        pages: One result per page the crawl settled.
        known: What the previous sync of this collection recorded, by URL.
        stored: Document key to version key of what the collection holds.
    """

    target: SyncTarget
    source_id: str
    start_url: str
    pages: list["PageResult"]
    known: dict[str, WebPageState]
    stored: dict[str, str]


@dataclass(frozen=True)
class WebShard:
    """A bounded group of the pages a crawl fetched, chunked and written by one step."""

    index: int
    count: int
    target: SyncTarget
    start_url: str
    pages: list["PageResult"]


@dataclass(frozen=True)
class WebShardPlan:
    """What the finishing step of a sharded web sync needs besides the shards' results.

    Attributes:
        crawl: The crawl without its fetched pages' content (those went to the shards).
        shards: Number of shards.
    """

    crawl: WebCrawl
    shards: int


def crawl_limits(source: Source) -> "CrawlLimits":
    """Return the crawl limits of a web source, with the server's default page limit."""
    from sync_pipelines.web import CrawlLimits

    config = source.web_scrape
    assert config is not None
    return CrawlLimits(
        max_depth=config.max_depth,
        page_limit=config.page_limit or get_settings().crawl_default_page_limit,
        include_path_regexes=tuple(config.include_path_regexes or ()),
        exclude_path_regexes=tuple(config.exclude_path_regexes or ()),
    )


class _Progress:
    """Logs crawl progress and reports it to the catalog at most every few seconds."""

    def __init__(self, context: dg.OpExecutionContext, catalog: CatalogResource) -> None:
        self.context = context
        self.reporter = ProgressReporter(context, catalog, every_s=PROGRESS_EVERY_S)
        self.last = 0.0
        self.stats: CrawlStats | None = None

    def __call__(self, stats: "CrawlStats") -> None:
        self.stats = stats
        self.reporter.report(as_progress(stats))
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            self.context.log.info(describe(stats))


def as_progress(stats: "CrawlStats", chunks_written: int = 0) -> InvocationProgress:
    """The API's progress report of a crawl."""
    done = stats.fetched + stats.not_modified + stats.skipped + stats.failed + stats.gone
    return InvocationProgress(
        unit="pages",
        done=done,
        total=max(stats.found, done),
        chunks_written=chunks_written,
        skipped=stats.skipped,
        failed=stats.failed,
    )


def describe(stats: "CrawlStats") -> str:
    """One line of crawl progress."""
    return (
        f"pages found {stats.found}, fetched {stats.fetched}, not modified "
        f"{stats.not_modified}, skipped {stats.skipped}, failed {stats.failed}, "
        f"gone {stats.gone}"
    )


@dg.op(
    description=(
        "Crawl the web source breadth-first from its starting URL (same host, robots.txt, "
        "sitemap, depth/page limits, include/exclude regexes), with conditional GETs against "
        "the previous sync and the private-address guard; extract each page's main content."
    ),
    out={
        "whole": dg.Out(WebCrawl, is_required=False),
        "plan": dg.Out(WebShardPlan, is_required=False),
        "shards": dg.DynamicOut(WebShard, is_required=False),
    },
)
def crawl_web_op(
    context: dg.OpExecutionContext,
    config: WebSyncConfig,
    catalog: CatalogResource,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    web: WebCrawlerResource,
) -> Iterator[dg.Output[Any] | dg.DynamicOutput[WebShard]]:
    """Crawl one web source into page results."""
    # The crawler (lxml, trafilatura) loads here, not at import: every Dagster process imports
    # this module.
    from sync_pipelines.web import KnownPage, crawl

    if not start_invocation(context, catalog):
        return
    store = catalog.get_catalog()
    try:
        source = store.get_source(uuid.UUID(config.source_id))
    except ValueError as exc:
        raise failure(config.source_id, "source_id is not a UUID") from exc
    if source is None or source.web_scrape is None:
        raise failure(config.source_id, f"no web_scrape source {config.source_id}")
    start_url = source.web_scrape.starting_url
    target = SyncTarget(
        source_id=str(source.id),
        database_name=source.database_name,
        collection_name=config.target_collection,
        chunking=to_chunking_options(source.chunking, source.embedding_model.model),
        embedding_model=source.embedding_model.model,
    )
    collection, _, _ = open_target(target, start_url, chroma, embedder)
    stored = stored_versions(iter_metadatas(collection))
    # The crawl state is advisory: a page's validators are used only while the collection
    # still holds exactly the text they were recorded with.
    known = {
        url: state
        for url, state in store.web_pages(source.id, target.collection_name).items()
        if stored.get(url) == state.version_key or (state.version_key is None and url not in stored)
    }
    progress = _Progress(context, catalog)
    try:
        pages = list(
            crawl(
                start_url,
                crawl_limits(source),
                web.policy(),
                known={
                    url: KnownPage(url, state.etag, state.last_modified, state.links)
                    for url, state in known.items()
                },
                on_progress=progress,
            )
        )
    except TransientSourceError as exc:
        raise failure(start_url, str(exc)) from None
    if progress.stats is not None:
        context.log.info(describe(progress.stats))
        progress.reporter.report(as_progress(progress.stats), force=True)
    _check_start(start_url, pages)
    counts = {status: 0 for status in ("fetched", "not_modified", "skipped", "failed", "gone")}
    for page in pages:
        counts[page.status] += 1
        if page.status in ("failed", "skipped", "gone"):
            context.log.info(f"{page.url}: {page.status} ({page.reason})")
    summary = {
        "start_url": start_url,
        "pages": len(pages),
        **{f"pages_{k}": v for k, v in counts.items()},
    }
    crawled = WebCrawl(target, str(source.id), start_url, pages, known, stored)
    yield from _outputs(crawled, web, summary)


def _outputs(
    crawled: WebCrawl, web: WebCrawlerResource, summary: dict[str, Any]
) -> Iterator[dg.Output[Any] | dg.DynamicOutput[WebShard]]:
    """The whole crawl (fits one shard), or a plan and one shard per group of fetched pages."""
    fetched = {page.url: page for page in crawled.pages if page.status == "fetched"}
    sizes = {
        url: len(page.document or b"") + len((page.markdown or "").encode())
        for url, page in fetched.items()
    }
    groups = split_shards({url: url for url in fetched}, sizes, web.shard_limits())
    if len(groups) <= 1:
        yield dg.Output(crawled, "whole", metadata={**summary, "shards": 1})
        return
    rest = [page for page in crawled.pages if page.status != "fetched"]
    plan = replace(crawled, pages=rest)
    yield dg.Output(
        WebShardPlan(plan, len(groups)), "plan", metadata={**summary, "shards": len(groups)}
    )
    width = len(str(len(groups) - 1))
    for index, group in enumerate(groups):
        shard = WebShard(
            index, len(groups), crawled.target, crawled.start_url, [fetched[u] for u in group]
        )
        yield dg.DynamicOutput(shard, mapping_key=f"shard_{index:0{width}d}", output_name="shards")


def _check_start(start_url: str, pages: list["PageResult"]) -> None:
    """Fail the sync when the starting page could not be read, or is gone with nothing read.

    A starting page that failed (DNS, refused, timeout, 5xx, access denied) is a transient
    answer about the whole site: nothing may be removed on the strength of this crawl.
    """
    start = next((page for page in pages if page.depth == 0), None)
    if start is None:
        raise failure(start_url, "the crawl settled no page")
    if start.status == "failed":
        raise failure(start_url, start.reason or start.status)
    read = any(page.status in ("fetched", "not_modified") for page in pages)
    if start.status == "gone" and not read:
        raise failure(start_url, start.reason or start.status)
