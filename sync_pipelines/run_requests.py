"""Turn a pending invocation into the Dagster run request that syncs it.

The run key is the invocation id, so Dagster creates exactly one run per invocation however
often a sensor proposes it; the run carries the invocation, source and database as tags.
Several pending S3 invocations of one source become one batch run instead
(:func:`batch_run_request_for`, run key ``batch:<first invocation id>``).
"""

from collections.abc import Sequence

import dagster as dg

from sync_pipelines.catalog.models import InvocationRecord
from sync_pipelines.names import (
    BATCH_RUN_KEY_PREFIX,
    BATCH_SIZE_TAG,
    CRAWL_WEB_OP,
    DATABASE_TAG,
    FETCH_GITHUB_OP,
    FETCH_S3_OBJECT_OP,
    FETCH_UPLOAD_OP,
    INVOCATION_TAG,
    SOURCE_TAG,
    SYNC_FILE_UPLOAD_JOB,
    SYNC_GITHUB_JOB,
    SYNC_S3_BATCH_JOB,
    SYNC_S3_BATCH_OP,
    SYNC_S3_OBJECT_JOB,
    SYNC_WEB_JOB,
)
from sync_pipelines.ops.github import GithubSyncConfig
from sync_pipelines.ops.s3 import S3ObjectConfig
from sync_pipelines.ops.s3_batch import S3BatchConfig
from sync_pipelines.ops.uploads import FileUploadConfig
from sync_pipelines.ops.web import WebSyncConfig
from sync_pipelines.schemas import Source


class UnsupportedInvocationError(Exception):
    """The invocation cannot be run; the message says why (it becomes the invocation's error)."""


def run_request_for(
    record: InvocationRecord, source: Source | None, *, max_object_bytes: int
) -> dg.RunRequest:
    """Build the run request for one pending invocation.

    Args:
        record: The invocation with its pipeline columns.
        source: Its source, or ``None`` when the source was deleted.
        max_object_bytes: Size cap for one object (for GitHub: larger files are skipped).

    Returns:
        The run request (job, typed run config, tags, ``run_key`` = invocation id).

    Raises:
        UnsupportedInvocationError: The source is gone or its type has no job yet.
    """
    job = record.job
    if source is None:
        raise UnsupportedInvocationError("the invocation's source no longer exists")
    tags = {
        INVOCATION_TAG: str(job.id),
        SOURCE_TAG: str(source.id),
        DATABASE_TAG: job.metadata.database_name,
    }
    step: tuple[str, str, dg.Config]
    if record.source_type == "s3":
        step = (
            SYNC_S3_OBJECT_JOB,
            FETCH_S3_OBJECT_OP,
            S3ObjectConfig(
                source_id=str(source.id),
                object_key=record.object_key or "",
                custom_id=record.custom_id,
                metadata=dict(record.extra_metadata or {}),
                target_collection=job.metadata.collection_name,
                max_object_bytes=max_object_bytes,
            ),
        )
    elif record.source_type == "file_upload":
        upload = job.metadata.file_upload
        step = (
            SYNC_FILE_UPLOAD_JOB,
            FETCH_UPLOAD_OP,
            FileUploadConfig(
                source_id=str(source.id),
                upload_key=record.object_key or "",
                filename=(upload.filename if upload is not None else None) or "file",
                target_collection=job.metadata.collection_name,
                custom_id=record.custom_id,
                metadata=dict(record.extra_metadata or {}),
            ),
        )
    elif record.source_type == "github":
        github = job.metadata.github
        step = (
            SYNC_GITHUB_JOB,
            FETCH_GITHUB_OP,
            GithubSyncConfig(
                source_id=str(source.id),
                ref=github.git_ref_identifier.model_dump() if github is not None else None,
                target_collection=job.metadata.collection_name,
                max_file_bytes=max_object_bytes,
            ),
        )
    elif record.source_type == "web_scrape":
        step = (
            SYNC_WEB_JOB,
            CRAWL_WEB_OP,
            WebSyncConfig(source_id=str(source.id), target_collection=job.metadata.collection_name),
        )
    else:
        raise UnsupportedInvocationError(
            f"{record.source_type} sources cannot be synced by this version of chroma-sync yet"
        )
    job_name, op_name, config = step
    return dg.RunRequest(
        run_key=str(job.id),
        job_name=job_name,
        run_config=dg.RunConfig(ops={op_name: config}),
        tags=tags,
    )


def batch_run_request_for(
    records: Sequence[InvocationRecord], source: Source | None, *, max_object_bytes: int
) -> dg.RunRequest:
    """Build the run request that syncs several pending S3 invocations of one source.

    The run key is ``batch:<first invocation id>``: proposing the same pending batch again is
    deduplicated by Dagster. The invocations are listed in the run config (a tag could not hold
    them all); each one's ``run_id`` column links it to the run once claimed.

    Args:
        records: Pending S3 invocations of ``source``, oldest first (at least one).
        source: Their source, or ``None`` when it was deleted.
        max_object_bytes: Size cap for one object.

    Returns:
        The run request of ``sync_s3_batch_job`` (tags: source, database, batch size).

    Raises:
        UnsupportedInvocationError: The source is gone or is not an S3 source, or a record is
            not an S3 invocation of it.
    """
    if not records:
        raise ValueError("a batch needs at least one invocation")
    if source is None:
        raise UnsupportedInvocationError("the invocation's source no longer exists")
    if source.s3 is None:
        raise UnsupportedInvocationError(f"source {source.id} is not an S3 source")
    for record in records:
        if record.source_type != "s3" or record.job.source_id != source.id:
            raise UnsupportedInvocationError(
                f"invocation {record.job.id} is not an S3 invocation of source {source.id}"
            )
    config = S3BatchConfig(
        source_id=str(source.id),
        invocation_ids=[str(r.job.id) for r in records],
        max_object_bytes=max_object_bytes,
    )
    return dg.RunRequest(
        run_key=f"{BATCH_RUN_KEY_PREFIX}{records[0].job.id}",
        job_name=SYNC_S3_BATCH_JOB,
        run_config=dg.RunConfig(ops={SYNC_S3_BATCH_OP: config}),
        tags={
            SOURCE_TAG: str(source.id),
            DATABASE_TAG: source.database_name,
            BATCH_SIZE_TAG: str(len(records)),
        },
    )
