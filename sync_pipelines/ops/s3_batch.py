"""The S3 batch op: one Dagster run syncs many pending invocations of one S3 source.

A run start costs seconds, more than a small object's whole sync; the invocation sensor
therefore groups a source's pending S3 invocations into one ``sync_s3_batch_job`` run. The op
claims them all at once (compare-and-set, so cancelled or already-taken ones are skipped), syncs
each object and finishes each invocation on its own; the run succeeds even when some objects
fail (their invocations carry the error).
"""

import time
import uuid

import dagster as dg
from pydantic import Field

from sync_pipelines.catalog import Catalog, InvocationRecord
from sync_pipelines.catalog.base import utcnow
from sync_pipelines.catalog.invocation_batches import InvocationOutcome
from sync_pipelines.core.staged_writer import Budget
from sync_pipelines.names import SYNC_S3_BATCH_OP
from sync_pipelines.ops.documents import NETWORK_RETRY
from sync_pipelines.ops.s3_batch_items import BatchReport
from sync_pipelines.ops.s3_batch_runner import S3BatchRunner
from sync_pipelines.ops.s3_reader import S3SourceError, S3SourceReader
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.resources.s3 import SyncS3Resource
from sync_pipelines.settings import DEFAULT_MAX_OBJECT_BYTES, get_settings

MAX_ERRORS_SHOWN = 5


class S3BatchConfig(dg.Config):
    """Which invocations to sync (the run config of ``sync_s3_batch_job``)."""

    source_id: str = Field(description="Id of the S3 source every invocation belongs to.")
    invocation_ids: list[str] = Field(
        description="Pending invocations of that source, oldest first; each names its object."
    )
    max_object_bytes: int = Field(
        default=DEFAULT_MAX_OBJECT_BYTES, description="Objects larger than this fail unread."
    )


def _ids(raw: list[str], log: dg.DagsterLogManager) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for value in raw:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            log.warning(f"invocation id {value!r} is not a UUID: skipped")
    return ids


def fail_batch(
    store: Catalog, run_id: str, records: list[InvocationRecord], reason: str
) -> BatchReport:
    """Fail every record with ``<object key>: reason`` (the source itself cannot be read)."""
    now = utcnow()
    errors = [f"{record.object_key}: {reason}" for record in records]
    store.finish_many(
        run_id,
        [
            InvocationOutcome(record.job.id, now, now, error)
            for record, error in zip(records, errors, strict=True)
        ],
    )
    return BatchReport(failed=len(records), errors=errors)


@dg.op(
    name=SYNC_S3_BATCH_OP,
    description=(
        "Claim the batch's pending invocations, then for each object: download it (size cap "
        "first), parse and chunk it, embed changed chunks (several documents per embedding "
        "call) and replace its chunks; each invocation completes or fails on its own. Big "
        "objects go last, one at a time, streamed in bounded groups within a per-object budget."
    ),
    retry_policy=NETWORK_RETRY,
)
def sync_s3_batch_op(
    context: dg.OpExecutionContext,
    config: S3BatchConfig,
    s3: SyncS3Resource,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> dict[str, int]:
    """Sync every invocation of the batch this run can claim."""
    started = time.perf_counter()
    store = catalog.get_catalog()
    ids = _ids(config.invocation_ids, context.log)
    claimed = store.mark_processing_many(ids, context.run_id)
    if len(claimed) < len(ids):
        context.log.info(
            f"{len(ids) - len(claimed)} of {len(ids)} invocations were cancelled, finished or "
            "taken by another run: skipped"
        )
    records = store.get_invocation_records(claimed)
    report: BatchReport
    try:
        reader = S3SourceReader.open(store, s3, config.source_id)
    except S3SourceError as exc:
        report = fail_batch(store, context.run_id, records, exc.reason)
    else:
        settings = get_settings()
        runner = S3BatchRunner(
            reader,
            store,
            chroma,
            embedder,
            run_id=context.run_id,
            max_object_bytes=config.max_object_bytes,
            log=context.log.info,
            stream_object_bytes=settings.stream_object_bytes,
            budget=Budget(settings.max_object_seconds, settings.max_object_chunks),
        )
        report = runner.run(records)
    seconds = time.perf_counter() - started
    summary = {
        "ok": report.ok,
        "failed": report.failed,
        "skipped": len(ids) - len(claimed),
        "chunks_written": report.chunks_written,
        "chunks_skipped": report.chunks_skipped,
        "chunks_deleted": report.chunks_deleted,
    }
    context.add_output_metadata(
        {
            **summary,
            "invocations": len(ids),
            "seconds": round(seconds, 3),
            "embed_seconds": round(report.embed_seconds, 3),
            "objects_per_minute": round(len(records) / seconds * 60, 1) if seconds else 0.0,
            "errors": "\n".join(report.errors[:MAX_ERRORS_SHOWN]),
        }
    )
    return summary
