"""Invocation status follows its Dagster run.

A run started for an invocation carries its id in the ``chroma_sync/invocation_id`` tag. The
first op moves the invocation from ``pending`` to ``processing`` (compare-and-set: a cancelled
invocation is never started), the last op marks it ``complete``, and a failure hook on every op
marks it ``failed`` with an error naming the document or the step.
"""

import uuid
from collections.abc import Mapping

import dagster as dg

from sync_pipelines.names import INVOCATION_TAG
from sync_pipelines.resources.catalog import CatalogResource


def invocation_id(tags: Mapping[str, str]) -> uuid.UUID | None:
    """Return the invocation id a run was tagged with, if any."""
    raw = tags.get(INVOCATION_TAG)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


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
    inv = invocation_id(context.run.tags)
    if inv is not None:
        catalog.get_catalog().mark_complete(inv)


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
    inv = invocation_id(dict(run.tags)) if run is not None else None
    if inv is None:
        return
    catalog: CatalogResource = context.resources.catalog
    message = describe_failure(context.op.name, context.op_exception)
    catalog.get_catalog().mark_failed(inv, message)
