"""The sharded path of a web sync: the crawl's fetched pages chunked and written per shard.

The crawl stays one step (it discovers pages as it goes); when it fetched more pages than one
shard holds, each shard of fetched pages is chunked, embedded and written by its own step (any
worker), and one finish step removes the pages that are gone or no longer reached and saves
the crawl state, last, exactly as the one-step path does: the collection and the saved
validators end the same whichever path synced them, and a failed shard leaves the previous
crawl state in place, so the next sync fetches those pages again.
"""

from dataclasses import dataclass

import dagster as dg

from sync_pipelines.catalog.web_pages import WebPageState
from sync_pipelines.core.batch_writer import DocumentWrite
from sync_pipelines.core.web_sync import pages_to_remove
from sync_pipelines.ops.documents import NETWORK_RETRY, open_target
from sync_pipelines.ops.progress import ProgressReporter
from sync_pipelines.ops.web import WebCrawl, WebShard, WebShardPlan
from sync_pipelines.ops.web_write import (
    WebOutcome,
    chunk_pages,
    kept_states,
    record_crawl,
    settle_unparseable,
)
from sync_pipelines.ops.writes import WriteTotals, apply_writes
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.scale_out import worker_name


@dataclass(frozen=True)
class WebShardResult:
    """What one shard step wrote: the pages' crawl state, unparseable URLs and counts."""

    states: list[WebPageState]
    unparseable: list[str]
    totals: WriteTotals


@dg.op(
    description=(
        "Chunk, embed and write one shard of the pages a big crawl fetched (unchanged text "
        "is not re-embedded)."
    ),
    retry_policy=NETWORK_RETRY,
)
def sync_web_shard_op(
    context: dg.OpExecutionContext,
    shard: WebShard,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> WebShardResult:
    """Write one shard of fetched pages."""
    chunked = chunk_pages(shard.pages, shard.target.chunking, context.log)
    collection, embed, max_batch = open_target(shard.target, shard.start_url, chroma, embedder)
    writes = [DocumentWrite(page.records, page.state.url) for page in chunked.pages]
    totals = apply_writes(collection, writes, embed, max_batch)
    ProgressReporter(context, catalog).add(done=0, chunks_written=totals.written)
    context.add_output_metadata(
        {
            "pages": len(chunked.pages),
            "pages_unparseable": len(chunked.unparseable),
            **totals.summary(),
            "shard": f"{shard.index + 1}/{shard.count}",
            "worker": worker_name(),
        }
    )
    return WebShardResult([page.state for page in chunked.pages], chunked.unparseable, totals)


@dg.op(
    description=(
        "Finish a sharded web sync once every shard is written: remove the chunks of pages "
        "that are gone or no longer reached, and save the crawl state for the next sync."
    ),
    retry_policy=NETWORK_RETRY,
)
def finish_web_op(
    context: dg.OpExecutionContext,
    plan: WebShardPlan,
    results: list[WebShardResult],
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> dict[str, int]:
    """Apply the removals, save the crawl state and complete the invocation."""
    crawl: WebCrawl = plan.crawl
    settled: dict[str, str] = {page.url: page.status for page in crawl.pages}
    kept = kept_states(crawl)
    totals = WriteTotals()
    states: list[WebPageState] = []
    for result in results:
        settled.update({state.url: "fetched" for state in result.states})
        settle_unparseable(settled, kept, crawl.known, result.unparseable)
        states += result.states
        totals.add(result.totals)
    collection, embed, max_batch = open_target(crawl.target, crawl.start_url, chroma, embedder)
    removed = pages_to_remove(settled, [*crawl.stored, *crawl.known])
    totals.add(
        apply_writes(collection, [DocumentWrite([], url) for url in removed], embed, max_batch)
    )
    outcome = WebOutcome(
        target=crawl.target,
        source_id=crawl.source_id,
        settled=settled,
        states=[*kept, *states],
        written={state.url: state.version_key for state in states},
        stored=crawl.stored,
        removed=len(removed),
    )
    summary = record_crawl(context, catalog, collection, outcome, totals)
    context.add_output_metadata({"shards": plan.shards})
    return summary
