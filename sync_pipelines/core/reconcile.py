"""Replace-on-resync: decide which chunks of one document to embed, update or delete.

Re-sending unchanged rows to Chroma is expensive (an upsert of an existing id is ~5x slower than
a new one), so the plan compares the new records with what the collection already holds for the
document and sends only the difference. Applying the plan leaves the collection exactly as a fresh
sync of the current document would.

A chunk is embedded as its context followed by its text
(:attr:`~sync_pipelines.core.records.ChunkRecord.embedded_text`), so a changed context
re-embeds the chunk even when its stored text is unchanged.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sync_pipelines.core.records import (
    CONTEXT_KEY,
    ChunkRecord,
    Metadata,
    MetadataValue,
    owned_by,
)


@dataclass(frozen=True)
class StoredChunk:
    """What the collection holds for one chunk id."""

    document: str | None
    metadata: Mapping[str, object] | None


@dataclass
class SyncPlan:
    """The writes that bring one document's chunks in step with its new records.

    Attributes:
        embed: Records whose text or context is new or changed: embed and upsert them.
        update_metadata: ``(id, metadata)`` of records with unchanged text but changed
            metadata: update metadata only; keys the record no longer has map to ``None``,
            which Chroma's ``update`` deletes.
        unchanged: Number of records already stored exactly.
        delete: Ids of stored chunks of this document that the new records no longer have.
        clear_keys: ``(id, {key: None})`` for embedded records whose stored chunk has keys
            the record no longer has (e.g. a context): Chroma's ``upsert`` merges metadata,
            so they are deleted by an ``update`` after the upsert.
    """

    embed: list[ChunkRecord] = field(default_factory=list)
    update_metadata: list[tuple[str, dict[str, MetadataValue | None]]] = field(default_factory=list)
    unchanged: int = 0
    delete: list[str] = field(default_factory=list)
    clear_keys: list[tuple[str, dict[str, MetadataValue | None]]] = field(default_factory=list)

    @property
    def updates(self) -> list[tuple[str, dict[str, MetadataValue | None]]]:
        """Every metadata ``update`` to send once the upserts are done."""
        return self.update_metadata + self.clear_keys


def _same_metadata(new: Metadata, stored: Mapping[str, object] | None) -> bool:
    if stored is None:
        return not new
    return dict(stored) == dict(new)


def plan_document_sync(
    records: Sequence[ChunkRecord],
    stored: Mapping[str, StoredChunk],
    *,
    prefix: str,
) -> SyncPlan:
    """Plan the writes for one document.

    Args:
        records: The document's new records (ids ``{prefix}-{i}``).
        stored: What the collection holds for this document, keyed by id (may contain ids of
            other documents: only ids owned by ``prefix`` are considered for deletion).
        prefix: The document's chunk id prefix.

    Returns:
        The plan; applying it in the order embed/upsert, update (:attr:`SyncPlan.updates`),
        delete is safe to repeat.
    """
    plan = SyncPlan()
    new_ids = set()
    for record in records:
        new_ids.add(record.id)
        current = stored.get(record.id)
        if (
            current is None
            or current.document != record.document
            or (current.metadata or {}).get(CONTEXT_KEY) != record.context
        ):
            plan.embed.append(record)
            held = current.metadata if current is not None else None
            stale = [key for key in held or {} if key not in record.metadata]
            if stale:
                plan.clear_keys.append((record.id, dict.fromkeys(stale)))
        elif not _same_metadata(record.metadata, current.metadata):
            patch: dict[str, MetadataValue | None] = dict(record.metadata)
            for key in current.metadata or {}:
                patch.setdefault(key, None)
            plan.update_metadata.append((record.id, patch))
        else:
            plan.unchanged += 1
    plan.delete = sorted(
        (cid for cid in stored if cid not in new_ids and owned_by(cid, prefix)),
        key=lambda cid: int(cid.rpartition("-")[2]),
    )
    return plan
