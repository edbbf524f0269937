"""Write several documents' chunks into one collection with one embedding call.

:func:`~sync_pipelines.core.writer.sync_document` per document, but the texts of every document
in the group go through the embedding function together (it pads per batch, so short texts of
many documents share batches) and the writes of every document share ``upsert``/``update``/
``delete`` calls. Each document keeps its own plan, so the result is exactly what syncing them
one at a time gives. What the documents already hold is read with one ``get`` per group.
Embeddings are computed before the first write.
"""

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sync_pipelines.core.reconcile import StoredChunk, SyncPlan, plan_document_sync
from sync_pipelines.core.records import ChunkRecord, MetadataValue, chunk_id_prefix, owned_by
from sync_pipelines.core.writer import (
    CollectionLike,
    EmbedFn,
    WriteCounts,
    embed_unique,
    float32_rows,
    identity_filter,
    read_stored,
)


class DuplicateDocumentError(ValueError):
    """Two documents of one group own the same chunk ids; sync them in separate groups."""


@dataclass(frozen=True)
class DocumentWrite:
    """One document of a group.

    Attributes:
        records: Its records (empty: every chunk it owns is deleted).
        document_key: Object key, path or URL.
        custom_id: The S3 custom id used for its records, if any.
    """

    records: Sequence[ChunkRecord]
    document_key: str
    custom_id: str | None = None

    @property
    def prefix(self) -> str:
        """The chunk id prefix this document owns."""
        return chunk_id_prefix(self.document_key, self.custom_id)


def _spans(n: int, size: int) -> list[range]:
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


def read_stored_many(
    collection: CollectionLike, documents: Sequence[DocumentWrite]
) -> list[dict[str, StoredChunk]]:
    """Read what each document owns with one ``get`` for the whole group.

    Each document gets exactly what :func:`~sync_pipelines.core.writer.read_stored` with its
    identity filter and prefix would return.

    Args:
        collection: The Chroma collection.
        documents: The group (distinct prefixes).

    Returns:
        Stored text and metadata keyed by chunk id, one mapping per document, in order.
    """
    if not documents:
        return []
    if len(documents) == 1:
        doc = documents[0]
        return [
            read_stored(collection, identity_filter(doc.document_key, doc.custom_id), doc.prefix)
        ]
    clauses: list[dict[str, Any]] = []
    keys = [d.document_key for d in documents if not d.custom_id]
    customs = [d.custom_id for d in documents if d.custom_id]
    if keys:
        clauses.append({"document_key": {"$in": keys}})
    if customs:
        clauses.append({"custom_id": {"$in": customs}})
    where = clauses[0] if len(clauses) == 1 else {"$or": clauses}
    got = collection.get(where=where, include=["documents", "metadatas"])
    ids: list[str] = got["ids"]
    texts = got.get("documents") or [None] * len(ids)
    metas = got.get("metadatas") or [None] * len(ids)
    index = {d.prefix: i for i, d in enumerate(documents)}
    held: list[dict[str, StoredChunk]] = [{} for _ in documents]
    for cid, text, meta in zip(ids, texts, metas, strict=True):
        i = index.get(cid.rpartition("-")[0])
        if i is None or not owned_by(cid, documents[i].prefix):
            continue
        doc, found = documents[i], meta or {}
        identity = (
            ("custom_id", doc.custom_id) if doc.custom_id else ("document_key", doc.document_key)
        )
        if found.get(identity[0]) == identity[1]:
            held[i][cid] = StoredChunk(document=text, metadata=meta)
    return held


def sync_documents(
    collection: CollectionLike,
    documents: Sequence[DocumentWrite],
    *,
    embed: EmbedFn,
    max_batch_size: int,
) -> list[WriteCounts]:
    """Bring several documents' chunks in ``collection`` in step with their records.

    Args:
        collection: Target collection.
        documents: The group; no two may own the same chunk id prefix.
        embed: Embedding function (texts in, vectors out, same order).
        max_batch_size: The client's maximum batch size; no write exceeds it.

    Returns:
        Counts per document, in order (``embed_seconds`` is the group's embedding time shared
        by chunk count).

    Raises:
        DuplicateDocumentError: Two documents own the same prefix.
    """
    prefixes = [d.prefix for d in documents]
    if len(set(prefixes)) != len(prefixes):
        raise DuplicateDocumentError("two documents of one group own the same chunk ids")
    stored = read_stored_many(collection, documents)
    plans: list[SyncPlan] = [
        plan_document_sync(doc.records, held, prefix=prefix)
        for doc, held, prefix in zip(documents, stored, prefixes, strict=True)
    ]

    to_embed = [record for plan in plans for record in plan.embed]
    started = time.perf_counter()
    vectors = embed_unique(embed, [r.embedded_text for r in to_embed])
    embed_seconds = time.perf_counter() - started

    for span in _spans(len(to_embed), max_batch_size):
        batch = [to_embed[i] for i in span]
        collection.upsert(
            ids=[r.id for r in batch],
            documents=[r.document for r in batch],
            metadatas=[r.metadata for r in batch],
            embeddings=float32_rows(vectors, span),
        )
    updates: list[tuple[str, dict[str, MetadataValue | None]]] = [
        u for plan in plans for u in plan.updates
    ]
    for span in _spans(len(updates), max_batch_size):
        chunk = [updates[i] for i in span]
        collection.update(ids=[u[0] for u in chunk], metadatas=[u[1] for u in chunk])
    deletes = [cid for plan in plans for cid in plan.delete]
    for span in _spans(len(deletes), max_batch_size):
        collection.delete(ids=[deletes[i] for i in span])

    total = len(to_embed) or 1
    return [
        WriteCounts(
            chunks=len(doc.records),
            written=len(plan.embed),
            metadata_updated=len(plan.update_metadata),
            unchanged=plan.unchanged,
            deleted=len(plan.delete),
            embed_seconds=embed_seconds * len(plan.embed) / total,
        )
        for doc, plan in zip(documents, plans, strict=True)
    ]


#: Documents whose new chunks are embedded and written together by :func:`sync_in_groups`.
DOCUMENTS_PER_WRITE = 64


def sync_in_groups(
    collection: CollectionLike,
    documents: Sequence[DocumentWrite],
    *,
    embed: EmbedFn,
    max_batch_size: int,
    group_size: int | None = None,
) -> Iterator[tuple[int, list[WriteCounts]]]:
    """:func:`sync_documents` over ``documents`` in groups (default: ``DOCUMENTS_PER_WRITE``).

    Web pages and repository files hold a few chunks each; one embedding call per group
    instead of per document keeps the model's batches full.

    Yields:
        For each group once it is written: how many documents were written before it, and
        its per-document counts.
    """
    size = group_size or DOCUMENTS_PER_WRITE
    for start in range(0, len(documents), size):
        group = documents[start : start + size]
        yield start, sync_documents(collection, group, embed=embed, max_batch_size=max_batch_size)
