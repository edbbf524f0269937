"""Replace-on-resync against real Chroma collections (embedded and a ``chroma run`` server).

Contract: a document's chunks end exactly as a fresh sync would leave them; unchanged text is
never re-embedded; a metadata-only change updates metadata (removed keys disappear) without
re-embedding; stale ids are deleted; other documents are untouched; no write exceeds the
client's batch size. A chunk's context is embedded on a line before its text, stored only in
its metadata, and a changed context re-embeds the chunk.
"""

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest

from sync_pipelines.core.records import build_records, sha256_hex
from sync_pipelines.core.types import Chunk
from sync_pipelines.core.writer import sync_document
from sync_pipelines.devtools.ports import free_port
from sync_pipelines.resources.chroma import ChromaResource


class CountingEmbed:
    """A deterministic stand-in for the model that records what it was asked to embed."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        self.texts.extend(texts)
        return [np.full(8, (hash(t) % 97) / 97.0 + 0.01, dtype=np.float32) for t in texts]


class RecordingCollection:
    """Wraps a real collection and records the size of every write."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes: list[tuple[str, int]] = []

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.get(*args, **kwargs)

    def upsert(self, **kwargs: Any) -> Any:
        self.writes.append(("upsert", len(kwargs["ids"])))
        return self.inner.upsert(**kwargs)

    def update(self, **kwargs: Any) -> Any:
        self.writes.append(("update", len(kwargs["ids"])))
        return self.inner.update(**kwargs)

    def delete(self, **kwargs: Any) -> Any:
        self.writes.append(("delete", len(kwargs["ids"])))
        return self.inner.delete(**kwargs)


def chunks(texts: list[str]) -> list[Chunk]:
    return [Chunk(text=t, start_line=i + 1, end_line=i + 1) for i, t in enumerate(texts)]


def records(texts: list[str], version: str = "v1", key: str = "doc.txt", **extra: Any) -> Any:
    return build_records(
        chunks(texts),
        document_key=key,
        version_key=version,
        chunk_strategy="lines",
        extra_metadata=extra or None,
    )


def snapshot(collection: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    got = collection.get(include=["documents", "metadatas"])
    return {
        i: (d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }


@pytest.fixture
def collection(tmp_path: Path) -> Any:
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    return client.create_collection(f"c{uuid.uuid4().hex[:8]}", embedding_function=None)


def sync(collection: Any, recs: Any, embed: CountingEmbed, batch: int = 100) -> Any:
    return sync_document(
        collection, recs, document_key="doc.txt", custom_id=None, embed=embed, max_batch_size=batch
    )


def test_resync_equals_fresh_sync_and_reuses_unchanged_text(
    collection: Any, tmp_path: Path
) -> None:
    embed = CountingEmbed()
    sync(collection, records(["a", "b", "c", "d"]), embed)
    other = build_records(
        chunks(["x"]), document_key="other.txt", version_key="1", chunk_strategy="lines"
    )
    sync_document(
        collection, other, document_key="other.txt", custom_id=None, embed=embed, max_batch_size=9
    )
    embed.texts.clear()

    counts = sync(collection, records(["a", "B", "c"], version="v2"), embed)

    assert embed.texts == ["B"]
    assert (counts.written, counts.metadata_updated, counts.deleted) == (1, 2, 1)
    fresh = chromadb.PersistentClient(path=str(tmp_path / "fresh")).create_collection(
        "fresh", embedding_function=None
    )
    sync(fresh, records(["a", "B", "c"], version="v2"), CountingEmbed())
    mine = {k: v for k, v in snapshot(collection).items() if v[1]["document_key"] == "doc.txt"}
    assert mine == snapshot(fresh)
    assert [v[0] for v in snapshot(collection).values() if v[1]["document_key"] == "other.txt"] == [
        "x"
    ]


def test_metadata_only_change_updates_without_embedding_and_drops_removed_keys(
    collection: Any,
) -> None:
    embed = CountingEmbed()
    sync(collection, records(["a", "b"], team="red", tier="gold"), embed)
    embed.texts.clear()

    counts = sync(collection, records(["a", "b"], team="blue"), embed)

    assert embed.texts == []
    assert counts.metadata_updated == 2
    metas = [m for _, m in snapshot(collection).values()]
    assert all(m["team"] == "blue" and "tier" not in m for m in metas)


def test_identical_resync_writes_nothing(collection: Any) -> None:
    embed = CountingEmbed()
    sync(collection, records(["a", "b"]), embed)
    wrapped = RecordingCollection(collection)

    counts = sync(wrapped, records(["a", "b"]), embed)

    assert wrapped.writes == []
    assert counts.unchanged == 2


def test_writes_never_exceed_the_batch_size(collection: Any) -> None:
    wrapped = RecordingCollection(collection)
    sync(wrapped, records([f"t{i}" for i in range(7)]), CountingEmbed(), batch=3)
    sync(wrapped, records([f"u{i}" for i in range(2)]), CountingEmbed(), batch=3)

    assert max(size for _, size in wrapped.writes) <= 3
    assert [w for w in wrapped.writes if w[0] == "upsert"] == [
        ("upsert", 3),
        ("upsert", 3),
        ("upsert", 1),
        ("upsert", 2),
    ]
    assert sum(size for op, size in wrapped.writes if op == "delete") == 5
    assert collection.count() == 2


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    chroma = str(Path(sys.executable).parent / "chroma")
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                assert time.monotonic() < deadline, "chroma run did not start"
                time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_chroma_resource_on_a_chroma_server(chroma_server: int) -> None:
    resource = ChromaResource(mode="http", host="127.0.0.1", port=chroma_server)
    target = resource.get_collection("server_db", "docs")
    embed = CountingEmbed()
    batch = resource.get_client("server_db").get_max_batch_size()

    sync_document(
        target,
        records(["a", "b", "c"]),
        document_key="doc.txt",
        custom_id=None,
        embed=embed,
        max_batch_size=batch,
    )
    sync_document(
        target,
        records(["a"]),
        document_key="doc.txt",
        custom_id=None,
        embed=embed,
        max_batch_size=batch,
    )

    stock = chromadb.HttpClient(host="127.0.0.1", port=chroma_server, database="server_db")
    got = stock.get_collection("docs").get()
    assert sorted(got["ids"]) == [f"{records(['a'])[0].id}"]


def test_context_is_embedded_before_the_text_and_a_changed_context_re_embeds(
    collection: Any,
) -> None:
    def with_context(context: str | None) -> Any:
        return build_records(
            [Chunk("body", 3, 3, context), Chunk("tail", 4, 4)],
            document_key="doc.txt",
            version_key="v1",
            chunk_strategy="tree_sitter",
        )

    embed = CountingEmbed()
    sync(collection, with_context("class A > def f"), embed)
    assert embed.texts == ["class A > def f\nbody", "tail"]
    stored = snapshot(collection)
    assert [d for d, _ in stored.values()] == ["body", "tail"]  # the document is the text alone
    assert stored[f"{sha256_hex('doc.txt')}-0"][1]["chunk_context"] == "class A > def f"
    assert all(m["chunker_version"] == 2 for _, m in stored.values())
    embed.texts.clear()

    counts = sync(collection, with_context("class B > def f"), embed)

    assert embed.texts == ["class B > def f\nbody"]  # same text, new context: new vector
    assert (counts.written, counts.unchanged) == (1, 1)
    counts = sync(collection, with_context(None), embed)
    assert embed.texts[-1] == "body" and counts.written == 1
    assert "chunk_context" not in snapshot(collection)[f"{sha256_hex('doc.txt')}-0"][1]
    assert sync(collection, with_context(None), embed).written == 0
