"""The run-status backstops for a batch run that dies (crash, termination).

Contract: when a batch run fails or is cancelled outside its op, every invocation it claimed and
did not finish is failed with ``run <id>: <reason>``, every invocation of its batch it never
claimed (still pending) is failed too, and finished invocations and other runs' invocations are
untouched. A single-object run's backstop still fails just its own invocation, and not when
a duplicate run of that invocation is processing it.
"""

from typing import Any

import dagster as dg

from sensors.run_status import invocation_run_canceled_sensor, invocation_run_failure_sensor
from sync_pipelines.catalog import Catalog
from sync_pipelines.catalog.base import utcnow
from sync_pipelines.catalog.invocation_batches import InvocationOutcome
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.names import SYNC_S3_OBJECT_JOB
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.run_requests import batch_run_request_for, run_request_for
from sync_pipelines.schemas import Job
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.s3_helpers import create_s3_source, s3_invocation


def catalog() -> Catalog:
    return Catalog(get_settings().resolved_catalog_url)


def create_run(instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.DagsterRun:
    job_def = build_definitions(get_settings()).resolve_job_def(request.job_name or "")
    return instance.create_run_for_job(
        job_def,
        run_config=request.run_config,
        tags=request.tags,
        status=dg.DagsterRunStatus.STARTED,
    )


def status_context(
    instance: dg.DagsterInstance, run: dg.DagsterRun, event: Any, name: str
) -> dg.RunStatusSensorContext:
    refreshed = instance.get_run_by_id(run.run_id)
    assert refreshed is not None
    return dg.build_run_status_sensor_context(
        sensor_name=name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=refreshed,
        resources={"catalog": CatalogResource(url=get_settings().resolved_catalog_url)},
    )


def words(jobs: list[Job]) -> list[str]:
    return [r.job.status.word for r in catalog().get_invocation_records([j.id for j in jobs])]


def test_failed_batch_run_fails_what_it_still_holds(s3_server: LocalS3Server, bucket: str) -> None:
    source = create_s3_source(s3_server, bucket)
    jobs = [s3_invocation(source, f"k{i}.md") for i in range(5)]
    bystander = s3_invocation(source, "other.md")
    store = catalog()
    instance = dg.DagsterInstance.ephemeral()
    records = store.get_invocation_records([j.id for j in jobs])
    run = create_run(instance, batch_run_request_for(records, source, max_object_bytes=1000))
    # The run claimed 0-2 and finished 0 before it died; 3 was taken by another run first,
    # 4 was never claimed.
    assert store.mark_processing(jobs[3].id, "other-run")
    assert store.mark_processing_many([j.id for j in jobs[:3]], run.run_id) == [
        j.id for j in jobs[:3]
    ]
    now = utcnow()
    store.finish_many(run.run_id, [InvocationOutcome(jobs[0].id, now, now)])
    event = instance.report_run_failed(run, message="the run worker exited unexpectedly")

    context = status_context(instance, run, event, "invocation_run_failure_sensor")
    invocation_run_failure_sensor(context.for_run_failure())

    assert words(jobs) == ["complete", "failed", "failed", "processing", "failed"]
    assert words([bystander]) == ["pending"]
    errors = [r.job.status.error for r in store.get_invocation_records([jobs[1].id, jobs[4].id])]
    assert all(e.startswith(f"run {run.run_id}: ") for e in errors)
    assert all("the run worker exited unexpectedly" in e for e in errors)


def test_terminated_batch_run_fails_its_processing_invocations(
    s3_server: LocalS3Server, bucket: str
) -> None:
    source = create_s3_source(s3_server, bucket)
    jobs = [s3_invocation(source, f"k{i}.md") for i in range(2)]
    store = catalog()
    instance = dg.DagsterInstance.ephemeral()
    records = store.get_invocation_records([j.id for j in jobs])
    run = create_run(instance, batch_run_request_for(records, source, max_object_bytes=1000))
    store.mark_processing_many([j.id for j in jobs], run.run_id)
    event = instance.report_run_canceled(run)

    context = status_context(instance, run, event, "invocation_run_canceled_sensor")
    invocation_run_canceled_sensor(context)

    assert words(jobs) == ["failed", "failed"]
    for record in store.get_invocation_records([j.id for j in jobs]):
        assert record.job.status.error == f"run {run.run_id} was terminated in Dagster"


def test_failed_single_object_run_fails_only_its_invocation(
    s3_server: LocalS3Server, bucket: str
) -> None:
    source = create_s3_source(s3_server, bucket)
    mine, other = s3_invocation(source, "a.md"), s3_invocation(source, "b.md")
    store = catalog()
    instance = dg.DagsterInstance.ephemeral()
    record = store.get_invocation_record(mine.id)
    assert record is not None
    request = run_request_for(record, source, max_object_bytes=1000)
    assert request.job_name == SYNC_S3_OBJECT_JOB
    run = create_run(instance, request)
    assert store.mark_processing(mine.id, run.run_id)
    event = instance.report_run_failed(run, message="boom")

    context = status_context(instance, run, event, "invocation_run_failure_sensor")
    invocation_run_failure_sensor(context.for_run_failure())

    assert words([mine, other]) == ["failed", "pending"]


def test_dead_duplicate_run_spares_the_invocation_another_run_processes(
    s3_server: LocalS3Server, bucket: str
) -> None:
    source = create_s3_source(s3_server, bucket)
    job = s3_invocation(source, "a.md")
    store = catalog()
    instance = dg.DagsterInstance.ephemeral()
    record = store.get_invocation_record(job.id)
    assert record is not None
    request = run_request_for(record, source, max_object_bytes=1000)
    duplicate = create_run(instance, request)
    assert store.mark_processing(job.id, "the-run-that-won")
    event = instance.report_run_failed(duplicate, message="launch failed")

    context = status_context(instance, duplicate, event, "invocation_run_failure_sensor")
    invocation_run_failure_sensor(context.for_run_failure())

    assert words([job]) == ["processing"]
