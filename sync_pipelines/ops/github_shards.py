"""The sharded path of a GitHub sync: one step per shard of changed files, then one finish.

Each shard step opens its own worker's mirror of the source (fetching only if the commit is
not there yet), reads its files' blobs, chunks them and writes them to the collection (unchanged
chunks are not re-embedded). Steps share nothing in memory: a shard names paths and blob shas,
and the result of a step is a small count dictionary, so any executor (in-process, Celery, k8s)
can run them anywhere. Writes are per document and idempotent, so a retried shard converges on
what its first attempt began. The finish step runs once every shard succeeded: it deletes the
chunks of deleted files and records the commit, exactly as the one-step path does, so the
collection ends the same whichever path synced it; if a shard fails for good, the commit is
not recorded and the next sync re-plans from the previous one.
"""

import dagster as dg

from sync_pipelines.core.batch_writer import DocumentWrite
from sync_pipelines.core.deletion_policy import TransientSourceError
from sync_pipelines.core.git_sync import SkippedFile
from sync_pipelines.git import GitError
from sync_pipelines.ops.documents import NETWORK_RETRY, failure, open_target
from sync_pipelines.ops.git_plan import (
    GitShard,
    GitShardPlan,
    file_records,
    load_source,
    open_mirror,
    read_files,
    update_mirror,
)
from sync_pipelines.ops.github_write import record_synced_commit
from sync_pipelines.ops.progress import ProgressReporter
from sync_pipelines.ops.tracking import finish_invocation
from sync_pipelines.ops.writes import apply_writes
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.resources.git import GitResource
from sync_pipelines.scale_out import worker_name
from sync_pipelines.schemas import InvocationProgress


@dg.op(
    description=(
        "Sync one shard of a big GitHub sync: read its files from this worker's mirror, chunk "
        "them, embed changed chunks and write them to the collection."
    ),
    retry_policy=NETWORK_RETRY,
)
def sync_github_shard_op(
    context: dg.OpExecutionContext,
    shard: GitShard,
    git: GitResource,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> dict[str, int]:
    """Write one shard's files and report its counts (and the worker that ran it)."""
    source = load_source(catalog, shard.source_id)
    mirror = open_mirror(git, catalog, source)
    try:
        if not mirror.has_commit(shard.commit):
            update_mirror(mirror, shard.repository)
        if not mirror.has_commit(shard.commit):
            raise failure(shard.repository, f"commit {shard.commit} is no longer fetchable")
        skipped: list[SkippedFile] = []
        files = read_files(mirror, shard.files, skipped)
    except TransientSourceError as exc:
        raise dg.Failure(description=f"{exc.location}: {exc.cause}") from None
    except GitError as exc:
        raise dg.Failure(description=f"{shard.repository}: {exc}") from exc
    options = shard.target.chunking
    writes = [
        DocumentWrite(file_records(file, options, shard.repository), file.path) for file in files
    ]
    collection, embed, max_batch = open_target(shard.target, shard.repository, chroma, embedder)
    totals = apply_writes(collection, writes, embed, max_batch)
    ProgressReporter(context, catalog).add(done=len(files), chunks_written=totals.written)
    result = {"files": len(files), "files_skipped": len(skipped), **totals.summary()}
    context.add_output_metadata(
        {
            **result,
            "shard": f"{shard.index + 1}/{shard.count}",
            "worker": worker_name(),
            "embed_seconds": round(totals.embed_seconds, 3),
        }
    )
    return result


@dg.op(
    description=(
        "Finish a sharded GitHub sync once every shard is written: delete the chunks of "
        "deleted files and record the synced commit and chunker version."
    ),
    retry_policy=NETWORK_RETRY,
)
def finish_github_op(
    context: dg.OpExecutionContext,
    plan: GitShardPlan,
    results: list[dict[str, int]],
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> dict[str, int]:
    """Apply the deletes, record the commit and complete the invocation."""
    collection, embed, max_batch = open_target(plan.target, plan.repository, chroma, embedder)
    deletes = apply_writes(
        collection, [DocumentWrite([], p) for p in plan.deleted], embed, max_batch
    )
    record_synced_commit(collection, plan.commit)
    summary = {
        "files_changed": sum(r["files"] for r in results),
        "files_deleted": len(plan.deleted),
        "files_unchanged": plan.unchanged,
        "files_skipped": plan.skipped + sum(r["files_skipped"] for r in results),
    }
    for key in ("chunks_written", "chunks_metadata_updated", "chunks_skipped"):
        summary[key] = sum(r[key] for r in results)
    summary["chunks_deleted"] = deletes.deleted + sum(r["chunks_deleted"] for r in results)
    total = plan.unchanged + plan.skipped + summary["files_changed"] + len(plan.deleted)
    ProgressReporter(context, catalog).report(
        InvocationProgress(
            unit="files",
            done=total,
            total=total,
            chunks_written=summary["chunks_written"],
            skipped=plan.skipped,
        ),
        force=True,
    )
    finish_invocation(context, catalog)
    context.add_output_metadata(
        {
            **summary,
            "shards": plan.shards,
            "collection": f"{plan.target.database_name}/{plan.target.collection_name}",
            "commit": plan.commit,
        }
    )
    return summary
