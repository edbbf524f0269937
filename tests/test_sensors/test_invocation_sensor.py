"""The invocation sensor as state transitions over a real catalog.

Contract: no pending invocation -> SkipReason; pending S3 invocations of one source -> one
batch RunRequest per ``max_batch_invocations`` (oldest first, run_key ``batch:<first id>``,
the same on every evaluation, config valid for the batch job, tags naming source, database and
batch size); a lone pending S3 invocation and every other type -> one RunRequest whose run_key
is the invocation id, whose run config validates against its job and whose tags name the
invocation, source and database; invocations a queued or running run was started for are not
proposed again; cancelled and finished invocations are never proposed; invocations of a deleted
source are cancelled, and those of a source type without a job are failed with a reason.
"""

from typing import Any

import dagster as dg
import pytest

from sensors.invocations import invocation_sensor
from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.names import (
    BATCH_SIZE_TAG,
    DATABASE_TAG,
    INVOCATION_TAG,
    SOURCE_TAG,
    SYNC_FILE_UPLOAD_JOB,
    SYNC_S3_BATCH_JOB,
    SYNC_S3_BATCH_OP,
    SYNC_S3_OBJECT_JOB,
)
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.run_requests import batch_run_request_for, run_request_for
from sync_pipelines.schemas import CreateSourcePayload, IndexJobMetadata, Job
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.s3_helpers import DATABASE, create_s3_source, s3_invocation


def catalog() -> Catalog:
    return Catalog(get_settings().resolved_catalog_url)


def tick(instance: dg.DagsterInstance | None = None) -> Any:
    context = dg.build_sensor_context(
        instance=instance,
        resources={"catalog": CatalogResource(url=get_settings().resolved_catalog_url)},
    )
    return invocation_sensor(context)


def requests_of(result: Any) -> list[dg.RunRequest]:
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or [])


def batch_ids(request: dg.RunRequest) -> list[str]:
    return list(request.run_config["ops"][SYNC_S3_BATCH_OP]["config"]["invocation_ids"])


def test_first_tick_with_nothing_pending_skips() -> None:
    result = tick()
    assert isinstance(result, dg.SkipReason)


def test_lone_pending_invocations_become_single_run_requests(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    other_bucket = f"{bucket}-2"
    s3_client.create_bucket(Bucket=other_bucket)
    sources = [create_s3_source(s3_server, bucket), create_s3_source(s3_server, other_bucket)]
    first = s3_invocation(sources[0], "a.md")
    second = s3_invocation(sources[1], "b.md")

    result = tick()

    assert isinstance(result, dg.SensorResult)
    requests = result.run_requests or []
    assert [r.run_key for r in requests] == [str(first.id), str(second.id)]
    job_def = build_definitions(get_settings()).resolve_job_def(SYNC_S3_OBJECT_JOB)
    for request, job, source in zip(requests, (first, second), sources, strict=True):
        assert request.job_name == SYNC_S3_OBJECT_JOB
        assert request.tags[INVOCATION_TAG] == str(job.id)
        assert request.tags[SOURCE_TAG] == str(source.id)
        assert request.tags[DATABASE_TAG] == DATABASE
        config = dg.validate_run_config(job_def, request.run_config)
        fetch = config["ops"]["fetch_s3_object_op"]["config"]
        assert fetch["source_id"] == str(source.id)
        assert fetch["target_collection"] == "docs"
    keys = [r.run_config["ops"]["fetch_s3_object_op"]["config"]["object_key"] for r in requests]
    assert keys == ["a.md", "b.md"]


def test_cancelled_and_finished_invocations_are_not_proposed(
    s3_server: LocalS3Server, bucket: str
) -> None:
    source = create_s3_source(s3_server, bucket)
    cancelled = s3_invocation(source, "a.md")
    done = s3_invocation(source, "b.md")
    live = s3_invocation(source, "c.md")
    assert catalog().cancel_if_pending(cancelled.id)
    assert catalog().mark_processing(done.id, "run-1")
    assert catalog().mark_complete(done.id)

    result = tick()

    assert isinstance(result, dg.SensorResult)
    assert [r.run_key for r in result.run_requests or []] == [str(live.id)]


def test_invocations_of_deleted_source_are_cancelled_not_run(
    s3_server: LocalS3Server, bucket: str
) -> None:
    source = create_s3_source(s3_server, bucket)
    job = s3_invocation(source, "a.md")
    store = catalog()
    store.delete_source(source.id)
    found = store.get_invocation(job.id)
    assert found is not None and found.status.word == "cancelled"
    assert isinstance(tick(), dg.SkipReason)


def test_web_invocation_becomes_a_web_sync_run() -> None:
    store = catalog()
    source = store.create_source(
        CreateSourcePayload.model_validate(
            {"database_name": DATABASE, "web_scrape": {"starting_url": "https://example.com/"}}
        )
    )
    metadata = IndexJobMetadata.model_validate(
        {
            "web_scrape": {"starting_url": "https://example.com/"},
            "database_name": DATABASE,
            "collection_name": "site",
        }
    )
    job = store.create_invocation(source.id, metadata)

    result = tick()

    assert isinstance(result, dg.SensorResult)
    [request] = result.run_requests or []
    assert request.job_name == "sync_web_job"
    assert request.run_key == str(job.id)
    assert request.run_config["ops"]["crawl_web_op"]["config"] == {
        "source_id": str(source.id),
        "target_collection": "site",
    }
    found = store.get_invocation(job.id)
    assert found is not None and found.status.word == "pending"


def test_pending_s3_invocations_of_one_source_become_one_batch(
    s3_server: LocalS3Server, bucket: str
) -> None:
    source = create_s3_source(s3_server, bucket)
    jobs = [s3_invocation(source, f"k{i}.md") for i in range(3)]

    (request,) = requests_of(tick())

    assert request.job_name == SYNC_S3_BATCH_JOB
    assert request.run_key == f"batch:{jobs[0].id}"
    assert batch_ids(request) == [str(j.id) for j in jobs]
    assert request.tags[SOURCE_TAG] == str(source.id)
    assert request.tags[DATABASE_TAG] == DATABASE
    assert request.tags[BATCH_SIZE_TAG] == "3"
    assert INVOCATION_TAG not in request.tags
    job_def = build_definitions(get_settings()).resolve_job_def(SYNC_S3_BATCH_JOB)
    config = dg.validate_run_config(job_def, request.run_config)
    assert config["ops"][SYNC_S3_BATCH_OP]["config"]["source_id"] == str(source.id)
    assert config["ops"][SYNC_S3_BATCH_OP]["config"]["max_object_bytes"] == (
        get_settings().max_object_bytes
    )


def test_two_sources_make_two_batches_and_reevaluation_is_deterministic(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.create_bucket(Bucket=f"{bucket}-2")
    one = create_s3_source(s3_server, bucket)
    two = create_s3_source(s3_server, f"{bucket}-2")
    jobs: list[Job] = []
    for i in range(3):
        jobs += [s3_invocation(one, f"a{i}.md"), s3_invocation(two, f"b{i}.md")]

    first = requests_of(tick())
    again = requests_of(tick())

    assert [r.run_key for r in first] == [f"batch:{jobs[0].id}", f"batch:{jobs[1].id}"]
    assert [batch_ids(r) for r in first] == [
        [str(j.id) for j in jobs[0::2]],
        [str(j.id) for j in jobs[1::2]],
    ]
    assert [r.tags[SOURCE_TAG] for r in first] == [str(one.id), str(two.id)]
    assert [(r.run_key, batch_ids(r)) for r in again] == [(r.run_key, batch_ids(r)) for r in first]


def test_more_than_max_pending_make_several_batches(
    s3_server: LocalS3Server, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHROMA_SYNC_MAX_BATCH_INVOCATIONS", "2")
    get_settings.cache_clear()
    source = create_s3_source(s3_server, bucket)
    jobs = [s3_invocation(source, f"k{i}.md") for i in range(5)]

    requests = requests_of(tick())

    assert [r.run_key for r in requests] == [
        f"batch:{jobs[0].id}",
        f"batch:{jobs[2].id}",
        str(jobs[4].id),
    ]
    assert [r.job_name for r in requests] == [
        SYNC_S3_BATCH_JOB,
        SYNC_S3_BATCH_JOB,
        SYNC_S3_OBJECT_JOB,
    ]
    assert batch_ids(requests[0]) == [str(jobs[0].id), str(jobs[1].id)]
    assert batch_ids(requests[1]) == [str(jobs[2].id), str(jobs[3].id)]
    assert requests[2].tags[INVOCATION_TAG] == str(jobs[4].id)


def test_batching_off_gives_one_run_per_invocation(
    s3_server: LocalS3Server, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHROMA_SYNC_MAX_BATCH_INVOCATIONS", "1")
    get_settings.cache_clear()
    source = create_s3_source(s3_server, bucket)
    jobs = [s3_invocation(source, f"k{i}.md") for i in range(3)]

    requests = requests_of(tick())

    assert [r.run_key for r in requests] == [str(j.id) for j in jobs]
    assert {r.job_name for r in requests} == {SYNC_S3_OBJECT_JOB}


def test_invocations_of_queued_or_running_runs_are_not_proposed_again(
    s3_server: LocalS3Server, bucket: str
) -> None:
    source = create_s3_source(s3_server, bucket)
    jobs = [s3_invocation(source, f"k{i}.md") for i in range(6)]
    records = catalog().get_invocation_records([j.id for j in jobs])
    definitions = build_definitions(get_settings())
    instance = dg.DagsterInstance.ephemeral()
    queued = batch_run_request_for(records[:3], source, max_object_bytes=1000)
    started = run_request_for(records[3], source, max_object_bytes=1000)
    for request, status in (
        (queued, dg.DagsterRunStatus.NOT_STARTED),
        (started, dg.DagsterRunStatus.STARTED),
    ):
        instance.create_run_for_job(
            definitions.resolve_job_def(request.job_name or ""),
            run_config=request.run_config,
            tags=request.tags,
            status=status,
        )

    (request,) = requests_of(tick(instance))

    assert request.run_key == f"batch:{jobs[4].id}"
    assert batch_ids(request) == [str(jobs[4].id), str(jobs[5].id)]


def test_other_types_keep_one_run_per_invocation() -> None:
    store = catalog()
    source = store.ensure_file_upload_source(DATABASE)
    jobs = []
    for name in ("a.md", "b.md"):
        metadata = IndexJobMetadata.model_validate(
            {
                "file_upload": {"filename": name},
                "database_name": DATABASE,
                "collection_name": "uploads",
            }
        )
        jobs.append(store.create_invocation(source.id, metadata, object_key=f"stored/{name}"))

    requests = requests_of(tick())

    assert [r.run_key for r in requests] == [str(j.id) for j in jobs]
    assert {r.job_name for r in requests} == {SYNC_FILE_UPLOAD_JOB}
    assert [r.tags[INVOCATION_TAG] for r in requests] == [str(j.id) for j in jobs]
