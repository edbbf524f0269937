"""The web chunk and upsert ops: chunk fetched pages, then bring the collection in step.

Pages are written in groups through ``sync_documents`` (one embedding call per group; a page
whose extracted text is unchanged is neither re-embedded nor rewritten); pages the crawl no
longer reaches, or that are gone, lose their chunks (:mod:`sync_pipelines.core.web_sync` says
which); the crawl state for conditional GETs is saved last, so a failed write is simply redone
by the next sync.
"""

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from sync_pipelines.catalog.web_pages import WebPageState
from sync_pipelines.core.records import ChunkRecord, build_records
from sync_pipelines.core.types import ParsedDocument
from sync_pipelines.core.web_sync import pages_to_remove, text_version
from sync_pipelines.ops.documents import NETWORK_RETRY, SyncTarget, open_target
from sync_pipelines.ops.progress import ProgressReporter
from sync_pipelines.ops.tracking import finish_invocation
from sync_pipelines.ops.web import WebCrawl
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


@dg.op(description="Chunk every fetched page heading-aware (ids sha256(url)-i, plus title).")
def chunk_web_op(context: dg.OpExecutionContext, crawled: WebCrawl) -> WebChunks:
    """Chunk the pages the crawl fetched; an unparseable page counts as failed."""
    from sync_pipelines.core.chunking import chunk_document, strategy_used
    from sync_pipelines.core.parsing import ParseError

    options = crawled.target.chunking
    settled: dict[str, str] = {page.url: page.status for page in crawled.pages}
    pages: list[WebPageChunks] = []
    kept: list[WebPageState] = []
    for page in crawled.pages:
        if page.status != "fetched":
            if page.status in ("not_modified", "failed") and page.url in crawled.known:
                kept.append(crawled.known[page.url])
            continue
        try:
            doc = _document(page)
        except ParseError as exc:
            context.log.warning(f"{page.url}: {exc.reason}")
            settled[page.url] = "failed"
            if page.url in crawled.known:
                kept.append(crawled.known[page.url])
            continue
        text, language = doc.text, doc.language
        version = text_version(text)
        extra = {"title": page.title} if page.title else {}
        records = build_records(
            chunk_document(doc, options),
            document_key=page.url,
            version_key=version,
            chunk_strategy=strategy_used(doc, options),
            language=language,
            extra_metadata=extra,
            locations=doc.locations,
        )
        state = WebPageState(
            page.url, page.etag, page.last_modified, version, page.title, page.links
        )
        pages.append(WebPageChunks(state, records))
    chunks = sum(len(page.records) for page in pages)
    context.add_output_metadata({"pages": len(pages), "chunks": chunks})
    return WebChunks(
        target=crawled.target,
        source_id=crawled.source_id,
        start_url=crawled.start_url,
        pages=pages,
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
    from sync_pipelines.core.batch_writer import DocumentWrite, sync_in_groups

    target = chunked.target
    collection, embed, max_batch = open_target(target, chunked.start_url, chroma, embedder)
    stored = chunked.stored
    totals = {"written": 0, "metadata_updated": 0, "unchanged": 0, "deleted": 0}
    embed_seconds = 0.0
    removed = pages_to_remove(chunked.settled, [*stored, *chunked.known])
    writes = [DocumentWrite(p.records, p.state.url) for p in chunked.pages]
    writes += [DocumentWrite([], url) for url in removed]
    groups = sync_in_groups(collection, writes, embed=embed, max_batch_size=max_batch)
    for _, written in groups:
        for counts in written:
            for key in totals:
                totals[key] += getattr(counts, key)
            embed_seconds += counts.embed_seconds
    store = catalog.get_catalog()
    source_id = uuid.UUID(chunked.source_id)
    store.replace_web_pages(
        source_id, target.collection_name, [*chunked.kept, *(p.state for p in chunked.pages)]
    )
    collection.modify(metadata={**(collection.metadata or {}), "finished_ingest": True})
    statuses = list(chunked.settled.values())
    ProgressReporter(context, catalog).report(
        InvocationProgress(
            unit="pages",
            done=len(statuses),
            total=len(statuses),
            chunks_written=totals["written"],
            skipped=statuses.count("skipped"),
            failed=statuses.count("failed"),
        ),
        force=True,
    )
    finish_invocation(context, catalog)
    unchanged = sum(1 for p in chunked.pages if stored.get(p.state.url) == p.state.version_key)
    summary = {
        "pages_written": len(chunked.pages) - unchanged,
        "pages_unchanged": unchanged
        + sum(1 for s in chunked.settled.values() if s == "not_modified"),
        "pages_removed": len(removed),
        "pages_failed": sum(1 for s in chunked.settled.values() if s == "failed"),
        "chunks_written": totals["written"],
        "chunks_metadata_updated": totals["metadata_updated"],
        "chunks_skipped": totals["unchanged"],
        "chunks_deleted": totals["deleted"],
    }
    context.add_output_metadata(
        {
            **summary,
            "collection": f"{target.database_name}/{target.collection_name}",
            "embed_seconds": round(embed_seconds, 3),
        }
    )
    return summary
