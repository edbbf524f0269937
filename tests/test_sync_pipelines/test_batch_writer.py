"""Several documents written together against real embedded Chroma collections.

Contract: ``read_stored_many`` gives each document exactly what ``read_stored`` with its own
identity filter gives (custom ids, same key with and without a custom id, other documents'
chunks); ``sync_documents`` leaves a collection exactly as syncing the documents one at a time
with ``sync_document`` does, with the same per-document counts, embeds every changed text once
in a single call, and refuses two documents owning the same chunk ids.
"""

import uuid
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest

from sync_pipelines.core.batch_writer import (
    DocumentWrite,
    DuplicateDocumentError,
    read_stored_many,
    sync_documents,
)
from sync_pipelines.core.records import ChunkRecord, build_records
from sync_pipelines.core.types import Chunk
from sync_pipelines.core.writer import identity_filter, read_stored, sync_document


class CountingEmbed:
    """A deterministic stand-in for the model that records each call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        self.calls.append(list(texts))
        return [np.full(8, (sum(map(ord, t)) % 97) / 97.0 + 0.01, dtype=np.float32) for t in texts]


def recs(key: str, texts: list[str], version: str = "v1", custom_id: str | None = None) -> Any:
    chunks = [Chunk(text=t, start_line=i + 1, end_line=i + 1) for i, t in enumerate(texts)]
    return build_records(
        chunks, document_key=key, version_key=version, chunk_strategy="lines", custom_id=custom_id
    )


def write(key: str, records: list[ChunkRecord], custom_id: str | None = None) -> DocumentWrite:
    return DocumentWrite(records, key, custom_id)


def new_collection(path: Path) -> Any:
    client = chromadb.PersistentClient(path=str(path))
    return client.create_collection(f"c{uuid.uuid4().hex[:8]}", embedding_function=None)


def snapshot(collection: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    got = collection.get(include=["documents", "metadatas"])
    return {
        i: (d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }


def seed(collection: Any) -> None:
    embed = CountingEmbed()
    for key, texts, custom in (
        ("a.md", ["a1", "a2", "a3"], None),
        ("b.md", ["b1"], None),
        ("a.md", ["c1", "c2"], "custom-a"),
        ("z.md", ["z1"], None),
    ):
        sync_document(
            collection,
            recs(key, texts, custom_id=custom),
            document_key=key,
            custom_id=custom,
            embed=embed,
            max_batch_size=100,
        )


def test_read_stored_many_matches_read_stored_per_document(tmp_path: Path) -> None:
    collection = new_collection(tmp_path / "chroma")
    seed(collection)
    group = [
        write("a.md", []),
        write("a.md", [], "custom-a"),
        write("b.md", []),
        write("new.md", []),
    ]

    held = read_stored_many(collection, group)

    expected = [
        read_stored(collection, identity_filter(d.document_key, d.custom_id), d.prefix)
        for d in group
    ]
    assert held == expected
    assert [len(h) for h in held] == [3, 2, 1, 0]


def test_group_sync_equals_one_at_a_time(tmp_path: Path) -> None:
    grouped = new_collection(tmp_path / "grouped")
    single = new_collection(tmp_path / "single")
    for collection in (grouped, single):
        seed(collection)
    group = [
        write("a.md", recs("a.md", ["a1", "A2"], version="v2")),  # changed, shorter
        write("a.md", recs("a.md", ["c1", "c2"], custom_id="custom-a"), "custom-a"),  # same
        write("b.md", []),  # gone
        write("new.md", recs("new.md", ["n1", "n2"])),  # new
    ]
    embed = CountingEmbed()

    counts = sync_documents(grouped, group, embed=embed, max_batch_size=2)

    one_by_one = [
        sync_document(
            single,
            d.records,
            document_key=d.document_key,
            custom_id=d.custom_id,
            embed=CountingEmbed(),
            max_batch_size=2,
        )
        for d in group
    ]
    assert snapshot(grouped) == snapshot(single)
    strip = [(c.chunks, c.written, c.metadata_updated, c.unchanged, c.deleted) for c in counts]
    assert strip == [
        (c.chunks, c.written, c.metadata_updated, c.unchanged, c.deleted) for c in one_by_one
    ]
    assert embed.calls == [["A2", "n1", "n2"]]
    assert [d for d, _ in snapshot(grouped).values() if d.startswith("z")] == ["z1"]


def test_two_documents_owning_the_same_ids_are_refused(tmp_path: Path) -> None:
    collection = new_collection(tmp_path / "chroma")
    with pytest.raises(DuplicateDocumentError):
        sync_documents(
            collection,
            [write("a.md", recs("a.md", ["x"])), write("a.md", recs("a.md", ["y"]))],
            embed=CountingEmbed(),
            max_batch_size=10,
        )
    assert collection.count() == 0
