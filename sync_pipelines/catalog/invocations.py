"""Catalog methods for invocations: create, read, list and compare-and-set transitions."""

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from sync_pipelines.catalog.base import DEFAULT_LIMIT, CatalogBase, page, utcnow
from sync_pipelines.catalog.models import (
    InvocationExistsError,
    InvocationRecord,
    SourceNotFoundError,
    invocation_row,
    job_from_row,
    record_from_row,
)
from sync_pipelines.catalog.tables import InvocationRow, JsonDict, SourceRow
from sync_pipelines.schemas import (
    IndexJobMetadata,
    InvocationStatusFilter,
    Job,
    OrderBy,
    SourceTypeFilter,
)

ACTIVE = ("pending", "processing")
KEYS_PER_QUERY = 500


class InvocationsMixin(CatalogBase):
    """Invocations (jobs) and their status transitions."""

    def create_invocation(
        self,
        source_id: uuid.UUID | None,
        metadata: IndexJobMetadata,
        *,
        object_key: str | None = None,
        custom_id: str | None = None,
        extra_metadata: JsonDict | None = None,
        exclusive: bool = False,
    ) -> Job:
        """Queue a ``pending`` invocation.

        ``object_key``, ``custom_id`` and ``extra_metadata`` default to the S3 kind's values
        (pass them for ``file_upload``, whose kind only names the file).

        Args:
            source_id: The source (``None`` only for sources that no longer exist).
            metadata: Kind, database and target collection.
            object_key: Object to sync (S3) or stored upload key (file_upload).
            custom_id: Custom chunk-id prefix.
            extra_metadata: Extra chunk metadata.
            exclusive: Refuse when a pending/processing invocation of the same source already
                targets the same collection (and, for S3, the same object key).

        Returns:
            The new invocation.

        Raises:
            SourceNotFoundError: ``source_id`` names no source.
            InvocationExistsError: ``exclusive`` and a conflicting invocation is active.
        """
        s3 = metadata.s3
        if s3 is not None:
            object_key = object_key if object_key is not None else s3.object_key
            custom_id = custom_id if custom_id is not None else s3.custom_id
            if extra_metadata is None and s3.additional_metadata is not None:
                extra_metadata = dict(s3.additional_metadata)
        github = metadata.github
        ref = github.git_ref_identifier.model_dump(mode="json") if github else None
        row = invocation_row(
            source_id,
            metadata,
            status="pending",
            created_at=utcnow(),
            object_key=object_key,
            custom_id=custom_id,
            extra_metadata=extra_metadata,
            ref=ref,
        )
        with self._sessions.begin() as session:
            if source_id is not None:
                # Touching the source row first takes its write lock (row lock on PostgreSQL,
                # the database write lock on SQLite), so concurrent exclusive creates serialise.
                locked = session.execute(
                    update(SourceRow)
                    .where(SourceRow.id == source_id)
                    .values(database_name=SourceRow.database_name)
                )
                if locked.rowcount != 1:  # type: ignore[attr-defined]
                    raise SourceNotFoundError(f"no source {source_id}")
            if exclusive and source_id is not None:
                query = select(InvocationRow).where(
                    InvocationRow.source_id == source_id,
                    InvocationRow.collection_name == metadata.collection_name,
                    InvocationRow.status.in_(ACTIVE),
                )
                if metadata.kind == "s3":
                    query = query.where(InvocationRow.object_key == object_key)
                clash = session.scalars(query.limit(1)).first()
                if clash is not None:
                    raise InvocationExistsError(job_from_row(clash))
            session.add(row)
            session.flush()
            return job_from_row(row)

    def record_started_invocation(
        self, source_id: uuid.UUID, metadata: IndexJobMetadata, run_id: str
    ) -> Job:
        """Record an invocation that a run started outside the API, already ``processing``.

        Args:
            source_id: The source the run syncs.
            metadata: Kind, database and target collection.
            run_id: The Dagster run doing the work.

        Returns:
            The new invocation.
        """
        github = metadata.github
        now = utcnow()
        row = invocation_row(
            source_id,
            metadata,
            status="processing",
            created_at=now,
            ref=github.git_ref_identifier.model_dump(mode="json") if github else None,
            run_id=run_id,
            started_at=now,
        )
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return job_from_row(row)

    def get_invocation_by_run_id(self, run_id: str) -> InvocationRecord | None:
        """Return the (latest) invocation processed by the Dagster run ``run_id``."""
        query = (
            select(InvocationRow)
            .where(InvocationRow.run_id == run_id)
            .order_by(InvocationRow.created_at.desc())
            .limit(1)
        )
        with self._sessions() as session:
            row = session.scalars(query).first()
            return record_from_row(row) if row is not None else None

    def get_invocation(
        self, invocation_id: uuid.UUID, database_name: str | None = None
    ) -> Job | None:
        """Return the invocation, or ``None`` when absent or outside ``database_name``."""
        record = self.get_invocation_record(invocation_id, database_name)
        return record.job if record else None

    def get_invocation_record(
        self, invocation_id: uuid.UUID, database_name: str | None = None
    ) -> InvocationRecord | None:
        """Return the invocation with its internal columns (for the pipeline)."""
        with self._sessions() as session:
            row = session.get(InvocationRow, invocation_id)
            if row is None or (database_name is not None and row.database_name != database_name):
                return None
            return record_from_row(row)

    def list_invocations(
        self,
        database_name: str | None = None,
        source_id: uuid.UUID | None = None,
        status: InvocationStatusFilter | str | None = None,
        source_type: SourceTypeFilter | str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        order_by: OrderBy | str = OrderBy.DESC,
    ) -> list[Job]:
        """List invocations by creation time with optional filters.

        Args:
            database_name: Only this database's invocations.
            source_id: Only this source's invocations.
            status: Only invocations in this status word.
            source_type: Only invocations of this source type.
            limit: Page size.
            offset: Rows to skip.
            order_by: ``ASC`` or ``DESC`` by ``created_at``.

        Returns:
            One page of invocations.
        """
        query = select(InvocationRow)
        if database_name is not None:
            query = query.where(InvocationRow.database_name == database_name)
        if source_id is not None:
            query = query.where(InvocationRow.source_id == source_id)
        if status is not None:
            query = query.where(InvocationRow.status == InvocationStatusFilter(status).value)
        if source_type is not None:
            query = query.where(InvocationRow.source_type == SourceTypeFilter(source_type).value)
        query = page(query, InvocationRow.created_at, InvocationRow.id, limit, offset, order_by)
        with self._sessions() as session:
            return [job_from_row(row) for row in session.scalars(query)]

    def pending_records(self, limit: int = DEFAULT_LIMIT) -> list[InvocationRecord]:
        """Return the oldest ``pending`` invocations of every database, with pipeline columns.

        Args:
            limit: How many at most.

        Returns:
            Records ordered by ``created_at`` (oldest first).
        """
        query = (
            select(InvocationRow)
            .where(InvocationRow.status == "pending")
            .order_by(InvocationRow.created_at.asc(), InvocationRow.id.asc())
            .limit(limit)
        )
        with self._sessions() as session:
            return [record_from_row(row) for row in session.scalars(query)]

    def mark_processing(self, invocation_id: uuid.UUID, run_id: str) -> bool:
        """Move ``pending`` to ``processing`` (compare-and-set) and record the Dagster run."""
        values = {"status": "processing", "run_id": run_id, "started_at": utcnow()}
        return self._transition(invocation_id, ("pending",), values)

    def mark_complete(self, invocation_id: uuid.UUID, finished_at: datetime | None = None) -> bool:
        """Move a pending/processing invocation to ``complete``.

        ``duration_ms`` is measured from ``created_at`` to ``finished_at`` (default now).

        Returns:
            Whether the invocation was still active (a cancelled one stays cancelled).
        """
        finished = finished_at or utcnow()
        with self._sessions() as session:
            created = session.scalar(
                select(InvocationRow.created_at).where(InvocationRow.id == invocation_id)
            )
        if created is None:
            return False
        duration = max(0, int((finished - created).total_seconds() * 1000))
        values = {"status": "complete", "finished_at": finished, "duration_ms": duration}
        return self._transition(invocation_id, ACTIVE, values)

    def mark_failed(
        self, invocation_id: uuid.UUID, error: str, finished_at: datetime | None = None
    ) -> bool:
        """Move a pending/processing invocation to ``failed`` with ``error``."""
        values = {"status": "failed", "error": error, "finished_at": finished_at or utcnow()}
        return self._transition(invocation_id, ACTIVE, values)

    def cancel_if_pending(self, invocation_id: uuid.UUID) -> bool:
        """Cancel the invocation if (and only if) it is still ``pending``; atomic."""
        return self._transition(invocation_id, ("pending",), {"status": "cancelled"})

    def latest_by_keys(self, source_id: uuid.UUID, keys: Iterable[str]) -> dict[str, Job]:
        """Return the most recent invocation of ``source_id`` for each object key that has one."""
        wanted = list(dict.fromkeys(keys))
        latest: dict[str, Job] = {}
        with self._sessions() as session:
            for start in range(0, len(wanted), KEYS_PER_QUERY):
                batch: Sequence[str] = wanted[start : start + KEYS_PER_QUERY]
                query = (
                    select(InvocationRow)
                    .where(
                        InvocationRow.source_id == source_id,
                        InvocationRow.object_key.in_(batch),
                    )
                    .order_by(InvocationRow.created_at.desc(), InvocationRow.id.desc())
                )
                for row in session.scalars(query):
                    if row.object_key is not None and row.object_key not in latest:
                        latest[row.object_key] = job_from_row(row)
        return latest

    def _transition(
        self, invocation_id: uuid.UUID, from_states: Sequence[str], values: dict[str, Any]
    ) -> bool:
        statement = (
            update(InvocationRow)
            .where(InvocationRow.id == invocation_id, InvocationRow.status.in_(from_states))
            .values(**values)
        )
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1
