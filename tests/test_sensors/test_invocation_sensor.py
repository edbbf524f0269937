"""The invocation sensor as state transitions over a real catalog.

Contract: no pending invocation -> SkipReason; each pending invocation -> one RunRequest whose
run_key is the invocation id, whose run config validates against its job and whose tags name
the invocation, source and database; cancelled and finished invocations are never proposed;
invocations of a deleted source are cancelled, and those of a source type without a job are
failed with a reason.
"""

from typing import Any

import dagster as dg

from sensors.invocations import invocation_sensor
from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.names import DATABASE_TAG, INVOCATION_TAG, SOURCE_TAG, SYNC_S3_OBJECT_JOB
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.schemas import CreateSourcePayload, IndexJobMetadata
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.s3_helpers import DATABASE, create_s3_source, s3_invocation


def catalog() -> Catalog:
    return Catalog(get_settings().resolved_catalog_url)


def tick() -> Any:
    context = dg.build_sensor_context(
        resources={"catalog": CatalogResource(url=get_settings().resolved_catalog_url)}
    )
    return invocation_sensor(context)


def test_first_tick_with_nothing_pending_skips() -> None:
    result = tick()
    assert isinstance(result, dg.SkipReason)


def test_pending_invocations_become_run_requests(s3_server: LocalS3Server, bucket: str) -> None:
    source = create_s3_source(s3_server, bucket)
    first = s3_invocation(source, "a.md")
    second = s3_invocation(source, "b.md")

    result = tick()

    assert isinstance(result, dg.SensorResult)
    requests = result.run_requests or []
    assert [r.run_key for r in requests] == [str(first.id), str(second.id)]
    job_def = build_definitions(get_settings()).resolve_job_def(SYNC_S3_OBJECT_JOB)
    for request, job in zip(requests, (first, second), strict=True):
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


def test_source_type_without_a_job_is_failed_with_reason() -> None:
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

    assert isinstance(result, dg.SkipReason)
    found = store.get_invocation(job.id)
    assert found is not None
    assert found.status.word == "failed"
    assert "web_scrape sources cannot be synced" in found.status.error
