"""The invocation sensor: pending invocations in the catalog become Dagster runs.

The API only records invocations; this sensor launches them. Because the run key is the
invocation id, a run is created exactly once per invocation however many ticks propose it, and
an invocation accepted while Dagster was down is launched on the first tick after it is back.
When the bridge launches runs itself (``dagster_url`` set), its runs carry this sensor's run key
tags, so the sensor only picks up what the bridge could not launch.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from sync_pipelines.jobs import SYNC_JOBS
from sync_pipelines.names import INVOCATION_SENSOR
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.run_requests import UnsupportedInvocationError, run_request_for
from sync_pipelines.settings import get_settings

MAX_PER_TICK = 1000


@dg.sensor(
    name=INVOCATION_SENSOR,
    jobs=SYNC_JOBS,
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Launches one run per pending invocation created through the HTTP API "
        "(run key = invocation id)."
    ),
)
def invocation_sensor(
    context: dg.SensorEvaluationContext, catalog: CatalogResource
) -> dg.SensorResult | dg.SkipReason:
    """Propose a run for every pending invocation; fail those that cannot run."""
    store = catalog.get_catalog()
    settings = get_settings()
    pending = store.pending_records(limit=MAX_PER_TICK)
    if settings.dagster_url:
        # The bridge launches at once; leave it a head start so both never launch together.
        cutoff = datetime.now(UTC) - timedelta(seconds=settings.launch_grace_seconds)
        pending = [r for r in pending if r.job.created_at <= cutoff]
    if not pending:
        return dg.SkipReason("no pending invocations")
    max_bytes = settings.max_object_bytes
    requests: list[dg.RunRequest] = []
    for record in pending:
        source_id = record.job.source_id
        source = store.get_source(source_id) if source_id is not None else None
        try:
            requests.append(run_request_for(record, source, max_object_bytes=max_bytes))
        except UnsupportedInvocationError as exc:
            store.mark_failed(record.job.id, str(exc))
            context.log.warning(f"invocation {record.job.id} failed: {exc}")
    if not requests:
        return dg.SkipReason("no runnable pending invocations")
    return dg.SensorResult(run_requests=requests)
