"""Turn a pending invocation into the Dagster run request that syncs it.

The run key is the invocation id, so Dagster creates exactly one run per invocation however
often a sensor proposes it; the run carries the invocation, source and database as tags.
"""

import dagster as dg

from sync_pipelines.catalog.models import InvocationRecord
from sync_pipelines.names import (
    DATABASE_TAG,
    FETCH_GITHUB_OP,
    FETCH_S3_OBJECT_OP,
    FETCH_UPLOAD_OP,
    INVOCATION_TAG,
    SOURCE_TAG,
    SYNC_FILE_UPLOAD_JOB,
    SYNC_GITHUB_JOB,
    SYNC_S3_OBJECT_JOB,
)
from sync_pipelines.ops.github import GithubSyncConfig
from sync_pipelines.ops.s3 import S3ObjectConfig
from sync_pipelines.ops.uploads import FileUploadConfig
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
