"""The GitHub chunk and upsert ops: chunk the changed files, then bring the collection in step.

Files are written in groups through ``sync_in_groups`` (one embedding call per group;
unchanged chunks are not re-embedded); chunks of deleted files are removed; the synced commit
and the chunker version are recorded in the collection's metadata last, so a failed run is
simply re-planned from the previous commit by the next one.
"""

from dataclasses import dataclass
from typing import Any

import dagster as dg

from sync_pipelines.core import records as chunk_records
from sync_pipelines.core.batch_writer import DocumentWrite
from sync_pipelines.core.records import CHUNKER_VERSION_KEY, ChunkRecord
from sync_pipelines.ops.documents import NETWORK_RETRY, SyncTarget, open_target
from sync_pipelines.ops.git_plan import COMMIT_METADATA_KEY, GithubFetch, file_records
from sync_pipelines.ops.progress import ProgressReporter
from sync_pipelines.ops.tracking import finish_invocation
from sync_pipelines.ops.writes import WriteTotals, apply_writes
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.schemas import InvocationProgress


@dataclass(frozen=True)
class GithubChunks:
    """Chunk records of every changed file, plus what else the write needs.

    Attributes:
        target: Destination.
        repository: The repository URL, used in errors.
        commit: The commit being synced.
        files: ``(path, records)`` per changed file; an unparseable file has no records, so
            its old chunks are removed.
        deleted: Paths whose chunks to delete.
        unchanged: Number of files left untouched.
        skipped: Number of files not synced (reasons are on the fetch step).
    """

    target: SyncTarget
    repository: str
    commit: str
    files: list[tuple[str, list[ChunkRecord]]]
    deleted: list[str]
    unchanged: int
    skipped: int


def record_synced_commit(collection: Any, commit: str) -> None:
    """Record the synced commit and chunker version in the collection's metadata.

    Called last, so that a failed sync is re-planned from the previous commit.
    """
    collection.modify(
        metadata={
            **(collection.metadata or {}),
            COMMIT_METADATA_KEY: commit,
            CHUNKER_VERSION_KEY: chunk_records.CHUNKER_VERSION,
            "finished_ingest": True,
        }
    )


@dg.op(description="Chunk every changed file of the commit (ids sha256(path)-i).")
def chunk_github_op(context: dg.OpExecutionContext, fetched: GithubFetch) -> GithubChunks:
    """Chunk the changed files read by the fetch op."""
    files = [
        (file.path, file_records(file, fetched.target.chunking, fetched.repository))
        for file in fetched.files
    ]
    chunks = sum(len(records) for _, records in files)
    context.add_output_metadata({"files": len(files), "chunks": chunks})
    return GithubChunks(
        target=fetched.target,
        repository=fetched.repository,
        commit=fetched.commit,
        files=files,
        deleted=list(fetched.plan.to_delete),
        unchanged=len(fetched.plan.unchanged),
        skipped=len(fetched.skipped),
    )


@dg.op(
    description=(
        "Write the changed files' chunks (unchanged chunks are not re-embedded), delete the "
        "chunks of deleted files, and record the synced commit and chunker version in the "
        "collection's metadata."
    ),
    retry_policy=NETWORK_RETRY,
)
def upsert_github_op(
    context: dg.OpExecutionContext,
    chunked: GithubChunks,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> dict[str, int]:
    """Apply one GitHub sync to its collection and complete the invocation."""
    target = chunked.target
    collection, embed, max_batch = open_target(target, chunked.repository, chroma, embedder)
    writes = [DocumentWrite(records, path) for path, records in chunked.files]
    writes += [DocumentWrite([], path) for path in chunked.deleted]
    reporter = ProgressReporter(context, catalog)
    total = len(writes) + chunked.unchanged + chunked.skipped
    settled = chunked.unchanged + chunked.skipped

    def report(done: int, totals: WriteTotals) -> None:
        reporter.report(
            InvocationProgress(
                unit="files",
                done=settled + done,
                total=total,
                chunks_written=totals.written,
                skipped=chunked.skipped,
            )
        )

    totals = apply_writes(collection, writes, embed, max_batch, report)
    record_synced_commit(collection, chunked.commit)
    reporter.report(
        InvocationProgress(
            unit="files",
            done=total,
            total=total,
            chunks_written=totals.written,
            skipped=chunked.skipped,
        ),
        force=True,
    )
    finish_invocation(context, catalog)
    summary = {
        "files_changed": len(chunked.files),
        "files_deleted": len(chunked.deleted),
        "files_unchanged": chunked.unchanged,
        "files_skipped": chunked.skipped,
        **totals.summary(),
    }
    context.add_output_metadata(
        {
            **summary,
            "collection": f"{target.database_name}/{target.collection_name}",
            "commit": chunked.commit,
            "embed_seconds": round(totals.embed_seconds, 3),
        }
    )
    return summary
