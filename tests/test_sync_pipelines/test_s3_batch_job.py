"""The S3 batch job end to end against a real SeaweedFS server and an embedded Chroma.

Contract: one run claims its batch's pending invocations and syncs each object exactly as the
single-object job would (chunk ids and metadata per NOTES.md, replace on resync, deletion of a
gone object's chunks); each invocation completes or fails on its own with its own timing and
the single-object job's error text, and the run succeeds with counts of what happened;
cancelled invocations and invocations taken by another run are skipped untouched.
"""

import copy
import uuid
from typing import Any

import dagster as dg
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from sync_pipelines.catalog import Catalog, InvocationRecord
from sync_pipelines.core.records import sha256_hex
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.names import BATCH_SIZE_TAG, SYNC_S3_BATCH_JOB, SYNC_S3_BATCH_OP
from sync_pipelines.ops import transient
from sync_pipelines.run_requests import batch_run_request_for
from sync_pipelines.schemas import IndexJobMetadata, Job, Source
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.s3_helpers import (
    DATABASE,
    chunks_of,
    collection,
    create_s3_source,
    s3_invocation,
)


def catalog() -> Catalog:
    return Catalog(get_settings().resolved_catalog_url)


def records_of(jobs: list[Job]) -> list[InvocationRecord]:
    return catalog().get_invocation_records([j.id for j in jobs])


def run_batch(
    source: Source, jobs: list[Job], *, source_id: str | None = None
) -> dg.ExecuteInProcessResult:
    request = batch_run_request_for(records_of(jobs), source, max_object_bytes=10_000_000)
    run_config = copy.deepcopy(dict(request.run_config))
    if source_id is not None:
        run_config["ops"][SYNC_S3_BATCH_OP]["config"]["source_id"] = source_id
    job = build_definitions(get_settings()).resolve_job_def(SYNC_S3_BATCH_JOB)
    return job.execute_in_process(run_config=run_config, tags=request.tags, raise_on_error=False)


def summary(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    for event in result.all_events:
        if event.step_key == SYNC_S3_BATCH_OP and event.event_type_value == "STEP_OUTPUT":
            return {k: v.value for k, v in event.event_specific_data.metadata.items()}
    raise AssertionError("the batch op produced no output")


def markdown(i: int) -> bytes:
    return f"# Note {i}\n\nRefunds for order {i} are issued within {i + 3} days.\n".encode()


def test_batch_completes_every_invocation_with_spec_chunks_and_timing(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    keys = [f"notes/n{i}.md" for i in range(5)]
    etags = {}
    for i, key in enumerate(keys):
        etags[key] = s3_client.put_object(Bucket=bucket, Key=key, Body=markdown(i))["ETag"]
    source = create_s3_source(s3_server, bucket)
    jobs = [s3_invocation(source, key) for key in keys]

    result = run_batch(source, jobs)

    assert result.success
    assert result.dagster_run.tags[BATCH_SIZE_TAG] == "5"
    counts = summary(result)
    assert (counts["ok"], counts["failed"], counts["skipped"]) == (5, 0, 0)
    assert counts["chunks_written"] == 5
    for i, (key, record) in enumerate(zip(keys, records_of(jobs), strict=True)):
        status = record.job.status
        assert status.word == "complete"
        assert record.run_id == result.run_id
        assert record.started_at is not None and status.finished_at is not None
        assert record.job.created_at <= record.started_at <= status.finished_at
        assert status.duration_ms is not None and status.duration_ms >= 0
        stored = chunks_of(key)
        prefix = sha256_hex(key)
        assert list(stored) == [f"{prefix}-0"]
        meta = stored[f"{prefix}-0"]["meta"]
        etag = etags[key].strip('"')
        assert meta["document_key"] == key
        assert meta["document_key_sha256"] == prefix
        assert (meta["version_key"], meta["version_key_sha256"]) == (etag, sha256_hex(etag))
        assert meta["language"] == "markdown"
        assert stored[f"{prefix}-0"]["doc"] == markdown(i).decode().rstrip("\n")
    assert collection().count() == 5
    assert collection().metadata["finished_ingest"] is True


def test_bad_objects_fail_only_their_own_invocations(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    for i in range(3):
        s3_client.put_object(Bucket=bucket, Key=f"ok{i}.md", Body=markdown(i))
    s3_client.put_object(Bucket=bucket, Key="latin1.txt", Body=b"caf\xe9 latin-1\n")
    source = create_s3_source(s3_server, bucket)
    keys = ["ok0.md", "latin1.txt", "ok1.md", "typo.md", "ok2.md"]
    jobs = [s3_invocation(source, key) for key in keys]

    result = run_batch(source, jobs)

    assert result.success
    counts = summary(result)
    assert (counts["ok"], counts["failed"], counts["skipped"]) == (3, 2, 0)
    statuses = [r.job.status for r in records_of(jobs)]
    assert [s.word for s in statuses] == ["complete", "failed", "complete", "failed", "complete"]
    assert statuses[1].error.startswith(f"s3://{bucket}/latin1.txt: not valid UTF-8")
    assert "0xe9" in statuses[1].error
    assert statuses[3].error == f"s3://{bucket}/typo.md: object not found"
    store = Catalog(get_settings().resolved_catalog_url)
    progress = [store.get_progress(job.id) for job in jobs]
    assert [p.chunks_written if p else None for p in progress] == [1, None, 1, None, 1]
    assert {(p.unit, p.done, p.total) for p in progress if p} == {("objects", 1, 1)}
    assert chunks_of("latin1.txt") == {} and chunks_of("typo.md") == {}
    assert collection().count() == 3
    for record in records_of(jobs):
        assert record.run_id == result.run_id and record.started_at is not None


def test_cancelled_and_taken_invocations_are_skipped(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    for key in ("a.md", "b.md", "c.md"):
        s3_client.put_object(Bucket=bucket, Key=key, Body=f"# {key}\n\nText.\n".encode())
    source = create_s3_source(s3_server, bucket)
    jobs = [s3_invocation(source, key) for key in ("a.md", "b.md", "c.md")]
    store = catalog()
    assert store.cancel_if_pending(jobs[0].id)
    assert store.mark_processing(jobs[1].id, "another-run")

    result = run_batch(source, jobs)

    assert result.success
    counts = summary(result)
    assert (counts["ok"], counts["failed"], counts["skipped"]) == (1, 0, 2)
    cancelled, taken, done = records_of(jobs)
    assert cancelled.job.status.word == "cancelled" and cancelled.run_id is None
    assert taken.job.status.word == "processing" and taken.run_id == "another-run"
    assert done.job.status.word == "complete" and done.run_id == result.run_id
    assert chunks_of("a.md") == {} and chunks_of("b.md") == {}
    assert len(chunks_of("c.md")) == 1


def test_resync_replaces_deletes_and_skips_unchanged(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    for i in range(3):
        s3_client.put_object(Bucket=bucket, Key=f"d{i}.md", Body=markdown(i))
    source = create_s3_source(s3_server, bucket)
    assert run_batch(source, [s3_invocation(source, f"d{i}.md") for i in range(3)]).success
    s3_client.delete_object(Bucket=bucket, Key="d0.md")
    changed = s3_client.put_object(Bucket=bucket, Key="d1.md", Body=b"# Changed\n\nNew text.\n")

    jobs = [s3_invocation(source, f"d{i}.md") for i in range(3)]
    result = run_batch(source, jobs)

    assert result.success
    assert [r.job.status.word for r in records_of(jobs)] == ["complete"] * 3
    counts = summary(result)
    assert (counts["chunks_written"], counts["chunks_deleted"]) == (1, 1)
    assert counts["chunks_skipped"] == 1
    assert chunks_of("d0.md") == {}
    (entry,) = chunks_of("d1.md").values()
    assert entry["doc"] == "# Changed\n\nNew text."
    assert entry["meta"]["version_key"] == changed["ETag"].strip('"')
    assert collection().count() == 2


def test_custom_ids_metadata_targets_and_a_key_twice(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="inv.md", Body=b"# Invoice\n\nDue in 30 days.\n")
    s3_client.put_object(Bucket=bucket, Key="same.md", Body=b"# Same\n\nText.\n")
    source = create_s3_source(s3_server, bucket)
    store = catalog()
    custom = store.create_invocation(
        source.id,
        IndexJobMetadata.model_validate(
            {
                "s3": {"bucket_name": bucket, "object_key": "inv.md", "custom_id": "invoice-7"},
                "database_name": DATABASE,
                "collection_name": "other",
            }
        ),
        extra_metadata={"team": "billing", "year": 2026},
    )
    twice = [s3_invocation(source, "same.md"), s3_invocation(source, "same.md")]

    result = run_batch(source, [custom, *twice])

    assert result.success
    assert [r.job.status.word for r in records_of([custom, *twice])] == ["complete"] * 3
    got = collection("other").get(ids=["invoice-7-0"], include=["metadatas"])
    meta = got["metadatas"][0]
    assert (meta["custom_id"], meta["team"], meta["year"]) == ("invoice-7", "billing", 2026)
    assert meta["document_key"] == "inv.md"
    assert list(chunks_of("same.md")) == [f"{sha256_hex('same.md')}-0"]
    assert collection("other").metadata["finished_ingest"] is True


def test_unknown_source_fails_every_claimed_invocation(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    source = create_s3_source(s3_server, bucket)
    jobs = [s3_invocation(source, "a.md"), s3_invocation(source, "b.md")]
    missing = str(uuid.uuid4())

    result = run_batch(source, jobs, source_id=missing)

    assert result.success
    assert [r.job.status.error for r in records_of(jobs)] == [
        f"a.md: no S3 source {missing}",
        f"b.md: no S3 source {missing}",
    ]


def test_transient_errors_are_retried_and_permanent_ones_are_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transient, "RETRY_DELAY_S", 0.0)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        return "ok"

    assert transient.retrying(flaky, transient=transient.is_transient) == "ok"
    assert len(calls) == 3

    denied = ClientError(
        {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
        "GetObject",
    )
    slow = ClientError(
        {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
        "GetObject",
    )
    assert not transient.is_transient(denied)
    assert transient.is_transient(slow)
    attempts: list[int] = []

    def refuse() -> None:
        attempts.append(1)
        raise denied

    with pytest.raises(ClientError):
        transient.retrying(refuse, transient=transient.is_transient)
    assert len(attempts) == 1
    assert transient.describe("s3://b/k", denied) == "s3://b/k: AccessDenied (HTTP 403)"
