"""Backstops for runs that end without their ops reporting: crashes and cancellations.

A run whose worker process died is failed by the code server that launched it; its error
then names the run and how the worker died (``run <id> died: its worker process was terminated
by signal 9 (SIGKILL)``). A run that Dagster's run monitoring failed because it never started
(start timeout) fails only the invocations it was processing: its pending ones never ran, and
the reconciler (``sensors/reconciler.py``) launches them again once. Runs the reconciler
released are left alone.
"""

import warnings

import dagster as dg

from sync_pipelines.jobs import SYNC_JOBS
from sync_pipelines.ops.tracking import RELEASED_TAG, fail_run_invocations
from sync_pipelines.resources.catalog import CatalogResource

# Dagster's own run-status sensor decorators pass its beta ``owners`` parameter internally.
warnings.filterwarnings("ignore", message="Parameter `owners`", category=dg.BetaWarning)

#: How many of a run's last engine events are searched for its worker's crash explanation.
CRASH_EVENTS = 10


def _fail_invocation(
    catalog: CatalogResource, run: dg.DagsterRun, reason: str, *, pending: bool = True
) -> None:
    """Fail the run's invocation (every one it holds, for a batch run) if still active."""
    if RELEASED_TAG in run.tags:
        return
    error = f"run {run.run_id}{reason}"
    store = catalog.get_catalog()
    fail_run_invocations(store, dict(run.tags), run.run_id, run.run_config, error, pending=pending)


def crash_explanation(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """How the run's worker process died, from the code server's engine event, if it says."""
    prefix = f"Run execution process for {run_id} "
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=CRASH_EVENTS, ascending=False
    ).records
    for record in records:
        entry = record.event_log_entry
        event = entry.dagster_event
        message = (event.message if event is not None else None) or entry.user_message or ""
        if prefix in message:
            how = message.split(prefix, 1)[1].split(". ")[0].rstrip(".")
            return f"its worker process {how}"
    return None


def failure_reason(event: dg.DagsterEvent) -> str | None:
    """The ``RunFailureReason`` value of a run failure event, when it carries one."""
    data = event.event_specific_data
    reason = getattr(data, "failure_reason", None)
    return getattr(reason, "value", None)


@dg.run_failure_sensor(
    name="invocation_run_failure_sensor",
    monitored_jobs=SYNC_JOBS,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Marks an invocation (every invocation of a batch run) failed when its run fails "
        "outside an op (e.g. a crash)."
    ),
)
def invocation_run_failure_sensor(
    context: dg.RunFailureSensorContext, catalog: CatalogResource
) -> None:
    """Fail the run's invocation if it is still active."""
    run = context.dagster_run
    crash = crash_explanation(context.instance, run.run_id)
    if crash is not None:
        _fail_invocation(catalog, run, f" died: {crash}")
        return
    message = context.failure_event.message or "the Dagster run failed"
    started = failure_reason(context.failure_event) != "START_TIMEOUT"
    _fail_invocation(catalog, run, f": {message}", pending=started)


@dg.run_status_sensor(
    name="invocation_run_canceled_sensor",
    run_status=dg.DagsterRunStatus.CANCELED,
    monitored_jobs=SYNC_JOBS,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks an invocation failed when its run is terminated in Dagster.",
)
def invocation_run_canceled_sensor(
    context: dg.RunStatusSensorContext, catalog: CatalogResource
) -> None:
    """Fail the run's invocation if it is still active."""
    _fail_invocation(catalog, context.dagster_run, " was terminated in Dagster")
