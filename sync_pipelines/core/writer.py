"""Write one document's chunks into a Chroma collection, replacing what it held before.

Embeddings are computed for every changed chunk before the first write, so a failure while
embedding leaves the collection untouched; the writes themselves are idempotent, so a retry after
a failed write converges on the same state.
"""

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sync_pipelines.core.reconcile import StoredChunk, plan_document_sync
from sync_pipelines.core.records import ChunkRecord, chunk_id_prefix, owned_by

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# numpy is imported where vectors are made: the Dagster code server imports this module
# (through the ops) but never embeds, and needs no numpy.
EmbedFn = Callable[[list[str]], "Sequence[NDArray[np.float32]] | Sequence[Sequence[float]]"]


def float32_rows(vectors: Sequence[Any], rows: Iterable[int]) -> list[Any]:
    """The given rows of ``vectors`` as float32 arrays, the form Chroma stores."""
    import numpy

    return [numpy.asarray(vectors[i], dtype=numpy.float32) for i in rows]


def embed_unique(embed: EmbedFn, texts: Sequence[str]) -> list[Any]:
    """Embed ``texts``, each distinct text once; one vector per text, in order."""
    if not texts:
        return []
    index: dict[str, int] = {}
    for text in texts:
        index.setdefault(text, len(index))
    if len(index) == len(texts):
        return list(embed(list(texts)))
    vectors = list(embed(list(index)))
    return [vectors[index[text]] for text in texts]


class CollectionLike(Protocol):
    """The part of ``chromadb.Collection`` the writer uses."""

    def get(self, *args: Any, **kwargs: Any) -> Any: ...
    def upsert(self, *args: Any, **kwargs: Any) -> Any: ...
    def update(self, *args: Any, **kwargs: Any) -> Any: ...
    def delete(self, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class WriteCounts:
    """What one document sync did.

    Attributes:
        chunks: Chunks the document has now.
        written: Chunks embedded and upserted (new or changed text).
        metadata_updated: Chunks whose metadata alone was updated (no re-embedding).
        unchanged: Chunks already stored exactly.
        deleted: Stale chunks removed.
        embed_seconds: Wall time spent embedding.
    """

    chunks: int
    written: int
    metadata_updated: int
    unchanged: int
    deleted: int
    embed_seconds: float


def _batches(n: int, size: int) -> list[range]:
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


def identity_filter(document_key: str, custom_id: str | None) -> dict[str, str]:
    """Return the ``where`` filter that finds every chunk a document may own."""
    return {"custom_id": custom_id} if custom_id else {"document_key": document_key}


def read_stored(
    collection: CollectionLike, where: dict[str, str], prefix: str
) -> dict[str, StoredChunk]:
    """Read the chunks a document owns in ``collection``.

    Args:
        collection: The Chroma collection.
        where: Metadata filter from :func:`identity_filter`.
        prefix: The document's chunk id prefix; only ids it owns are returned.

    Returns:
        Stored text and metadata keyed by chunk id.
    """
    got = collection.get(where=where, include=["documents", "metadatas"])
    ids: list[str] = got["ids"]
    docs = got.get("documents") or [None] * len(ids)
    metas = got.get("metadatas") or [None] * len(ids)
    return {
        cid: StoredChunk(document=doc, metadata=meta)
        for cid, doc, meta in zip(ids, docs, metas, strict=True)
        if owned_by(cid, prefix)
    }


def sync_document(
    collection: CollectionLike,
    records: Sequence[ChunkRecord],
    *,
    document_key: str,
    custom_id: str | None,
    embed: EmbedFn,
    max_batch_size: int,
) -> WriteCounts:
    """Bring one document's chunks in ``collection`` in step with ``records``.

    Args:
        collection: Target collection.
        records: The document's records from :func:`~sync_pipelines.core.records.build_records`
            (may be empty: the document's chunks are then all deleted).
        document_key: Object key, path or URL the records belong to.
        custom_id: The S3 custom id used for the records, if any.
        embed: Embedding function (texts in, vectors out, same order).
        max_batch_size: The client's maximum batch size; no write exceeds it.

    Returns:
        Counts of what was written, updated, kept and deleted.
    """
    prefix = chunk_id_prefix(document_key, custom_id)
    stored = read_stored(collection, identity_filter(document_key, custom_id), prefix)
    plan = plan_document_sync(records, stored, prefix=prefix)

    started = time.perf_counter()
    vectors = embed_unique(embed, [r.embedded_text for r in plan.embed])
    embed_seconds = time.perf_counter() - started

    for span in _batches(len(plan.embed), max_batch_size):
        batch = [plan.embed[i] for i in span]
        collection.upsert(
            ids=[r.id for r in batch],
            documents=[r.document for r in batch],
            metadatas=[r.metadata for r in batch],
            embeddings=float32_rows(vectors, span),
        )
    all_updates = plan.updates
    for span in _batches(len(all_updates), max_batch_size):
        updates = [all_updates[i] for i in span]
        collection.update(ids=[u[0] for u in updates], metadatas=[u[1] for u in updates])
    for span in _batches(len(plan.delete), max_batch_size):
        collection.delete(ids=[plan.delete[i] for i in span])

    return WriteCounts(
        chunks=len(records),
        written=len(plan.embed),
        metadata_updated=len(plan.update_metadata),
        unchanged=plan.unchanged,
        deleted=len(plan.delete),
        embed_seconds=embed_seconds,
    )


def iter_metadatas(collection: CollectionLike, page_size: int = 1000) -> Iterator[Any]:
    """Yield the metadata of every chunk in ``collection``, reading it page by page.

    Args:
        collection: The Chroma collection.
        page_size: Records per ``get``.

    Yields:
        Each chunk's metadata (``None`` for chunks without metadata).
    """
    offset = 0
    while True:
        got = collection.get(include=["metadatas"], limit=page_size, offset=offset)
        yield from got.get("metadatas") or []
        if len(got["ids"]) < page_size:
            return
        offset += page_size
