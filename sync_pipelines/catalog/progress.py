"""Live progress of running invocations (pages or files done of total, chunks written).

Kept in its own table, written by the ops while a run goes and read by get-invocation, so the
invocations table and its hot status updates stay as they are.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import Mapped, mapped_column

from sync_pipelines.catalog.base import CatalogBase, utcnow
from sync_pipelines.catalog.tables import Base, InvocationRow, JsonDict
from sync_pipelines.schemas import InvocationProgress


class InvocationProgressRow(Base):
    """The latest progress report of one invocation."""

    __tablename__ = "invocation_progress"

    invocation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(InvocationRow.id, ondelete="CASCADE"), primary_key=True
    )
    progress: Mapped[JsonDict]
    updated_at: Mapped[datetime]


class ProgressMixin(CatalogBase):
    """Progress reports of invocations."""

    def set_progress(self, invocation_id: uuid.UUID, progress: InvocationProgress) -> None:
        """Record the latest progress of an invocation (replacing the previous report)."""
        with self._sessions.begin() as session:
            session.merge(
                InvocationProgressRow(
                    invocation_id=invocation_id,
                    progress=progress.model_dump(mode="json"),
                    updated_at=utcnow(),
                )
            )

    def add_progress(self, invocation_id: uuid.UUID, *, done: int, chunks_written: int) -> None:
        """Add one step's share to an invocation's progress.

        Steps of a sharded run report in parallel, so this reads and writes under a row lock;
        ``done`` stays within ``total``. Nothing is written when no report exists yet.
        """
        query = (
            select(InvocationProgressRow)
            .where(InvocationProgressRow.invocation_id == invocation_id)
            .with_for_update()
        )
        with self._sessions.begin() as session:
            row = session.scalars(query).first()
            if row is None:
                return
            current = InvocationProgress.model_validate(row.progress)
            total = current.total
            new_done = current.done + done
            current = current.model_copy(
                update={
                    "done": min(new_done, total) if total is not None else new_done,
                    "chunks_written": current.chunks_written + chunks_written,
                }
            )
            row.progress = current.model_dump(mode="json")
            row.updated_at = utcnow()

    def get_progress_many(
        self, invocation_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, InvocationProgress]:
        """Return the latest progress reports of several invocations (those that have one)."""
        if not invocation_ids:
            return {}
        query = select(InvocationProgressRow.invocation_id, InvocationProgressRow.progress).where(
            InvocationProgressRow.invocation_id.in_(list(invocation_ids))
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        return {row_id: InvocationProgress.model_validate(raw) for row_id, raw in rows}

    def get_progress(self, invocation_id: uuid.UUID) -> InvocationProgress | None:
        """Return the latest progress report of an invocation, if any."""
        query = select(InvocationProgressRow.progress).where(
            InvocationProgressRow.invocation_id == invocation_id
        )
        with self._sessions() as session:
            raw = session.scalars(query).first()
        return InvocationProgress.model_validate(raw) if raw is not None else None
