"""The reconciler as state transitions over a real Dagster instance and a real catalog.

Contract: a ``processing`` invocation whose run is missing, ended (past the run-status
sensors' grace) or whose worker process is gone is failed with ``run <id> ...`` naming why,
and a run Dagster still shows in progress is reported failed; one whose run lives (worker
alive, or ended within the grace) is untouched. A ``pending`` invocation whose run key is held
by a run left ``NOT_STARTED`` past the bound is launched again exactly once: the run is
released (canceled, key renamed) so the invocation sensor proposes it afresh, and when that run
is orphaned too the invocation is failed; within the bound it is untouched. A batch run left
``NOT_STARTED`` frees every pending invocation it listed. The run-status backstops leave
released runs alone, and a start timeout fails only what the run was processing. New and
existing Dagster homes get run monitoring, unless their ``dagster.yaml`` configures it.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.events import JobFailureData, RunFailureReason

from sensors.invocations import invocation_sensor
from sensors.reconciler import BOUNDS, RUN_KEY_TAG, invocation_reconciler, reconcile
from sensors.run_status import invocation_run_canceled_sensor, invocation_run_failure_sensor
from sync_pipelines.catalog import Catalog
from sync_pipelines.core.run_liveness import process_alive
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.dagster_stack import (
    INSTANCE_SETTINGS,
    RUN_MONITORING,
    SQLITE_STORAGE,
    write_instance_config,
)
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.names import INVOCATION_SENSOR
from sync_pipelines.ops.tracking import RELEASED_TAG
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.run_requests import batch_run_request_for, run_request_for
from sync_pipelines.schemas import Job, Source
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.s3_helpers import create_s3_source, s3_invocation

SENSOR_NAME_TAG = "dagster/sensor_name"
PAST_ORPHAN = BOUNDS.orphan_s + 1
PAST_GRACE = BOUNDS.terminal_grace_s + 1


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.local_temp() as local:
        yield local


@pytest.fixture
def source(s3_server: LocalS3Server, bucket: str) -> Source:
    return create_s3_source(s3_server, bucket)


def store() -> Catalog:
    return Catalog(get_settings().resolved_catalog_url)


def resources() -> dict[str, Any]:
    return {"catalog": CatalogResource(url=get_settings().resolved_catalog_url)}


def tick(instance: dg.DagsterInstance) -> Any:
    return invocation_reconciler(dg.build_sensor_context(instance=instance, resources=resources()))


def status_of(job: Job) -> tuple[str, str | None]:
    record = store().get_invocation_record(job.id)
    assert record is not None
    status = record.job.status
    return status.word, getattr(status, "error", None)


def create_run(
    instance: dg.DagsterInstance,
    request: dg.RunRequest,
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.NOT_STARTED,
) -> dg.DagsterRun:
    """A run as the invocation sensor's daemon creates it (run key and sensor tags)."""
    job_def = build_definitions(get_settings()).resolve_job_def(request.job_name or "")
    tags = {**request.tags, RUN_KEY_TAG: request.run_key or "", SENSOR_NAME_TAG: INVOCATION_SENSOR}
    return instance.create_run_for_job(
        job_def, run_config=request.run_config, tags=tags, status=status
    )


def single_run(instance: dg.DagsterInstance, source: Source, job: Job) -> dg.DagsterRun:
    record = store().get_invocation_record(job.id)
    assert record is not None
    return create_run(instance, run_request_for(record, source, max_object_bytes=1000))


def start(instance: dg.DagsterInstance, run: dg.DagsterRun, pid: int) -> None:
    """Record the run's RUN_START as reported by worker ``pid`` (Dagster moves it to STARTED)."""
    event = dg.DagsterEvent(
        event_type_value=dg.DagsterEventType.RUN_START.value, job_name=run.job_name, pid=pid
    )
    instance.report_dagster_event(event, run.run_id)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def run_status(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dg.DagsterRunStatus:
    got = instance.get_run_by_id(run.run_id)
    assert got is not None
    return got.status


def test_processing_invocation_of_a_missing_run_is_failed(source: Source) -> None:
    job = s3_invocation(source, "a.md")
    assert store().mark_processing(job.id, "gone-run")
    with dg.DagsterInstance.local_temp() as instance:
        tick(instance)
    assert status_of(job) == ("failed", "run gone-run died: the run is not in Dagster")


def test_processing_invocation_whose_worker_is_gone_is_failed_with_its_run(
    instance: dg.DagsterInstance, source: Source
) -> None:
    job, bystander = s3_invocation(source, "a.md"), s3_invocation(source, "b.md")
    run = single_run(instance, source, job)
    pid = dead_pid()
    start(instance, run, pid)
    assert store().mark_processing(job.id, run.run_id)

    tick(instance)

    expected = f"run {run.run_id} died: worker process {pid} is gone"
    assert status_of(job) == ("failed", expected)
    assert status_of(bystander) == ("pending", None)
    assert run_status(instance, run) == dg.DagsterRunStatus.FAILURE


def test_processing_invocation_with_a_live_worker_is_untouched(
    instance: dg.DagsterInstance, source: Source
) -> None:
    job = s3_invocation(source, "a.md")
    run = single_run(instance, source, job)
    start(instance, run, os.getpid())
    assert store().mark_processing(job.id, run.run_id)

    tick(instance)
    reconcile(instance, store(), now=time.time() + PAST_ORPHAN)

    assert status_of(job) == ("processing", None)
    assert run_status(instance, run) == dg.DagsterRunStatus.STARTED


def test_processing_invocation_of_an_ended_run_is_failed_after_the_grace(
    instance: dg.DagsterInstance, source: Source
) -> None:
    jobs = [s3_invocation(source, f"k{i}.md") for i in range(3)]
    records = store().get_invocation_records([j.id for j in jobs])
    run = create_run(instance, batch_run_request_for(records, source, max_object_bytes=1000))
    start(instance, run, os.getpid())
    store().mark_processing_many([j.id for j in jobs], run.run_id)
    instance.report_run_failed(run, message="lost")

    reconcile(instance, store())
    assert [status_of(j)[0] for j in jobs] == ["processing"] * 3

    reconcile(instance, store(), now=time.time() + PAST_GRACE)
    error = f"run {run.run_id} ended FAILURE without finishing the invocation"
    assert [status_of(j) for j in jobs] == [("failed", error)] * 3


def test_orphaned_not_started_run_is_released_and_its_invocation_relaunched_once(
    instance: dg.DagsterInstance, source: Source
) -> None:
    job = s3_invocation(source, "a.md")
    first = single_run(instance, source, job)

    tick(instance)  # within the bound: a sensor tick may still be submitting it
    assert status_of(job) == ("pending", None)
    assert run_status(instance, first) == dg.DagsterRunStatus.NOT_STARTED

    reconcile(instance, store(), now=time.time() + PAST_ORPHAN)

    assert status_of(job) == ("pending", None)
    released = instance.get_run_by_id(first.run_id)
    assert released is not None
    assert released.status == dg.DagsterRunStatus.CANCELED
    assert released.tags[RELEASED_TAG] == "true"
    assert instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: str(job.id)})) == []
    proposed = invocation_sensor(dg.build_sensor_context(instance=instance, resources=resources()))
    assert isinstance(proposed, dg.SensorResult)
    assert [r.run_key for r in proposed.run_requests or []] == [str(job.id)]
    # The canceled sensor leaves the released run's invocation pending.
    last = instance.get_records_for_run(first.run_id).records[-1].event_log_entry.dagster_event
    assert last is not None and last.event_type == dg.DagsterEventType.RUN_CANCELED
    canceled = dg.build_run_status_sensor_context(
        sensor_name="invocation_run_canceled_sensor",
        dagster_event=last,
        dagster_instance=instance,
        dagster_run=released,
        resources=resources(),
    )
    invocation_run_canceled_sensor(canceled)
    assert status_of(job) == ("pending", None)

    second = single_run(instance, source, job)
    reconcile(instance, store(), now=time.time() + PAST_ORPHAN)

    word, error = status_of(job)
    assert word == "failed"
    assert error is not None and error.startswith(f"run {second.run_id} died: never launched")
    assert error.endswith("relaunched once already")
    assert run_status(instance, second) == dg.DagsterRunStatus.CANCELED


def test_orphaned_batch_run_frees_every_pending_invocation_it_listed(
    instance: dg.DagsterInstance, source: Source
) -> None:
    jobs = [s3_invocation(source, f"k{i}.md") for i in range(3)]
    records = store().get_invocation_records([j.id for j in jobs])
    run = create_run(instance, batch_run_request_for(records, source, max_object_bytes=1000))
    assert store().cancel_if_pending(jobs[0].id)  # the key holder is no longer pending

    verdicts = reconcile(instance, store(), now=time.time() + PAST_ORPHAN)

    assert [v.run_id for v in verdicts] == [run.run_id]
    assert [status_of(j)[0] for j in jobs] == ["cancelled", "pending", "pending"]
    assert run_status(instance, run) == dg.DagsterRunStatus.CANCELED
    proposed = invocation_sensor(dg.build_sensor_context(instance=instance, resources=resources()))
    assert isinstance(proposed, dg.SensorResult)
    assert [r.run_key for r in proposed.run_requests or []] == [f"batch:{jobs[1].id}"]


def test_start_timeout_fails_only_what_the_run_processed(
    instance: dg.DagsterInstance, source: Source
) -> None:
    job = s3_invocation(source, "a.md")
    run = single_run(instance, source, job)
    data = JobFailureData(error=None, failure_reason=RunFailureReason.START_TIMEOUT)
    event = instance.report_run_failed(run, "Run timed out", data)
    refreshed = instance.get_run_by_id(run.run_id)
    assert refreshed is not None
    context = dg.build_run_status_sensor_context(
        sensor_name="invocation_run_failure_sensor",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=refreshed,
        resources=resources(),
    )

    invocation_run_failure_sensor(context.for_run_failure())
    assert status_of(job) == ("pending", None)

    reconcile(instance, store(), now=time.time() + PAST_ORPHAN)
    assert status_of(job) == ("pending", None)
    assert instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: str(job.id)})) == []


def test_process_alive_tells_a_reused_pid_from_the_worker() -> None:
    assert process_alive(os.getpid(), time.time())
    assert not process_alive(os.getpid(), time.time() - 3600)  # started after the "event"
    assert not process_alive(dead_pid(), time.time())


def test_new_and_existing_homes_get_run_monitoring(tmp_path: Path) -> None:
    fresh = write_instance_config(tmp_path / "fresh")
    old = tmp_path / "old"
    old.mkdir()
    before = SQLITE_STORAGE.format(storage=old / "storage") + INSTANCE_SETTINGS
    (old / "dagster.yaml").write_text(before.replace(RUN_MONITORING, ""))
    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("run_monitoring:\n  enabled: false\n")

    for folder in (fresh, old, own):
        write_instance_config(folder)
    write_instance_config(old)  # appended once, not again

    for folder, enabled in ((fresh, True), (old, True), (own, False)):
        with dg.DagsterInstance.from_config(str(folder)) as configured:
            assert configured.run_monitoring_enabled is enabled
    assert (old / "dagster.yaml").read_text().count("run_monitoring:") == 1
    with dg.DagsterInstance.from_config(str(old)) as configured:
        assert configured.run_monitoring_start_timeout_seconds == 60
        assert configured.run_monitoring_max_resume_run_attempts == 0
