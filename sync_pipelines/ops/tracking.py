"""Invocation status follows its Dagster run.

A run started for an invocation carries its id in the ``chroma_sync/invocation_id`` tag. The
first op moves the invocation from ``pending`` to ``processing`` (compare-and-set: a cancelled
invocation is never started), the last op marks it ``complete``, and a failure hook on every op
marks it ``failed`` with an error naming the document or the step.

A run started outside the API (tag ``chroma_sync/trigger`` = ``git_branch_sensor``) has no
invocation yet: its first op records one, already ``processing`` with the run's id, and the
later transitions find it by that run id.

A batch run (tag ``chroma_sync/batch_size``) serves many invocations listed in its run config:
it claims them with its run id and finishes each itself; when it fails, every invocation it
still holds (and any it never got to claim) is failed.
"""

import uuid
from collections.abc import Mapping
from typing import Any

import dagster as dg

from sync_pipelines.catalog import Catalog
from sync_pipelines.names import (
    BATCH_SIZE_TAG,
    GIT_BRANCH_TRIGGER,
    INVOCATION_TAG,
    SYNC_S3_BATCH_OP,
    TRIGGER_TAG,
)
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.schemas import IndexJobMetadata

TRIGGERS = frozenset({GIT_BRANCH_TRIGGER})
"""Values of ``chroma_sync/trigger`` whose runs record their own invocation."""
RELEASED_TAG = "chroma_sync/released"
"""Set (to ``true``) on a run the reconciler released: it no longer holds its run key, and the
run-status sensors leave its invocations alone (they are pending, to be launched again)."""


def invocation_id(tags: Mapping[str, str]) -> uuid.UUID | None:
    """Return the invocation id a run was tagged with, if any."""
    raw = tags.get(INVOCATION_TAG)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def is_triggered_run(tags: Mapping[str, str]) -> bool:
    """Return whether a run was started outside the API and must record its invocation."""
    return invocation_id(tags) is None and tags.get(TRIGGER_TAG) in TRIGGERS


def run_invocation(store: Catalog, tags: Mapping[str, str], run_id: str) -> uuid.UUID | None:
    """Return the invocation of a run: from its tag, or (for triggered runs) by its run id."""
    inv = invocation_id(tags)
    if inv is not None or not is_triggered_run(tags):
        return inv
    record = store.get_invocation_by_run_id(run_id)
    return record.job.id if record is not None else None


def is_batch_run(tags: Mapping[str, str]) -> bool:
    """Return whether a run serves a batch of invocations (listed in its run config)."""
    return BATCH_SIZE_TAG in tags


def batch_invocation_ids(run_config: Mapping[str, Any]) -> list[uuid.UUID]:
    """Return the invocation ids a batch run was started for (empty for any other run)."""
    ops = run_config.get("ops") or {}
    config = (ops.get(SYNC_S3_BATCH_OP) or {}).get("config") or {}
    ids: list[uuid.UUID] = []
    for raw in config.get("invocation_ids") or []:
        try:
            ids.append(uuid.UUID(str(raw)))
        except ValueError:
            continue
    return ids


def covered_invocation_ids(
    tags: Mapping[str, str], run_config: Mapping[str, Any]
) -> list[uuid.UUID]:
    """Return the invocations a run was started for: its tagged one, or its batch's."""
    single = invocation_id(tags)
    return [single] if single is not None else batch_invocation_ids(run_config)


def fail_run_invocations(
    store: Catalog,
    tags: Mapping[str, str],
    run_id: str,
    run_config: Mapping[str, Any],
    error: str,
    *,
    pending: bool = True,
) -> list[uuid.UUID]:
    """Fail every invocation a run still holds.

    For a single-invocation run, its invocation (from the tag, or by run id for triggered
    runs) while still pending or processing for this run (not when a duplicate run of the same
    invocation has claimed it). For a batch run, every invocation still ``processing`` for it,
    and those of its batch still ``pending`` (it died before claiming them: its run key will
    not be proposed again).

    Args:
        store: The catalog.
        tags: The run's tags.
        run_id: The run.
        run_config: The run's config (a batch run lists its invocations there).
        error: The error text.
        pending: Also fail the run's invocations that are still ``pending``; ``False`` leaves
            them to the reconciler, which launches them again once.

    Returns:
        The ids failed.
    """
    if is_batch_run(tags):
        failed = store.fail_processing_by_run_id(run_id, error)
        if not pending:
            return failed
        return failed + store.fail_pending_many(batch_invocation_ids(run_config), error)
    inv = run_invocation(store, tags, run_id)
    if inv is None:
        return []
    if not pending:
        record = store.get_invocation_record(inv)
        if record is None or record.job.status.word != "processing" or record.run_id != run_id:
            return []
    if store.fail_for_run(inv, run_id, error):
        return [inv]
    return []


def record_triggered_invocation(
    context: dg.OpExecutionContext,
    catalog: CatalogResource,
    source_id: uuid.UUID,
    metadata: IndexJobMetadata,
) -> None:
    """Record the invocation of a run started outside the API (once per run, also on retry)."""
    store = catalog.get_catalog()
    if store.get_invocation_by_run_id(context.run_id) is None:
        store.record_started_invocation(source_id, metadata, context.run_id)


def start_invocation(context: dg.OpExecutionContext, catalog: CatalogResource) -> bool:
    """Mark the run's invocation ``processing``.

    Returns:
        ``True`` when the run should go on: it has no invocation, or it now owns it (also on an
        op retry within the same run). ``False`` when the invocation was cancelled or already
        taken by another run: the run then stops before it writes anything.
    """
    inv = invocation_id(context.run.tags)
    if inv is None:
        return True
    store = catalog.get_catalog()
    if store.mark_processing(inv, context.run_id):
        return True
    record = store.get_invocation_record(inv)
    if record is not None and record.run_id == context.run_id:
        return record.job.status.word == "processing"
    status = record.job.status.word if record is not None else "missing"
    context.log.warning(f"invocation {inv} is {status}: this run stops without writing")
    return False


def finish_invocation(context: dg.OpExecutionContext, catalog: CatalogResource) -> None:
    """Mark the run's invocation ``complete`` (no-op for runs without one)."""
    store = catalog.get_catalog()
    inv = run_invocation(store, context.run.tags, context.run_id)
    if inv is not None:
        store.mark_complete(inv)


def describe_failure(step: str, error: BaseException | None) -> str:
    """The error text an invocation shows: the document and reason, or the step and exception."""
    if isinstance(error, dg.Failure) and error.description:
        return error.description
    if error is None:
        return f"step {step} failed"
    return f"step {step} failed: {type(error).__name__}: {error}"


@dg.failure_hook(required_resource_keys={"catalog"})
def mark_invocation_failed(context: dg.HookContext) -> None:
    """Record a failed step's error on the run's invocation."""
    run = context.instance.get_run_by_id(context.run_id)
    if run is None:
        return
    catalog: CatalogResource = context.resources.catalog
    message = describe_failure(context.op.name, context.op_exception)
    fail_run_invocations(
        catalog.get_catalog(), dict(run.tags), context.run_id, run.run_config, message
    )
