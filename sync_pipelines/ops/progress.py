"""Progress reports from ops to the catalog, throttled, so the API can show a running sync."""

import time
import uuid

import dagster as dg

from sync_pipelines.ops.tracking import run_invocation
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.schemas import InvocationProgress


class ProgressReporter:
    """Writes an invocation's progress at most every ``every_s`` seconds (and when forced)."""

    def __init__(
        self, context: dg.OpExecutionContext, catalog: CatalogResource, every_s: float = 2.0
    ) -> None:
        """Find the run's invocation; runs without one report nothing.

        Args:
            context: The op's context (its run tags name the invocation).
            catalog: Where progress is written.
            every_s: Least interval between two writes.
        """
        self.store = catalog.get_catalog()
        self.invocation: uuid.UUID | None = run_invocation(
            self.store, context.run.tags, context.run_id
        )
        self.every_s = every_s
        self.last = 0.0

    def report(self, progress: InvocationProgress, *, force: bool = False) -> None:
        """Record ``progress`` if the interval passed or ``force`` is set."""
        now = time.monotonic()
        if self.invocation is None or (not force and now - self.last < self.every_s):
            return
        self.last = now
        self.store.set_progress(self.invocation, progress)

    def add(self, *, done: int, chunks_written: int) -> None:
        """Add one step's share: steps of a sharded run report in parallel."""
        if self.invocation is not None:
            self.store.add_progress(self.invocation, done=done, chunks_written=chunks_written)
