"""The web chunk and upsert ops: chunk fetched pages, then bring the collection in step.

Pages are written in groups through ``sync_documents`` (one embedding call per group; a page
whose extracted text is unchanged is neither re-embedded nor rewritten); pages the crawl no
longer reaches, or that are gone, lose their chunks (:mod:`sync_pipelines.core.web_sync` says
which); the crawl state for conditional GETs is saved last, so a failed write is simply redone
by the next sync.
"""

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

from sync_pipelines.catalog.web_pages import WebPageState
from sync_pipelines.core.batch_writer import DocumentWrite
from sync_pipelines.core.records import ChunkRecord, build_records
from sync_pipelines.core.types import ChunkingOptions, ParsedDocument
from sync_pipelines.core.web_sync import pages_to_remove, text_version
from sync_pipelines.ops.documents import NETWORK_RETRY, SyncTarget, open_target
from sync_pipelines.ops.progress import ProgressReporter
from sync_pipelines.ops.tracking import finish_invocation
from sync_pipelines.ops.web import WebCrawl
from sync_pipelines.ops.writes import WriteTotals, apply_writes
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.schemas import InvocationProgress

if TYPE_CHECKING:
    from sync_pipelines.web import PageResult


@dataclass(frozen=True)
class WebPageChunks:
    """One fetched page's chunk records and the state to remember for it."""

    state: WebPageState
    records: list[ChunkRecord]


@dataclass(frozen=True)
class WebChunks:
    """Everything the upsert op writes, keeps and removes.

    Attributes:
        target: Destination.
        source_id: The web source.
        start_url: Used in errors.
        pages: Chunked pages, one per fetched page that parsed.
        settled: URL to crawl status for every settled page (parse failures are ``failed``).
        kept: State of pages kept as they are (304 or failed), to carry over.
        known: The previous crawl state, by URL.
        stored: Document key to version key of what the collection held before the sync.
    """

    target: SyncTarget
    source_id: str
    start_url: str
    pages: list[WebPageChunks]
    settled: dict[str, str]
    kept: list[WebPageState]
    known: dict[str, WebPageState]
    stored: dict[str, str]


def _document(page: "PageResult") -> ParsedDocument:
    """The page to chunk: extracted markdown, or a linked document parsed by its type."""
    from sync_pipelines.core.parsing import parse_object

    if page.document is not None:
        return parse_object(page.url, page.document, page.content_type)
    return ParsedDocument(page.markdown or "", "markdown")


@dataclass(frozen=True)
class ChunkedPages:
    """Fetched pages chunked, and the URLs of fetched pages that could not be parsed."""

    pages: list[WebPageChunks]
    unparseable: list[str]


def chunk_pages(pages: Iterable["PageResult"], options: ChunkingOptions, log: Any) -> ChunkedPages:
    """Chunk the fetched pages among ``pages`` heading-aware (ids sha256(url)-i, plus title).

    Args:
        pages: Crawl results; only ``fetched`` ones are chunked.
        options: The source's chunking options.
        log: Where unparseable pages are reported (a Dagster log).
    """
    from sync_pipelines.core.chunking import chunk_document, strategy_used
    from sync_pipelines.core.parsing import ParseError

    chunked: list[WebPageChunks] = []
    unparseable: list[str] = []
    for page in pages:
        if page.status != "fetched":
            continue
        try:
            doc = _document(page)
        except ParseError as exc:
            log.warning(f"{page.url}: {exc.reason}")
            unparseable.append(page.url)
            continue
        extra = {"title": page.title} if page.title else {}
        version = text_version(doc.text)
        records = build_records(
            chunk_document(doc, options),
            document_key=page.url,
            version_key=version,
            chunk_strategy=strategy_used(doc, options),
            language=doc.language,
            extra_metadata=extra,
            locations=doc.locations,
        )
        state = WebPageState(
            page.url, page.etag, page.last_modified, version, page.title, page.links
        )
        chunked.append(WebPageChunks(state, records))
    return ChunkedPages(chunked, unparseable)


def settle_unparseable(
    settled: dict[str, str],
    kept: list[WebPageState],
    known: Mapping[str, WebPageState],
    unparseable: Iterable[str],
) -> None:
    """Count unparseable pages as failed: their chunks and crawl state are kept."""
    for url in unparseable:
        settled[url] = "failed"
        if url in known:
            kept.append(known[url])


def kept_states(crawled: WebCrawl) -> list[WebPageState]:
    """The crawl state carried over for pages not fetched anew (304, or failed)."""
    return [
        crawled.known[page.url]
        for page in crawled.pages
        if page.status in ("not_modified", "failed") and page.url in crawled.known
    ]


@dg.op(description="Chunk every fetched page heading-aware (ids sha256(url)-i, plus title).")
def chunk_web_op(context: dg.OpExecutionContext, crawled: WebCrawl) -> WebChunks:
    """Chunk the pages the crawl fetched; an unparseable page counts as failed."""
    settled: dict[str, str] = {page.url: page.status for page in crawled.pages}
    kept = kept_states(crawled)
    chunked = chunk_pages(crawled.pages, crawled.target.chunking, context.log)
    settle_unparseable(settled, kept, crawled.known, chunked.unparseable)
    chunks = sum(len(page.records) for page in chunked.pages)
    context.add_output_metadata({"pages": len(chunked.pages), "chunks": chunks})
    return WebChunks(
        target=crawled.target,
        source_id=crawled.source_id,
        start_url=crawled.start_url,
        pages=chunked.pages,
        settled=settled,
        kept=kept,
        known=crawled.known,
        stored=crawled.stored,
    )


@dg.op(
    description=(
        "Write changed pages' chunks (unchanged text is not re-embedded), remove the chunks of "
        "pages that are gone or no longer reached, and save the crawl state for next time."
    ),
    retry_policy=NETWORK_RETRY,
)
def upsert_web_op(
    context: dg.OpExecutionContext,
    chunked: WebChunks,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> dict[str, int]:
    """Apply one web sync to its collection and complete the invocation."""
    target = chunked.target
    collection, embed, max_batch = open_target(target, chunked.start_url, chroma, embedder)
    removed = pages_to_remove(chunked.settled, [*chunked.stored, *chunked.known])
    writes = [DocumentWrite(p.records, p.state.url) for p in chunked.pages]
    writes += [DocumentWrite([], url) for url in removed]
    totals = apply_writes(collection, writes, embed, max_batch)
    outcome = WebOutcome(
        target=target,
        source_id=chunked.source_id,
        settled=chunked.settled,
        states=[*chunked.kept, *(p.state for p in chunked.pages)],
        written={p.state.url: p.state.version_key for p in chunked.pages},
        stored=chunked.stored,
        removed=len(removed),
    )
    return record_crawl(context, catalog, collection, outcome, totals)


@dataclass(frozen=True)
class WebOutcome:
    """What a web sync did, to record and report once its writes are done.

    Attributes:
        target: Destination.
        source_id: The web source.
        settled: URL to crawl status of every settled page.
        states: The crawl state to save (kept pages and written pages).
        written: URL to text version of every page chunked anew.
        stored: Document key to version key the collection held before the sync.
        removed: Pages whose chunks were removed.
    """

    target: SyncTarget
    source_id: str
    settled: dict[str, str]
    states: list[WebPageState]
    written: dict[str, str | None]
    stored: dict[str, str]
    removed: int


def record_crawl(
    context: dg.OpExecutionContext,
    catalog: CatalogResource,
    collection: Any,
    outcome: WebOutcome,
    totals: WriteTotals,
) -> dict[str, int]:
    """Save the crawl state, mark the collection ingested and complete the invocation.

    Called after every write, so a failed write is redone by the next sync.

    Returns:
        The sync's summary counts (also the step's output metadata).
    """
    target = outcome.target
    store = catalog.get_catalog()
    store.replace_web_pages(uuid.UUID(outcome.source_id), target.collection_name, outcome.states)
    collection.modify(metadata={**(collection.metadata or {}), "finished_ingest": True})
    statuses = list(outcome.settled.values())
    ProgressReporter(context, catalog).report(
        InvocationProgress(
            unit="pages",
            done=len(statuses),
            total=len(statuses),
            chunks_written=totals.written,
            skipped=statuses.count("skipped"),
            failed=statuses.count("failed"),
        ),
        force=True,
    )
    finish_invocation(context, catalog)
    unchanged = sum(1 for url, v in outcome.written.items() if outcome.stored.get(url) == v)
    summary = {
        "pages_written": len(outcome.written) - unchanged,
        "pages_unchanged": unchanged + statuses.count("not_modified"),
        "pages_removed": outcome.removed,
        "pages_failed": statuses.count("failed"),
        **totals.summary(),
    }
    context.add_output_metadata(
        {
            **summary,
            "collection": f"{target.database_name}/{target.collection_name}",
            "embed_seconds": round(totals.embed_seconds, 3),
        }
    )
    return summary
