"""Sync one big document in bounded groups: embed every group first, then write them all.

:func:`~sync_pipelines.core.writer.sync_document` holds every record, every stored chunk and
every vector of a document at once; for a 50 MB object that is gigabytes. Here records arrive
as an iterator (chunked from a stream) and go through in groups of ``group_size``:

1. Stage: for each group, read what the collection holds for exactly those ids, plan the group
   (:func:`~sync_pipelines.core.reconcile.plan_document_sync`), embed its new or changed texts
   (each distinct text once, with a bounded cache across groups) and append the plan and its
   vectors to a temporary file. Nothing is written to the collection, so a failure here (the
   embedding model, a budget, a parse error further down the stream) leaves the document's
   previous version complete.
2. Write: read the staged groups back one by one and upsert/update them.
3. Delete the chunks of the previous version beyond the new chunk count.

The slow part (embedding) is all in step 1; steps 2 and 3 only move staged rows into Chroma,
with the same idempotent writes as the whole-document writer: a write error there fails the
sync, and the next sync of the object converges (ids are positional, the plan compares texts).
Memory is one group, the cache, and the ids of surplus chunks.
"""

import hashlib
import pickle
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

from sync_pipelines.core.reconcile import StoredChunk, plan_document_sync
from sync_pipelines.core.records import ChunkRecord, chunk_id_prefix, owned_by
from sync_pipelines.core.writer import (
    CollectionLike,
    EmbedFn,
    WriteCounts,
    embed_unique,
    float32_rows,
    identity_filter,
)

GROUP_CHUNKS = 256
"""Records per staged group (one ``get`` and one embedding call each)."""

CACHE_TEXTS = 4096
"""Distinct chunk texts whose vectors are kept for reuse across groups."""

ID_PAGE = 5000


class OverBudgetError(Exception):
    """The document exceeds its time or chunk budget; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        """Keep the reason for the invocation's error text."""
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Budget:
    """Limits of one document's sync (``None``: unlimited).

    Attributes:
        seconds: Wall time allowed from ``started`` until every group is staged.
        max_chunks: Most chunks the document may have.
        started: ``time.monotonic()`` when the document's sync began (``None``: the time
            budget is not checked).
    """

    seconds: float | None = None
    max_chunks: int | None = None
    started: float | None = None

    def check(self, chunks: int) -> None:
        """Raise :class:`OverBudgetError` when ``chunks`` or the time spent exceed the budget."""
        if self.max_chunks is not None and chunks > self.max_chunks:
            raise OverBudgetError(
                f"over the per-object budget of {self.max_chunks} chunks (it has more)"
            )
        if self.seconds is None or self.started is None:
            return
        if time.monotonic() - self.started > self.seconds:
            raise OverBudgetError(
                f"over the per-object time budget of {self.seconds:g} s (stopped before "
                "writing anything)"
            )


def _groups(records: Iterable[ChunkRecord], size: int) -> Iterator[list[ChunkRecord]]:
    it = iter(records)
    while group := list(islice(it, size)):
        yield group


class _VectorCache:
    """Vectors of recently embedded texts, keyed by a digest of the text."""

    def __init__(self, embed: EmbedFn) -> None:
        self.embed = embed
        self.vectors: dict[bytes, Any] = {}

    def __call__(self, texts: Sequence[str]) -> list[Any]:
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        missing = [i for i, key in enumerate(keys) if key not in self.vectors]
        fresh = embed_unique(self.embed, [texts[i] for i in missing])
        found = dict(zip((keys[i] for i in missing), fresh, strict=True))
        out = [found[key] if key in found else self.vectors[key] for key in keys]
        for key, vector in found.items():
            if len(self.vectors) < CACHE_TEXTS:
                self.vectors[key] = vector
        return out


def sync_document_staged(
    collection: CollectionLike,
    records: Iterable[ChunkRecord],
    *,
    document_key: str,
    custom_id: str | None,
    embed: EmbedFn,
    max_batch_size: int,
    budget: Budget | None = None,
    group_size: int | None = None,
    scratch_dir: Path | None = None,
    on_staged: Callable[[int], None] | None = None,
) -> WriteCounts:
    """Bring one document's chunks in ``collection`` in step with ``records``, in groups.

    Args:
        collection: Target collection.
        records: The document's records in id order (``{prefix}-0``, ``-1``, ...), any length.
        document_key: Object key the records belong to.
        custom_id: The S3 custom id used for the records, if any.
        embed: Embedding function (texts in, vectors out, same order).
        max_batch_size: The client's maximum batch size; no write exceeds it.
        budget: Time and chunk limits, checked before each group is staged.
        group_size: Records per group (default :data:`GROUP_CHUNKS`).
        scratch_dir: Where the staging file goes (default: the system's temp folder).
        on_staged: Called with the number of records staged so far after each group.

    Returns:
        Counts of what was written, updated, kept and deleted.

    Raises:
        OverBudgetError: The budget ran out before every group was staged (nothing written).
    """
    prefix = chunk_id_prefix(document_key, custom_id)
    where = identity_filter(document_key, custom_id)
    vectors = _VectorCache(embed)
    total = written = updated = unchanged = 0
    embed_seconds = 0.0
    with tempfile.TemporaryFile(dir=scratch_dir, prefix="chroma-sync-stage-") as stage:
        size = max(1, min(group_size or GROUP_CHUNKS, max_batch_size))
        for group in _groups(records, size):
            if budget is not None:
                budget.check(total + len(group))
            got = collection.get(
                ids=[r.id for r in group], where=where, include=["documents", "metadatas"]
            )
            stored = {
                cid: StoredChunk(document=doc, metadata=meta)
                for cid, doc, meta in zip(
                    got["ids"], got["documents"], got["metadatas"], strict=True
                )
                if owned_by(cid, prefix)
            }
            plan = plan_document_sync(group, stored, prefix=prefix)
            started = time.perf_counter()
            texts = [r.embedded_text for r in plan.embed]
            rows = float32_rows(vectors(texts), range(len(plan.embed)))
            embed_seconds += time.perf_counter() - started
            pickle.dump((plan.embed, rows, plan.updates), stage)
            total += len(group)
            written += len(plan.embed)
            updated += len(plan.update_metadata)
            unchanged += plan.unchanged
            if on_staged is not None:
                on_staged(total)
        stage.seek(0)
        _write_staged(collection, stage, max_batch_size)
    surplus = _surplus(collection, where, prefix, total)
    for start in range(0, len(surplus), max_batch_size):
        collection.delete(ids=surplus[start : start + max_batch_size])
    return WriteCounts(total, written, updated, unchanged, len(surplus), embed_seconds)


def _write_staged(collection: CollectionLike, stage: IO[bytes], max_batch_size: int) -> None:
    while True:
        try:
            embed, rows, updates = pickle.load(stage)
        except EOFError:
            return
        for start in range(0, len(embed), max_batch_size):
            batch = embed[start : start + max_batch_size]
            collection.upsert(
                ids=[r.id for r in batch],
                documents=[r.document for r in batch],
                metadatas=[r.metadata for r in batch],
                embeddings=rows[start : start + max_batch_size],
            )
        for start in range(0, len(updates), max_batch_size):
            part = updates[start : start + max_batch_size]
            collection.update(ids=[u[0] for u in part], metadatas=[u[1] for u in part])


def _surplus(
    collection: CollectionLike, where: dict[str, str], prefix: str, count: int
) -> list[str]:
    """Ids the document owns at positions ``count`` and beyond, read page by page."""
    surplus: list[str] = []
    offset = 0
    while True:
        got = collection.get(where=where, include=[], limit=ID_PAGE, offset=offset)
        ids: list[str] = got["ids"]
        surplus.extend(
            cid for cid in ids if owned_by(cid, prefix) and int(cid.rpartition("-")[2]) >= count
        )
        if len(ids) < ID_PAGE:
            return sorted(surplus, key=lambda cid: int(cid.rpartition("-")[2]))
        offset += ID_PAGE
