"""Run plans: the Dagster-free description of the run that syncs a pending invocation.

Contract: the API bridge launches runs from ``RunPlan.run_config`` without Dagster, so for
every source type that plain config must validate against its job and equal, field for field,
the typed ``RunRequest`` the sensor builds from the same plan; a deleted source or a source
type without a job raises ``UnsupportedInvocationError``.
"""

import uuid
from typing import Any

import dagster as dg
import pytest

from sync_pipelines.catalog import Catalog
from sync_pipelines.catalog.models import InvocationRecord
from sync_pipelines.definitions import build_definitions
from sync_pipelines.names import BATCH_SIZE_TAG
from sync_pipelines.run_plans import UnsupportedInvocationError, batch_plan_for, plan_for
from sync_pipelines.run_requests import batch_run_request_for, run_request_for
from sync_pipelines.schemas import CreateSourcePayload, IndexJobMetadata, Source
from sync_pipelines.settings import get_settings

DATABASE = "plans-db"
MAX_BYTES = 1234


def record_of(store: Catalog, job_id: uuid.UUID) -> InvocationRecord:
    record = store.get_invocation_record(job_id)
    assert record is not None
    return record


def source_and_record(
    store: Catalog, source_body: dict[str, Any], metadata: dict[str, Any], **extra: Any
) -> tuple[Source, InvocationRecord]:
    source = store.create_source(
        CreateSourcePayload.model_validate({"database_name": DATABASE, **source_body})
    )
    job = store.create_invocation(
        source.id,
        IndexJobMetadata.model_validate({"database_name": DATABASE, **metadata}),
        **extra,
    )
    return source, record_of(store, job.id)


CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]] = {
    "s3": (
        {"s3": {"bucket_name": "b", "region": "us-east-1", "collection_name": "kb1"}},
        {"s3": {"bucket_name": "b", "object_key": "docs/a.md"}, "collection_name": "kb1"},
        {"object_key": "docs/a.md", "custom_id": "doc-7", "extra_metadata": {"team": "x"}},
        "fetch_s3_object_op",
    ),
    "web_scrape": (
        {"web_scrape": {"starting_url": "https://example.com/"}},
        {"web_scrape": {"starting_url": "https://example.com/"}, "collection_name": "site"},
        {},
        "crawl_web_op",
    ),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_plain_plan_validates_and_matches_the_typed_run_request(kind: str) -> None:
    store = Catalog(get_settings().resolved_catalog_url)
    source_body, metadata, extra, op_name = CASES[kind]
    source, record = source_and_record(store, source_body, metadata, **extra)

    live = store.get_source(source.id)
    plan = plan_for(record, live, max_object_bytes=MAX_BYTES)
    request = run_request_for(record, live, max_object_bytes=MAX_BYTES)

    job_def = build_definitions(get_settings()).resolve_job_def(plan.job_name)
    validated = dg.validate_run_config(job_def, plan.run_config)
    assert plan.op_name == op_name and plan.job_name == request.job_name
    assert plan.run_key == request.run_key == str(record.job.id)
    assert plan.tags == request.tags
    assert plan.run_config["ops"][op_name] == request.run_config["ops"][op_name]
    assert validated["ops"][op_name]["config"]["source_id"] == str(source.id)
    if kind == "s3":
        assert plan.op_config["custom_id"] == "doc-7"
        assert plan.op_config["metadata"] == {"team": "x"}
        assert plan.op_config["max_object_bytes"] == MAX_BYTES


def test_batch_plan_matches_the_typed_batch_request() -> None:
    store = Catalog(get_settings().resolved_catalog_url)
    source_body, metadata, _, _ = CASES["s3"]
    source, first = source_and_record(store, source_body, metadata, object_key="a.md")
    job = store.create_invocation(
        source.id,
        IndexJobMetadata.model_validate({"database_name": DATABASE, **metadata}),
        object_key="b.md",
    )
    second = record_of(store, job.id)
    live = store.get_source(source.id)

    plan = batch_plan_for([first, second], live, max_object_bytes=MAX_BYTES)
    request = batch_run_request_for([first, second], live, max_object_bytes=MAX_BYTES)

    job_def = build_definitions(get_settings()).resolve_job_def(plan.job_name)
    dg.validate_run_config(job_def, plan.run_config)
    assert plan.run_key == request.run_key == f"batch:{first.job.id}"
    assert plan.run_config["ops"] == request.run_config["ops"]
    assert plan.op_config["invocation_ids"] == [str(first.job.id), str(second.job.id)]
    assert plan.tags[BATCH_SIZE_TAG] == "2"


def test_deleted_source_and_unknown_type_are_unsupported() -> None:
    store = Catalog(get_settings().resolved_catalog_url)
    source_body, metadata, extra, _ = CASES["s3"]
    _, record = source_and_record(store, source_body, metadata, **extra)
    with pytest.raises(UnsupportedInvocationError, match="no longer exists"):
        plan_for(record, None, max_object_bytes=MAX_BYTES)
    with pytest.raises(UnsupportedInvocationError, match="no longer exists"):
        batch_plan_for([record], None, max_object_bytes=MAX_BYTES)
