"""The invocation sensor: pending invocations in the catalog become Dagster runs.

The API only records invocations; this sensor launches them. Pending S3 invocations of one
source are grouped, oldest first, into batches of at most ``max_batch_invocations``: each batch
is one ``sync_s3_batch_job`` run whose run key is ``batch:<first invocation id>`` (a run start
costs seconds, far more than a small object's sync). A lone pending S3 invocation, and every
other type, gets a run of its own whose run key is the invocation id. Either way Dagster
creates a run once per key however many ticks propose it, and an invocation accepted while
Dagster was down is launched on the first tick after it is back.

Why a lone S3 invocation gets the single-object job rather than a batch of one: measured in
process, the two cost the same within noise (~0.23 s vs ~0.28 s, against seconds for any run
start), and the single-object run keeps the invocation tag and the run key the API's direct
launch uses, so the two launch paths deduplicate on the same key.

Invocations that a queued or running sync run was started for are not proposed again, so a
burst of creates is split into disjoint batches while earlier runs are still starting.

When the bridge launches runs itself (``dagster_url`` set), its runs carry this sensor's run key
tags, and the sensor leaves each invocation the bridge may launch to it for the grace period:
every non-S3 invocation, and only the oldest pending S3 invocation of a source when batching
(the bridge launches an S3 invocation only when it is its source's only pending one).
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg

from sync_pipelines.catalog import Catalog, InvocationRecord
from sync_pipelines.jobs import SYNC_JOBS
from sync_pipelines.names import INVOCATION_SENSOR
from sync_pipelines.ops.tracking import batch_invocation_ids, invocation_id
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.run_requests import (
    UnsupportedInvocationError,
    batch_run_request_for,
    run_request_for,
)
from sync_pipelines.schemas import Source
from sync_pipelines.settings import get_settings

MAX_PER_TICK = 1000
ACTIVE_RUNS_LIMIT = 1000
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _taken_by_active_runs(context: dg.SensorEvaluationContext) -> set[uuid.UUID]:
    """Invocations that a queued or running sync run was started for."""
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # a test context built without an instance
        return set()
    job_names = {job.name for job in SYNC_JOBS}
    runs = instance.get_runs(
        filters=dg.RunsFilter(statuses=ACTIVE_STATUSES), limit=ACTIVE_RUNS_LIMIT
    )
    taken: set[uuid.UUID] = set()
    for run in runs:
        if run.job_name not in job_names:
            continue
        single = invocation_id(run.tags)
        if single is not None:
            taken.add(single)
        taken.update(batch_invocation_ids(run.run_config))
    return taken


def _is_batchable(record: InvocationRecord, batching: bool) -> bool:
    return batching and record.source_type == "s3" and record.job.source_id is not None


def _past_grace(
    pending: Sequence[InvocationRecord], cutoff: datetime, batching: bool
) -> list[InvocationRecord]:
    """Drop what the bridge may still be launching itself (see the module docstring)."""
    first_of_source: set[uuid.UUID] = set()
    kept: list[InvocationRecord] = []
    for record in pending:
        young = record.job.created_at > cutoff
        source_id = record.job.source_id
        if _is_batchable(record, batching) and source_id is not None:
            oldest = source_id not in first_of_source
            first_of_source.add(source_id)
            if young and oldest:
                continue
        elif young:
            continue
        kept.append(record)
    return kept


def _units(
    pending: Sequence[InvocationRecord], max_batch: int
) -> list[tuple[uuid.UUID | None, list[InvocationRecord]]]:
    """Split pending invocations into runs: batches per S3 source, single ones otherwise."""
    batching = max_batch > 1
    by_source: dict[uuid.UUID, list[InvocationRecord]] = {}
    units: list[tuple[uuid.UUID | None, list[InvocationRecord]]] = []
    for record in pending:
        source_id = record.job.source_id
        if _is_batchable(record, batching) and source_id is not None:
            group = by_source.setdefault(source_id, [])
            if not group or len(group) >= max_batch:
                group = by_source[source_id] = [record]
                units.append((source_id, group))
            else:
                group.append(record)
        else:
            units.append((source_id, [record]))
    return units


def _request(
    records: list[InvocationRecord], source: Source | None, max_bytes: int
) -> dg.RunRequest:
    if len(records) == 1:
        return run_request_for(records[0], source, max_object_bytes=max_bytes)
    return batch_run_request_for(records, source, max_object_bytes=max_bytes)


def _source_of(
    store: Catalog, cache: dict[uuid.UUID, Source | None], sid: uuid.UUID | None
) -> Source | None:
    if sid is None:
        return None
    if sid not in cache:
        cache[sid] = store.get_source(sid)
    return cache[sid]


@dg.sensor(
    name=INVOCATION_SENSOR,
    jobs=SYNC_JOBS,
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Launches pending invocations created through the HTTP API: pending S3 invocations of "
        "one source as one batch run (run key batch:<first id>), every other one as a run of "
        "its own (run key = invocation id)."
    ),
)
def invocation_sensor(
    context: dg.SensorEvaluationContext, catalog: CatalogResource
) -> dg.SensorResult | dg.SkipReason:
    """Propose runs for pending invocations (batched per S3 source); fail those that cannot run."""
    store = catalog.get_catalog()
    settings = get_settings()
    max_batch = settings.max_batch_invocations
    pending = store.pending_records(limit=MAX_PER_TICK)
    if settings.dagster_url:
        cutoff = datetime.now(UTC) - timedelta(seconds=settings.launch_grace_seconds)
        pending = _past_grace(pending, cutoff, max_batch > 1)
    if pending:
        taken = _taken_by_active_runs(context)
        pending = [r for r in pending if r.job.id not in taken]
    if not pending:
        return dg.SkipReason("no pending invocations")
    sources: dict[uuid.UUID, Source | None] = {}
    requests: list[dg.RunRequest] = []
    for source_id, records in _units(pending, max_batch):
        source = _source_of(store, sources, source_id)
        try:
            requests.append(_request(records, source, settings.max_object_bytes))
        except UnsupportedInvocationError as exc:
            for record in records:
                store.mark_failed(record.job.id, str(exc))
                context.log.warning(f"invocation {record.job.id} failed: {exc}")
    if not requests:
        return dg.SkipReason("no runnable pending invocations")
    return dg.SensorResult(run_requests=requests)
