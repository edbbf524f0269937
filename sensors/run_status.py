"""Backstops for runs that end without their ops reporting: crashes and cancellations."""

import warnings

import dagster as dg

from sync_pipelines.jobs import SYNC_JOBS
from sync_pipelines.ops.tracking import fail_run_invocations
from sync_pipelines.resources.catalog import CatalogResource

# Dagster's own run-status sensor decorators pass its beta ``owners`` parameter internally.
warnings.filterwarnings("ignore", message="Parameter `owners`", category=dg.BetaWarning)


def _fail_invocation(catalog: CatalogResource, run: dg.DagsterRun, reason: str) -> None:
    """Fail the run's invocation (every one it holds, for a batch run) if still active."""
    error = f"run {run.run_id}{reason}"
    fail_run_invocations(catalog.get_catalog(), dict(run.tags), run.run_id, run.run_config, error)


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
    message = context.failure_event.message or "the Dagster run failed"
    _fail_invocation(catalog, context.dagster_run, f": {message}")


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
