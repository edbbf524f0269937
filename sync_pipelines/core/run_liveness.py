"""Decide what becomes of invocations whose Dagster run is dead (no Dagster import).

The reconciler sensor (``sensors/reconciler.py``) gathers the facts: for every run id that
invocations are ``processing`` for, and for every run that holds the run key of a ``pending``
invocation, a :class:`RunFacts`. :func:`decide` turns them into :class:`Verdict` values:

- ``processing`` invocations of a dead run are failed. They may have written part of their
  documents; the next invocation of the source converges, so nothing is resumed mid-op.
- ``pending`` invocations held by a dead run never started (nothing was written): the run is
  released (its run key freed) so that the invocation sensor launches a fresh run, once. An
  invocation whose earlier run was already released this way is failed instead.

A run is dead when it is missing from Dagster, terminal (for ``terminal_grace_s``, which
leaves the run-status sensors time to fail its invocations with their own message), left
``NOT_STARTED`` for ``orphan_s`` (a crash between creating and submitting it), or in progress
with its worker process gone. ``QUEUED`` runs are alive: the run coordinator launches them.
"""

import os
import sys
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

TERMINAL = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
IN_PROGRESS = frozenset({"STARTING", "STARTED", "CANCELING"})
#: Slack between a worker's process start and its run's RUN_START event when telling a live
#: worker from a process that reused its pid (the worker starts first: it loads the code).
PID_START_SLACK_S = 2.0


@dataclass(frozen=True)
class Bounds:
    """How long a run may look dead before the reconciler acts.

    Attributes:
        orphan_s: Age after which a ``NOT_STARTED`` run is taken as left by a crash.
        terminal_grace_s: Time after a run ends that the run-status sensors have first.
    """

    orphan_s: float = 60.0
    terminal_grace_s: float = 20.0


@dataclass(frozen=True)
class RunFacts:
    """What the reconciler knows of one Dagster run.

    Attributes:
        run_id: The run.
        status: Dagster's status name (``STARTED``, ``FAILURE``...); ``None``: not in Dagster.
        created_at: Epoch seconds the run was created.
        ended_at: Epoch seconds it ended, for a terminal run.
        started: Whether it ever started (a worker reported RUN_START).
        worker_pid: The run worker's pid, when known and checkable on this host.
        worker_alive: Whether that worker still runs (``None``: unknown).
        released: The reconciler already released this run.
    """

    run_id: str
    status: str | None
    created_at: float = 0.0
    ended_at: float | None = None
    started: bool = False
    worker_pid: int | None = None
    worker_alive: bool | None = None
    released: bool = False


class Action(Enum):
    """What to do with a dead run's invocations."""

    FAIL_PROCESSING = "fail_processing"
    """Fail the invocations ``processing`` for the run."""
    RELAUNCH = "relaunch"
    """Release the run; its pending invocations are launched again by the invocation sensor."""
    FAIL_PENDING = "fail_pending"
    """Release the run and fail its pending invocations (they were relaunched once already)."""


@dataclass(frozen=True)
class Verdict:
    """One decision: ``action`` on ``run_id`` and the invocations named.

    Attributes:
        action: What to do.
        run_id: The dead run.
        reason: The error text (``run <id> died: ...``); for a relaunch, the log line.
        invocation_ids: The pending invocations concerned (empty for ``FAIL_PROCESSING``,
            which takes every invocation still processing for the run).
        mark_run_failed: The run is still in progress in Dagster: report it failed.
    """

    action: Action
    run_id: str
    reason: str
    invocation_ids: tuple[str, ...] = field(default=())
    mark_run_failed: bool = False


def death(run: RunFacts, now: float, bounds: Bounds) -> str | None:
    """Why ``run`` is dead (the text after ``run <id> ``), or ``None`` while it may live."""
    status = run.status
    if status is None:
        return "died: the run is not in Dagster"
    if status in TERMINAL:
        if run.ended_at is not None and now - run.ended_at < bounds.terminal_grace_s:
            return None
        return f"ended {status} without finishing the invocation"
    if status == "NOT_STARTED" and now - run.created_at >= bounds.orphan_s:
        return f"died: never launched (NOT_STARTED for over {bounds.orphan_s:.0f} s)"
    if status in IN_PROGRESS and run.worker_alive is False:
        return f"died: worker process {run.worker_pid} is gone"
    return None


def decide_processing(runs: Iterable[RunFacts], now: float, bounds: Bounds) -> list[Verdict]:
    """Verdicts for runs that invocations are ``processing`` for."""
    verdicts: list[Verdict] = []
    for run in runs:
        why = death(run, now, bounds)
        if why is None:
            continue
        verdicts.append(
            Verdict(
                Action.FAIL_PROCESSING,
                run.run_id,
                f"run {run.run_id} {why}",
                mark_run_failed=run.status in IN_PROGRESS,
            )
        )
    return verdicts


def decide_pending(
    holders: Iterable[tuple[RunFacts, Collection[str]]],
    relaunched: Collection[str],
    now: float,
    bounds: Bounds,
) -> list[Verdict]:
    """Verdicts for runs that hold pending invocations (by run key or batch list).

    Args:
        holders: Each run with the ids of the still-pending invocations it holds.
        relaunched: Invocation ids that a released run held before (relaunched once).
        now: Epoch seconds.
        bounds: The reconciler's bounds.
    """
    verdicts: list[Verdict] = []
    for run, pending in holders:
        if run.released or not pending:
            continue
        why = death(run, now, bounds)
        if why is None:
            continue
        ids = tuple(sorted(pending))
        mark_failed = run.status in IN_PROGRESS
        again = tuple(i for i in ids if i in relaunched)
        fresh = tuple(i for i in ids if i not in relaunched)
        if fresh:
            reason = f"run {run.run_id} {why}: relaunching {len(fresh)} pending invocation(s)"
            verdicts.append(Verdict(Action.RELAUNCH, run.run_id, reason, fresh, mark_failed))
        if again:
            reason = f"run {run.run_id} {why}; the invocation was relaunched once already"
            verdicts.append(Verdict(Action.FAIL_PENDING, run.run_id, reason, again, mark_failed))
    return verdicts


def process_alive(pid: int, started_by: float) -> bool:
    """Whether process ``pid`` runs on this host and started by ``started_by`` (epoch s).

    A zombie counts as gone, and so does a process that started later (the pid was reused).
    Without ``/proc`` (not Linux) only existence is checked.
    """
    stat = Path(f"/proc/{pid}/stat")
    if sys.platform.startswith("linux") and Path("/proc/stat").is_file():
        try:
            text = stat.read_text()
        except OSError:
            return False
        fields = text[text.rindex(")") + 2 :].split()
        if fields[0] in ("Z", "X"):
            return False
        return _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK") <= started_by + (
            PID_START_SLACK_S
        )
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0
