"""What run syncs a pending invocation: job, op config, tags and run key, as plain data.

Dagster-free on purpose: the API bridge launches runs through the webserver's GraphQL API
with these plans and so never imports Dagster or the ops (seconds of start-up and tens of MB
per API process). ``run_requests`` turns a plan into a typed ``dagster.RunRequest``, checking
the config against the op's ``Config`` class.

The run key is the invocation id, so Dagster creates exactly one run per invocation however
often a sensor proposes it. Several pending S3 invocations of one source become one batch run
instead (:func:`batch_plan_for`, run key ``batch:<first invocation id>``).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
from sync_pipelines.schemas import Source


class UnsupportedInvocationError(Exception):
    """The invocation cannot be run; the message says why (it becomes the invocation's error)."""


@dataclass(frozen=True)
class RunPlan:
    """One run: its job, the config of the job's first op, its tags and its run key."""

    job_name: str
    op_name: str
    op_config: dict[str, Any]
    tags: dict[str, str]
    run_key: str

    @property
    def run_config(self) -> dict[str, Any]:
        """The run config as Dagster takes it (``{"ops": {op: {"config": ...}}}``)."""
        return {"ops": {self.op_name: {"config": self.op_config}}}


def plan_for(record: InvocationRecord, source: Source | None, *, max_object_bytes: int) -> RunPlan:
    """Plan the run of one pending invocation.

    Args:
        record: The invocation with its pipeline columns.
        source: Its source, or ``None`` when the source was deleted.
        max_object_bytes: Size cap for one object (for GitHub: larger files are skipped).

    Returns:
        The plan (``run_key`` = invocation id; tags: invocation, source, database).

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
    common: dict[str, Any] = {
        "source_id": str(source.id),
        "target_collection": job.metadata.collection_name,
    }
    step: tuple[str, str, dict[str, Any]]
    if record.source_type == "s3":
        step = (
            SYNC_S3_OBJECT_JOB,
            FETCH_S3_OBJECT_OP,
            {
                **common,
                "object_key": record.object_key or "",
                "custom_id": record.custom_id,
                "metadata": dict(record.extra_metadata or {}),
                "max_object_bytes": max_object_bytes,
            },
        )
    elif record.source_type == "file_upload":
        upload = job.metadata.file_upload
        step = (
            SYNC_FILE_UPLOAD_JOB,
            FETCH_UPLOAD_OP,
            {
                **common,
                "upload_key": record.object_key or "",
                "filename": (upload.filename if upload is not None else None) or "file",
                "custom_id": record.custom_id,
                "metadata": dict(record.extra_metadata or {}),
            },
        )
    elif record.source_type == "github":
        github = job.metadata.github
        ref = github.git_ref_identifier.model_dump() if github is not None else None
        step = (
            SYNC_GITHUB_JOB,
            FETCH_GITHUB_OP,
            {**common, "ref": ref, "max_file_bytes": max_object_bytes},
        )
    elif record.source_type == "web_scrape":
        step = (SYNC_WEB_JOB, CRAWL_WEB_OP, common)
    else:
        raise UnsupportedInvocationError(
            f"{record.source_type} sources cannot be synced by this version of chroma-sync yet"
        )
    job_name, op_name, config = step
    return RunPlan(job_name, op_name, config, tags, run_key=str(job.id))


def batch_plan_for(
    records: Sequence[InvocationRecord], source: Source | None, *, max_object_bytes: int
) -> RunPlan:
    """Plan the run that syncs several pending S3 invocations of one source.

    The run key is ``batch:<first invocation id>``: proposing the same pending batch again is
    deduplicated by Dagster. The invocations are listed in the op config (a tag could not hold
    them all); each one's ``run_id`` column links it to the run once claimed.

    Args:
        records: Pending S3 invocations of ``source``, oldest first (at least one).
        source: Their source, or ``None`` when it was deleted.
        max_object_bytes: Size cap for one object.

    Returns:
        The plan of ``sync_s3_batch_job`` (tags: source, database, batch size).

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
    return RunPlan(
        job_name=SYNC_S3_BATCH_JOB,
        op_name=SYNC_S3_BATCH_OP,
        op_config={
            "source_id": str(source.id),
            "invocation_ids": [str(r.job.id) for r in records],
            "max_object_bytes": max_object_bytes,
        },
        tags={
            SOURCE_TAG: str(source.id),
            DATABASE_TAG: source.database_name,
            BATCH_SIZE_TAG: str(len(records)),
        },
        run_key=f"{BATCH_RUN_KEY_PREFIX}{records[0].job.id}",
    )
