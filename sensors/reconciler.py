"""The reconciler: every invocation reaches a terminal state, whatever died under it.

Every ``RECONCILE_INTERVAL_S`` seconds, and on the daemon's first tick after a restart (a
sensor ticks at once when its last tick is older than its interval), the reconciler compares
the catalog's active invocations with their Dagster runs and acts on dead ones (the rules are
in :mod:`sync_pipelines.core.run_liveness`):

- ``processing`` invocations whose run is missing, terminal, never launched, or whose worker
  process is gone are failed with ``run <id> died: ...``; a run still marked in progress is
  reported failed in Dagster too.
- a ``pending`` invocation whose run key is held by a dead run (a crash between creating and
  submitting it leaves it ``NOT_STARTED``, and Dagster then skips the invocation sensor's
  requests for that key) is launched again once: the run is released (tagged
  ``chroma_sync/released``, its run key renamed, ended if it had not) and the invocation
  sensor proposes a fresh one. If its run was released before, it is failed instead.

Dead workers are found by pid only when the instance's run launcher cannot check worker health
itself (the default launcher: run workers are subprocesses of the code server evaluating this
sensor, so on this host); with a launcher that can, Dagster's run monitoring fails those runs.
"""

import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import dagster as dg

from sync_pipelines.catalog import Catalog
from sync_pipelines.core.run_liveness import (
    IN_PROGRESS,
    TERMINAL,
    Action,
    Bounds,
    RunFacts,
    Verdict,
    death,
    decide_pending,
    decide_processing,
    process_alive,
)
from sync_pipelines.jobs import SYNC_JOBS
from sync_pipelines.names import BATCH_RUN_KEY_PREFIX
from sync_pipelines.ops.tracking import RELEASED_TAG, covered_invocation_ids
from sync_pipelines.resources.catalog import CatalogResource

RECONCILE_INTERVAL_S = 15
RUN_KEY_TAG = "dagster/run_key"
BOUNDS = Bounds()
IDS_PER_QUERY = 200
RELEASED_RUNS_LIMIT = 1000
SYNC_JOB_NAMES = frozenset(job.name for job in SYNC_JOBS)


class _Runs:
    """Reads runs and their facts from the instance (worker pids checked when ``pids``)."""

    def __init__(self, instance: dg.DagsterInstance, pids: bool) -> None:
        self.instance = instance
        self.pids = pids

    def records(
        self, filters: Iterable[dg.RunsFilter], sync_only: bool = True
    ) -> dict[str, dg.RunRecord]:
        found: dict[str, dg.RunRecord] = {}
        for run_filter in filters:
            for record in self.instance.get_run_records(filters=run_filter):
                if not sync_only or record.dagster_run.job_name in SYNC_JOB_NAMES:
                    found[record.dagster_run.run_id] = record
        return found

    def facts(self, run_id: str, record: dg.RunRecord | None) -> RunFacts:
        if record is None:
            return RunFacts(run_id, None)
        run = record.dagster_run
        status = run.status.value
        pid, alive = None, None
        if self.pids and status in IN_PROGRESS:
            pid, alive = self._worker(run_id)
        return RunFacts(
            run_id,
            status,
            created_at=record.create_timestamp.timestamp(),
            ended_at=(record.end_time or record.update_timestamp.timestamp())
            if status in TERMINAL
            else None,
            started=record.start_time is not None,
            worker_pid=pid,
            worker_alive=alive,
            released=RELEASED_TAG in run.tags,
        )

    def _worker(self, run_id: str) -> tuple[int | None, bool | None]:
        """The pid of the process that started the run, and whether it still runs."""
        records = self.instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.RUN_START, limit=1
        ).records
        event = records[0].event_log_entry.dagster_event if records else None
        if event is None or event.pid is None:
            return None, None
        return event.pid, process_alive(event.pid, records[0].timestamp)


def _chunks(values: Sequence[str]) -> list[list[str]]:
    return [list(values[i : i + IDS_PER_QUERY]) for i in range(0, len(values), IDS_PER_QUERY)]


def _pending_holders(store: Catalog, runs: _Runs, now: float) -> list[tuple[RunFacts, set[str]]]:
    """Dead runs holding the run key of an old pending invocation, or left ``NOT_STARTED``."""
    cutoff = datetime.fromtimestamp(now - BOUNDS.orphan_s, UTC)
    pending = [str(i) for i in store.pending_ids_before(cutoff)]
    keys = [key for i in pending for key in (i, f"{BATCH_RUN_KEY_PREFIX}{i}")]
    filters = [dg.RunsFilter(tags={RUN_KEY_TAG: chunk}) for chunk in _chunks(keys)]
    filters.append(dg.RunsFilter(statuses=[dg.DagsterRunStatus.NOT_STARTED]))
    holders: list[tuple[RunFacts, set[str]]] = []
    for run_id, record in runs.records(filters).items():
        facts = runs.facts(run_id, record)
        if facts.released or death(facts, now, BOUNDS) is None:
            continue
        run = record.dagster_run
        covered = covered_invocation_ids(run.tags, run.run_config)
        still = {
            str(r.job.id)
            for r in store.get_invocation_records(covered)
            if r.job.status.word == "pending"
        }
        if still:
            holders.append((facts, still))
    return holders


def _relaunched(instance: dg.DagsterInstance) -> set[str]:
    """Invocations that a released run held: they were launched again once already."""
    released = instance.get_runs(
        filters=dg.RunsFilter(tags={RELEASED_TAG: "true"}), limit=RELEASED_RUNS_LIMIT
    )
    return {str(i) for run in released for i in covered_invocation_ids(run.tags, run.run_config)}


def _end_run(instance: dg.DagsterInstance, run_id: str, verdict: Verdict) -> None:
    """Report a run that Dagster still shows as live failed (dead worker) or canceled."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.is_finished:
        return
    if run.status.value in IN_PROGRESS:
        instance.report_run_failed(run, message=verdict.reason)
    else:
        instance.report_run_canceled(run, message=verdict.reason)


def _release(instance: dg.DagsterInstance, run_id: str, verdict: Verdict) -> None:
    """Free the run's run key (renamed) and end it, so the invocation sensor starts afresh."""
    run = instance.get_run_by_id(run_id)
    if run is None or RELEASED_TAG in run.tags:
        return
    tags = {RELEASED_TAG: "true"}
    if RUN_KEY_TAG in run.tags:
        tags[RUN_KEY_TAG] = f"released:{run.tags[RUN_KEY_TAG]}"
    instance.add_run_tags(run_id, tags)
    _end_run(instance, run_id, verdict)


def apply(
    instance: dg.DagsterInstance, store: Catalog, verdicts: Sequence[Verdict]
) -> list[uuid.UUID]:
    """Carry out ``verdicts``; return the invocations failed."""
    failed: list[uuid.UUID] = []
    for verdict in verdicts:
        if verdict.action is Action.FAIL_PROCESSING:
            if verdict.mark_run_failed:
                _end_run(instance, verdict.run_id, verdict)
            failed += store.fail_processing_by_run_id(verdict.run_id, verdict.reason)
        else:
            _release(instance, verdict.run_id, verdict)
            if verdict.action is Action.FAIL_PENDING:
                ids = [uuid.UUID(i) for i in verdict.invocation_ids]
                failed += store.fail_pending_many(ids, verdict.reason)
    return failed


def reconcile(
    instance: dg.DagsterInstance, store: Catalog, now: float | None = None
) -> list[Verdict]:
    """Decide and apply one reconciliation pass; return the verdicts carried out."""
    now = time.time() if now is None else now
    runs = _Runs(instance, pids=not instance.run_launcher.supports_check_run_worker_health)
    run_ids = store.processing_run_ids()
    filters = (dg.RunsFilter(run_ids=chunk) for chunk in _chunks(run_ids))
    known = runs.records(filters, sync_only=False)
    processing = [runs.facts(run_id, known.get(run_id)) for run_id in run_ids]
    verdicts = decide_processing(processing, now, BOUNDS)
    holders = _pending_holders(store, runs, now)
    if holders:
        verdicts += decide_pending(holders, _relaunched(instance), now, BOUNDS)
    apply(instance, store, verdicts)
    return verdicts


@dg.sensor(
    name="invocation_reconciler",
    minimum_interval_seconds=RECONCILE_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Fails invocations whose Dagster run died (missing, ended, never launched, worker "
        "gone) and launches once more pending invocations whose run never started."
    ),
)
def invocation_reconciler(
    context: dg.SensorEvaluationContext, catalog: CatalogResource
) -> dg.SkipReason:
    """One reconciliation pass over the active invocations."""
    verdicts = reconcile(context.instance, catalog.get_catalog())
    for verdict in verdicts:
        context.log.warning(verdict.reason)
    if not verdicts:
        return dg.SkipReason("every active invocation has a live run")
    return dg.SkipReason(f"{len(verdicts)} dead run(s) reconciled")
