"""Catalog methods for batch runs: claim, finish and fail many invocations in one transaction.

One Dagster run may serve many pending invocations of a source. It claims them all at once
(compare-and-set ``pending`` -> ``processing`` with its run id), finishes them a group at a
time, and a run that dies leaves them findable by its run id.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, func, or_, select, update

from sync_pipelines.catalog.base import CatalogBase, utcnow
from sync_pipelines.catalog.models import InvocationRecord, record_from_row
from sync_pipelines.catalog.progress import InvocationProgressRow
from sync_pipelines.catalog.tables import InvocationRow
from sync_pipelines.schemas import InvocationProgress

IDS_PER_QUERY = 500


@dataclass(frozen=True)
class InvocationOutcome:
    """How one invocation of a batch ended.

    Attributes:
        invocation_id: The invocation.
        started_at: When the run began working on it.
        finished_at: When it ended.
        error: ``None`` when it completed, else the error text it fails with.
        chunks_written: Chunks it embedded and wrote, recorded as its final progress
            (``objects 1/1``) when it completed.
    """

    invocation_id: uuid.UUID
    started_at: datetime
    finished_at: datetime
    error: str | None = None
    chunks_written: int | None = None


def _chunks(ids: Sequence[uuid.UUID]) -> list[list[uuid.UUID]]:
    return [list(ids[i : i + IDS_PER_QUERY]) for i in range(0, len(ids), IDS_PER_QUERY)]


class InvocationBatchesMixin(CatalogBase):
    """Many-invocation transitions for batch runs."""

    def mark_processing_many(
        self, invocation_ids: Sequence[uuid.UUID], run_id: str
    ) -> list[uuid.UUID]:
        """Claim invocations for ``run_id``: ``pending`` -> ``processing``, compare-and-set.

        An invocation already ``processing`` for this same run (an op retry) counts as claimed;
        cancelled, finished or taken by another run is skipped.

        Args:
            invocation_ids: The batch, in processing order.
            run_id: The Dagster run that claims them.

        Returns:
            The ids this run now owns, in the order given.
        """
        now = utcnow()
        owned: set[uuid.UUID] = set()
        with self._sessions.begin() as session:
            for chunk in _chunks(list(dict.fromkeys(invocation_ids))):
                session.execute(
                    update(InvocationRow)
                    .where(InvocationRow.id.in_(chunk), InvocationRow.status == "pending")
                    .values(status="processing", run_id=run_id, started_at=now)
                )
                owned.update(
                    session.scalars(
                        select(InvocationRow.id).where(
                            InvocationRow.id.in_(chunk),
                            InvocationRow.status == "processing",
                            InvocationRow.run_id == run_id,
                        )
                    )
                )
        return [i for i in dict.fromkeys(invocation_ids) if i in owned]

    def get_invocation_records(self, invocation_ids: Sequence[uuid.UUID]) -> list[InvocationRecord]:
        """Return the records of ``invocation_ids`` that exist, in the order given."""
        found: dict[uuid.UUID, InvocationRecord] = {}
        with self._sessions() as session:
            for chunk in _chunks(list(invocation_ids)):
                query = select(InvocationRow).where(InvocationRow.id.in_(chunk))
                found.update((row.id, record_from_row(row)) for row in session.scalars(query))
        return [found[i] for i in invocation_ids if i in found]

    def list_invocations_by_run_id(self, run_id: str) -> list[InvocationRecord]:
        """Return every invocation the Dagster run ``run_id`` claimed, oldest first."""
        query = (
            select(InvocationRow)
            .where(InvocationRow.run_id == run_id)
            .order_by(InvocationRow.created_at.asc(), InvocationRow.id.asc())
        )
        with self._sessions() as session:
            return [record_from_row(row) for row in session.scalars(query)]

    def fail_processing_by_run_id(
        self, run_id: str, error: str, finished_at: datetime | None = None
    ) -> list[uuid.UUID]:
        """Fail every invocation still ``processing`` for ``run_id`` (a run that died).

        Returns:
            The ids that were failed.
        """
        where = (InvocationRow.run_id == run_id, InvocationRow.status == "processing")
        with self._sessions.begin() as session:
            ids = list(session.scalars(select(InvocationRow.id).where(*where)))
            if ids:
                session.execute(
                    update(InvocationRow)
                    .where(InvocationRow.id.in_(ids), *where)
                    .values(status="failed", error=error, finished_at=finished_at or utcnow())
                )
        return ids

    def fail_pending_many(self, invocation_ids: Sequence[uuid.UUID], error: str) -> list[uuid.UUID]:
        """Fail those of ``invocation_ids`` that are still ``pending`` (a run that never claimed).

        Returns:
            The ids that were failed.
        """
        failed: list[uuid.UUID] = []
        with self._sessions.begin() as session:
            for chunk in _chunks(list(invocation_ids)):
                where = (InvocationRow.id.in_(chunk), InvocationRow.status == "pending")
                ids = list(session.scalars(select(InvocationRow.id).where(*where)))
                if ids:
                    session.execute(
                        update(InvocationRow)
                        .where(InvocationRow.id.in_(ids), InvocationRow.status == "pending")
                        .values(status="failed", error=error, finished_at=utcnow())
                    )
                failed.extend(ids)
        return failed

    def fail_for_run(self, invocation_id: uuid.UUID, run_id: str, error: str) -> bool:
        """Fail an active invocation unless another run has claimed it (compare-and-set).

        A run that dies fails its invocation when it is still ``pending`` (never claimed) or
        ``processing`` for this run; one that a duplicate run is processing is left alone.

        Returns:
            Whether the invocation was failed.
        """
        statement = (
            update(InvocationRow)
            .where(
                InvocationRow.id == invocation_id,
                or_(
                    InvocationRow.status == "pending",
                    and_(InvocationRow.status == "processing", InvocationRow.run_id == run_id),
                ),
            )
            .values(status="failed", error=error, finished_at=utcnow())
        )
        with self._engine.begin() as connection:
            return bool(connection.execute(statement).rowcount == 1)

    def finish_many(self, run_id: str, outcomes: Sequence[InvocationOutcome]) -> list[uuid.UUID]:
        """Record how invocations of a batch ended, in one transaction.

        Each invocation gets its own ``started_at`` and ``finished_at``, ``duration_ms`` from
        its ``created_at`` (as :meth:`mark_complete`), and its error when it failed. Only
        invocations still ``processing`` for ``run_id`` change.

        Args:
            run_id: The run that claimed them.
            outcomes: One per invocation.

        Returns:
            The ids that changed.
        """
        if not outcomes:
            return []
        ids = [o.invocation_id for o in outcomes]
        statement = (
            update(InvocationRow)
            .where(
                InvocationRow.id == bindparam("b_id"),
                InvocationRow.status == "processing",
                InvocationRow.run_id == run_id,
            )
            .values(
                status=bindparam("b_status"),
                error=bindparam("b_error"),
                started_at=bindparam("b_started", type_=InvocationRow.started_at.type),
                finished_at=bindparam("b_finished", type_=InvocationRow.finished_at.type),
                duration_ms=bindparam("b_duration"),
            )
        )
        with self._sessions.begin() as session:
            created: dict[uuid.UUID, datetime] = {}
            active: set[uuid.UUID] = set()
            for chunk in _chunks(ids):
                query = select(InvocationRow.id, InvocationRow.created_at).where(
                    InvocationRow.id.in_(chunk),
                    InvocationRow.status == "processing",
                    InvocationRow.run_id == run_id,
                )
                for row_id, created_at in session.execute(query):
                    created[row_id] = created_at
                    active.add(row_id)
            params = [
                {
                    "b_id": o.invocation_id,
                    "b_status": "complete" if o.error is None else "failed",
                    "b_error": o.error,
                    "b_started": o.started_at,
                    "b_finished": o.finished_at,
                    "b_duration": max(
                        0, int((o.finished_at - created[o.invocation_id]).total_seconds() * 1000)
                    ),
                }
                for o in outcomes
                if o.invocation_id in active
            ]
            if params:
                session.connection().execute(statement, params)
            for o in outcomes:
                if o.invocation_id in active and o.error is None and o.chunks_written is not None:
                    progress = InvocationProgress(
                        unit="objects", done=1, total=1, chunks_written=o.chunks_written
                    )
                    session.merge(
                        InvocationProgressRow(
                            invocation_id=o.invocation_id,
                            progress=progress.model_dump(mode="json"),
                            updated_at=o.finished_at,
                        )
                    )
        return [i for i in ids if i in active]

    def processing_run_ids(self, limit: int = 1000) -> list[str]:
        """Return the distinct run ids that invocations are ``processing`` for (reconciler)."""
        query = (
            select(InvocationRow.run_id)
            .where(InvocationRow.status == "processing", InvocationRow.run_id.is_not(None))
            .distinct()
            .limit(limit)
        )
        with self._sessions() as session:
            return [run_id for run_id in session.scalars(query) if run_id]

    def pending_ids_before(self, cutoff: datetime, limit: int = 1000) -> list[uuid.UUID]:
        """Return the ids of ``pending`` invocations created before ``cutoff``, oldest first."""
        query = (
            select(InvocationRow.id)
            .where(InvocationRow.status == "pending", InvocationRow.created_at < cutoff)
            .order_by(InvocationRow.created_at.asc(), InvocationRow.id.asc())
            .limit(limit)
        )
        with self._sessions() as session:
            return list(session.scalars(query))

    def count_pending(self, source_id: uuid.UUID, *, limit: int | None = None) -> int:
        """Count the ``pending`` invocations of ``source_id`` (stop counting at ``limit``)."""
        inner = select(InvocationRow.id).where(
            InvocationRow.source_id == source_id, InvocationRow.status == "pending"
        )
        if limit is not None:
            inner = inner.limit(limit)
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(inner.subquery())) or 0)
