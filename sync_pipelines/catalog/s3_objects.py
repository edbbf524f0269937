"""State of the S3 auto-sync sensor: the ETag it last handled for each object key of a source.

The sensor lists a bucket in passes. Every key a pass lists is marked with the pass number;
a key whose listed ETag differs from the stored one (or that has none) gets an invocation and
its new ETag is recorded. Keys that a complete pass did not see are gone from the bucket.
"""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sync_pipelines.catalog.base import CatalogBase, utcnow
from sync_pipelines.catalog.invocations import ACTIVE
from sync_pipelines.catalog.models import SourceNotFoundError, invocation_row, job_from_row
from sync_pipelines.catalog.tables import InvocationRow, JsonDict, S3ObjectRow, SourceRow
from sync_pipelines.schemas import IndexJobMetadata, Job

KEYS_PER_QUERY = 500
"""Keys per ``IN (...)`` list or multi-row statement (SQLite caps bound parameters)."""


def _batches(keys: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(keys), KEYS_PER_QUERY):
        yield keys[start : start + KEYS_PER_QUERY]


class S3ObjectsMixin(CatalogBase):
    """The S3 auto-sync sensor's per-object state (table ``s3_objects``)."""

    def known_etags(self, source_id: uuid.UUID, keys: Iterable[str]) -> dict[str, str]:
        """Return the stored ETag of each of ``keys`` that has one.

        Args:
            source_id: The S3 source.
            keys: Object keys to look up.

        Returns:
            Object key to the ETag last handled.
        """
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        with self._sessions() as session:
            for batch in _batches(wanted):
                query = select(S3ObjectRow.object_key, S3ObjectRow.etag).where(
                    S3ObjectRow.source_id == source_id, S3ObjectRow.object_key.in_(batch)
                )
                found.update({key: etag for key, etag in session.execute(query)})
        return found

    def record_handled(
        self,
        source_id: uuid.UUID,
        etags: Mapping[str, str],
        pass_no: int,
        sidecar_targets: Mapping[str, JsonDict | None] | None = None,
    ) -> None:
        """Store (insert or replace) the handled ETag of each key, seen in pass ``pass_no``.

        Args:
            source_id: The S3 source.
            etags: Object key to the ETag an invocation was created for.
            pass_no: The listing pass that saw the keys.
            sidecar_targets: For sidecars, the invocation they asked for (replayed by mirror
                mode when the sidecar vanishes); ``None`` for plain objects.
        """
        targets = sidecar_targets or {}
        rows = [
            {
                "source_id": source_id,
                "object_key": key,
                "etag": etag,
                "seen_pass": pass_no,
                "sidecar_target": targets.get(key),
            }
            for key, etag in etags.items()
        ]
        if not rows:
            return
        with self._engine.begin() as connection:
            for start in range(0, len(rows), KEYS_PER_QUERY):
                _upsert(connection, rows[start : start + KEYS_PER_QUERY])

    def mark_seen(self, source_id: uuid.UUID, keys: Iterable[str], pass_no: int) -> int:
        """Record that pass ``pass_no`` listed ``keys`` (keys without state are ignored).

        Returns:
            How many stored keys were marked.
        """
        marked = 0
        with self._engine.begin() as connection:
            for batch in _batches(list(dict.fromkeys(keys))):
                statement = (
                    update(S3ObjectRow)
                    .where(S3ObjectRow.source_id == source_id, S3ObjectRow.object_key.in_(batch))
                    .values(seen_pass=pass_no)
                )
                marked += connection.execute(statement).rowcount
        return marked

    def max_seen_pass(self, source_id: uuid.UUID) -> int:
        """The highest pass number stored for the source (0 when it has no state)."""
        query = select(func.max(S3ObjectRow.seen_pass)).where(S3ObjectRow.source_id == source_id)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def stale_objects(
        self, source_id: uuid.UUID, before_pass: int, limit: int | None = None
    ) -> dict[str, JsonDict | None]:
        """Return the keys last seen before pass ``before_pass``, in key order.

        Args:
            source_id: The S3 source.
            before_pass: The pass that just completed; keys it did not see are stale.
            limit: At most this many keys.

        Returns:
            Stale object key to its sidecar target (``None`` for plain objects).
        """
        query = (
            select(S3ObjectRow.object_key, S3ObjectRow.sidecar_target)
            .where(S3ObjectRow.source_id == source_id, S3ObjectRow.seen_pass < before_pass)
            .order_by(S3ObjectRow.object_key)
            .limit(limit)
        )
        with self._sessions() as session:
            return {key: target for key, target in session.execute(query)}

    def stale_keys(self, source_id: uuid.UUID, before_pass: int) -> list[str]:
        """Return the keys last seen before pass ``before_pass``, in key order."""
        return list(self.stale_objects(source_id, before_pass))

    def forget(self, source_id: uuid.UUID, keys: Iterable[str]) -> int:
        """Drop the state of ``keys``.

        Returns:
            How many keys were dropped.
        """
        dropped = 0
        with self._engine.begin() as connection:
            for batch in _batches(list(dict.fromkeys(keys))):
                statement = delete(S3ObjectRow).where(
                    S3ObjectRow.source_id == source_id, S3ObjectRow.object_key.in_(batch)
                )
                dropped += connection.execute(statement).rowcount
        return dropped

    def create_s3_invocations(
        self, source_id: uuid.UUID, requests: Sequence[IndexJobMetadata]
    ) -> tuple[list[Job], list[IndexJobMetadata]]:
        """Queue many pending S3 invocations of one source in one transaction.

        Each request is treated as ``create_invocation(source_id, metadata, exclusive=True)``
        would: it is refused when a pending/processing invocation of the source already targets
        the same collection and object key (including one queued earlier in ``requests``).
        One commit for a whole listing page instead of one per object.

        Args:
            source_id: The S3 source.
            requests: S3 invocation metadata (``s3.object_key`` set).

        Returns:
            The invocations created, and the requests refused because of an active one.

        Raises:
            SourceNotFoundError: ``source_id`` names no source.
        """
        rows: list[InvocationRow] = []
        refused: list[IndexJobMetadata] = []
        with self._sessions.begin() as session:
            # Same lock as create_invocation: concurrent exclusive creates serialise on it.
            locked = session.execute(
                update(SourceRow)
                .where(SourceRow.id == source_id)
                .values(database_name=SourceRow.database_name)
            )
            if locked.rowcount != 1:  # type: ignore[attr-defined]
                raise SourceNotFoundError(f"no source {source_id}")
            keys = list({_s3_key(m) or "" for m in requests})
            active: set[tuple[str, str | None]] = set()
            for batch in _batches(keys):
                query = select(InvocationRow.collection_name, InvocationRow.object_key).where(
                    InvocationRow.source_id == source_id,
                    InvocationRow.status.in_(ACTIVE),
                    InvocationRow.object_key.in_(batch),
                )
                active.update((name, key) for name, key in session.execute(query))
            for metadata in requests:
                slot = (metadata.collection_name, _s3_key(metadata))
                if slot in active:
                    refused.append(metadata)
                    continue
                active.add(slot)
                rows.append(_pending_row(source_id, metadata))
            session.add_all(rows)
            session.flush()
            return [job_from_row(row) for row in rows], refused

    def record_failed_invocation(
        self,
        source_id: uuid.UUID,
        metadata: IndexJobMetadata,
        error: str,
        *,
        object_key: str | None = None,
    ) -> Job:
        """Record an invocation that failed before it could be queued (it never runs).

        It is stored ``failed`` at once, so no sensor can launch it in between.

        Args:
            source_id: The source.
            metadata: Kind, database and target collection.
            error: The failure shown by the API.
            object_key: The object the failure is about (default: the S3 kind's key).

        Returns:
            The failed invocation.
        """
        now = utcnow()
        row = invocation_row(
            source_id,
            metadata,
            status="failed",
            created_at=now,
            object_key=object_key if object_key is not None else _s3_key(metadata),
            error=error,
            finished_at=now,
        )
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return job_from_row(row)


def _s3_key(metadata: IndexJobMetadata) -> str | None:
    return metadata.s3.object_key if metadata.s3 is not None else None


def _pending_row(source_id: uuid.UUID, metadata: IndexJobMetadata) -> InvocationRow:
    """The row ``create_invocation`` stores for an S3 invocation."""
    s3 = metadata.s3
    if s3 is None:
        raise ValueError("not an S3 invocation")
    return invocation_row(
        source_id,
        metadata,
        status="pending",
        created_at=utcnow(),
        object_key=s3.object_key,
        custom_id=s3.custom_id,
        extra_metadata=(
            dict(s3.additional_metadata) if s3.additional_metadata is not None else None
        ),
        ref=None,
    )


def _upsert(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``s3_objects``, replacing the ETag/pass/target of existing keys."""
    dialect = connection.dialect.name
    changing = ("etag", "seen_pass", "sidecar_target")
    if dialect in ("sqlite", "postgresql"):
        module: Any = sqlite if dialect == "sqlite" else postgresql
        statement = module.insert(S3ObjectRow)
        statement = statement.on_conflict_do_update(
            index_elements=[S3ObjectRow.source_id, S3ObjectRow.object_key],
            set_={name: statement.excluded[name] for name in changing},
        )
        connection.execute(statement, rows)
        return
    for row in rows:  # other backends: delete then insert, inside the caller's transaction
        connection.execute(
            delete(S3ObjectRow).where(
                S3ObjectRow.source_id == row["source_id"],
                S3ObjectRow.object_key == row["object_key"],
            )
        )
    connection.execute(insert(S3ObjectRow), rows)
