"""A run tagged with an invocation id drives that invocation's status.

Contract: the run moves the invocation pending -> processing -> complete (with finished_at and
duration_ms), or -> failed with an error naming the object and the reason; a run for an
invocation cancelled before it started writes nothing and leaves it cancelled.
"""

import uuid
from typing import Any

import dagster as dg

from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.names import INVOCATION_TAG, SYNC_S3_OBJECT_JOB
from sync_pipelines.run_requests import run_request_for
from sync_pipelines.schemas import Job, Source
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.s3_helpers import create_s3_source, s3_invocation


def catalog() -> Catalog:
    return Catalog(get_settings().resolved_catalog_url)


def run_invocation(source: Source, job: Job) -> dg.ExecuteInProcessResult:
    record = catalog().get_invocation_record(job.id)
    assert record is not None
    request = run_request_for(record, source, max_object_bytes=10_000_000)
    assert request.run_key == str(job.id)
    assert request.tags[INVOCATION_TAG] == str(job.id)
    definition = build_definitions(get_settings()).resolve_job_def(SYNC_S3_OBJECT_JOB)
    return definition.execute_in_process(
        run_config=request.run_config, tags=request.tags, raise_on_error=False
    )


def status_of(job: Job) -> Any:
    found = catalog().get_invocation(job.id)
    assert found is not None
    return found.status


def test_successful_run_completes_its_invocation(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="a.md", Body=b"# A\n\nAlpha.\n")
    source = create_s3_source(s3_server, bucket)
    job = s3_invocation(source, "a.md")
    assert status_of(job).word == "pending"

    result = run_invocation(source, job)

    assert result.success
    status = status_of(job)
    assert status.word == "complete"
    assert status.duration_ms is not None and status.duration_ms >= 0
    record = catalog().get_invocation_record(job.id)
    assert record is not None and record.run_id == result.run_id


def test_failed_run_names_the_object_and_reason(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="bad.txt", Body=b"\xff\xfe binary")
    source = create_s3_source(s3_server, bucket)
    job = s3_invocation(source, "bad.txt")

    result = run_invocation(source, job)

    assert not result.success
    status = status_of(job)
    assert status.word == "failed"
    assert status.error.startswith(f"s3://{bucket}/bad.txt: ")


def test_cancelled_invocation_run_writes_nothing(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="a.md", Body=b"# A\n\nAlpha.\n")
    source = create_s3_source(s3_server, bucket)
    job = s3_invocation(source, "a.md")
    assert catalog().cancel_if_pending(job.id)

    result = run_invocation(source, job)

    assert result.success
    assert status_of(job).word == "cancelled"
    steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    assert steps == {"fetch_s3_object_op"}
    skipped = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert skipped == {"chunk_op", "upsert_op"}


def test_unknown_invocation_tag_is_ignored(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="a.md", Body=b"# A\n")
    source = create_s3_source(s3_server, bucket)
    job = s3_invocation(source, "a.md")
    record = catalog().get_invocation_record(job.id)
    assert record is not None
    request = run_request_for(record, source, max_object_bytes=1000)
    definition = build_definitions(get_settings()).resolve_job_def(SYNC_S3_OBJECT_JOB)
    result = definition.execute_in_process(
        run_config=request.run_config,
        tags={INVOCATION_TAG: str(uuid.uuid4())},
        raise_on_error=False,
    )
    # Another invocation's id that the catalog does not know: the run stops, writes nothing.
    assert result.success
    assert status_of(job).word == "pending"
