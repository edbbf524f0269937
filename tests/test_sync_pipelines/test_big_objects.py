"""Big S3 objects: bounded memory, consistent writes, no hold-up of their batch, a budget.

Contract: an object over ``stream_object_bytes`` is downloaded to a temporary file, chunked from
the stream into exactly the chunks the whole-text chunker gives, embedded and written in groups,
and ends up in the collection exactly as a one-shot sync would leave it (ids, documents,
metadata; surplus chunks of its previous version deleted). A failure while its groups are being
embedded leaves the previous version untouched. It is synced after every smaller object of its
batch, and one over its time or chunk budget fails alone, naming its key.
"""

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipelines.core import staged_writer
from sync_pipelines.core.chunking import chunk_document, default_chunking_options, stream
from sync_pipelines.core.parsing import check_text_file, parse_object, text_lines
from sync_pipelines.core.records import build_records
from sync_pipelines.core.types import ChunkingOptions, ParsedDocument
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.ops.s3_reader import S3SourceReader
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.s3_helpers import collection, create_s3_source, s3_invocation
from tests.test_sync_pipelines.test_s3_batch_job import records_of, run_batch

WORDS = [
    "refund",
    "invoice",
    "bucket",
    "replica",
    "latency",
    "token",
    "policy",
    "retry",
    "schema",
    "vector",
    "chunk",
]


def markdown_doc(seed: int, sections: int) -> str:
    """Deterministic markdown with headings, paragraphs, lists and fenced code."""
    rng = random.Random(seed)
    parts = [f"# Guide {seed}\n"]
    for s in range(sections):
        parts.append(f"\n## Section {s}: {' '.join(rng.choices(WORDS, k=3))}\n")
        for _ in range(rng.randint(1, 4)):
            kind = rng.random()
            if kind < 0.15:
                parts.append("\n```python\n" + "x = 1\n" * rng.randint(1, 30) + "```\n")
            elif kind < 0.3:
                parts.append("\n" + "".join(f"- {rng.choice(WORDS)}\n" for _ in range(5)))
            else:
                words = rng.choices(WORDS, k=rng.randint(20, 300))
                parts.append("\n" + " ".join(words).capitalize() + ".\n")
    return "".join(parts)


def expected_records(key: str, text: str, etag: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """What a one-shot (whole-text) sync of the object gives: id -> (document, metadata)."""
    doc = parse_object(key, text.encode())
    records = build_records(
        chunk_document(doc, default_chunking_options("all-MiniLM-L6-v2")),
        document_key=key,
        version_key=etag.strip('"'),
        chunk_strategy="tree_sitter",
        language=doc.language,
    )
    return {r.id: (r.document, r.metadata) for r in records}


def stored(key: str) -> dict[str, tuple[str, dict[str, Any]]]:
    got = collection().get(where={"document_key": key}, include=["documents", "metadatas"])
    return {
        cid: (doc, meta)
        for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a few hundred KB a big object: several stream windows and staged groups."""
    monkeypatch.setenv("CHROMA_SYNC_STREAM_OBJECT_BYTES", "50000")
    monkeypatch.setattr(stream, "WINDOW_CHARS", 40_000)
    monkeypatch.setattr(stream, "MAX_HELD_CHARS", 400_000)
    monkeypatch.setattr(staged_writer, "GROUP_CHUNKS", 64)
    get_settings.cache_clear()


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Path, int]]:
    """Record every streamed download: key, file and bytes on disk."""
    seen: list[tuple[str, Path, int]] = []
    original = S3SourceReader.download

    def spy(self: S3SourceReader, head: Any, path: Path) -> Any:
        got = original(self, head, path)
        seen.append((head.key, path, path.stat().st_size))
        return got

    monkeypatch.setattr(S3SourceReader, "download", spy)
    return seen


def test_big_object_streams_to_the_same_chunks_and_resync_deletes_surplus(
    s3_server: LocalS3Server,
    s3_client: Any,
    bucket: str,
    small_windows: None,
    downloads: list[tuple[str, Path, int]],
) -> None:
    key = "manual/big.md"
    v1 = markdown_doc(1, 160)
    etag1 = s3_client.put_object(Bucket=bucket, Key=key, Body=v1.encode())["ETag"]
    source = create_s3_source(s3_server, bucket)

    job = s3_invocation(source, key)
    result = run_batch(source, [job])

    assert result.success
    assert records_of([job])[0].job.status.word == "complete"
    want = expected_records(key, v1, etag1)
    assert len(want) > 3 * staged_writer.GROUP_CHUNKS
    assert stored(key) == want
    assert [(k, size) for k, _, size in downloads] == [(key, len(v1.encode()))]
    assert not downloads[0][1].exists()  # the temporary file is gone

    v2 = v1[: len(v1) // 2]
    etag2 = s3_client.put_object(Bucket=bucket, Key=key, Body=v2.encode())["ETag"]
    job2 = s3_invocation(source, key)
    assert run_batch(source, [job2]).success
    assert records_of([job2])[0].job.status.word == "complete"
    assert stored(key) == expected_records(key, v2, etag2)


_BLOCKS = st.sampled_from(
    [
        "# Title",
        "## Sub heading",
        "Setext heading\n===",
        "Another\n---",
        "```\ncode # not a heading\n\n## nor this\n```",
        "~~~~\nunclosed fence",
        "- item\n- item two",
        "",
        "   ",
        "plain words " * 30,
        "x" * 700,
        "a line\nanother line\nthird line",
        "caf\u00e9 \u65e5\u672c\u8a9e " * 40,
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    blocks=st.lists(_BLOCKS, min_size=0, max_size=80),
    language=st.sampled_from(["markdown", None]),
    strategy=st.sampled_from(["tree_sitter", "lines"]),
    cap=st.integers(min_value=1, max_value=2000),
    window=st.integers(min_value=1, max_value=3000),
)
def test_streaming_chunker_equals_whole_text_chunker(
    blocks: list[str], language: str | None, strategy: str, cap: int, window: int
) -> None:
    text = "\n".join(blocks)
    options = ChunkingOptions(strategy=strategy, max_size_bytes=cap, max_lines=7)  # type: ignore[arg-type]
    whole = chunk_document(ParsedDocument(text, language), options)
    saved = stream.WINDOW_CHARS, stream.MAX_HELD_CHARS
    stream.WINDOW_CHARS, stream.MAX_HELD_CHARS = window, 10**9
    try:
        streamed = list(stream.stream_chunks(iter(text.split("\n")), language, options))
    finally:
        stream.WINDOW_CHARS, stream.MAX_HELD_CHARS = saved
    assert streamed == whole


@settings(max_examples=100, deadline=None)
@given(
    data=st.lists(
        st.sampled_from(
            [
                b"a",
                b"\r\n",
                b"\n",
                b"\r",
                b"\xef\xbb\xbf",
                b"\xc3\xa9",
                b"\xe2\x82",
                b"\x00",
                b"\xff",
            ]
        ),
        max_size=40,
    )
)
def test_file_lines_equal_parsed_text(
    tmp_path_factory: pytest.TempPathFactory, data: list[bytes]
) -> None:
    raw = b"".join(data)
    path = tmp_path_factory.mktemp("text") / "object"
    path.write_bytes(raw)
    try:
        want: object = parse_object("a.txt", raw).text.split("\n")
    except Exception as exc:
        want = str(exc)
    try:
        check_text_file("a.txt", path)
        got: object = list(text_lines(path))
    except Exception as exc:
        got = str(exc)
    assert got == want


def test_failure_while_embedding_groups_leaves_the_previous_version(
    s3_server: LocalS3Server,
    s3_client: Any,
    bucket: str,
    small_windows: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "big.md"
    v1 = markdown_doc(2, 60)
    etag1 = s3_client.put_object(Bucket=bucket, Key=key, Body=v1.encode())["ETag"]
    source = create_s3_source(s3_server, bucket)
    first = s3_invocation(source, key)
    assert run_batch(source, [first]).success
    before = collection().get(include=["documents", "metadatas", "embeddings"])
    assert stored(key) == expected_records(key, v1, etag1)

    original = EmbeddingResource.get_function
    calls = {"n": 0}

    def failing(self: EmbeddingResource, model: str | None) -> Any:
        real = original(self, model)

        def embed(texts: list[str]) -> Any:
            calls["n"] += 1
            if calls["n"] > 2:
                raise RuntimeError("embedding model crashed")
            return real(texts)

        return embed

    monkeypatch.setattr(EmbeddingResource, "get_function", failing)
    s3_client.put_object(Bucket=bucket, Key=key, Body=markdown_doc(3, 120).encode())
    second = s3_invocation(source, key)
    assert run_batch(source, [second]).success

    status = records_of([second])[0].job.status
    assert status.word == "failed"
    assert status.error == f"s3://{bucket}/{key}: RuntimeError: embedding model crashed"
    assert calls["n"] == 3  # two groups embedded, the third failed
    after = collection().get(include=["documents", "metadatas", "embeddings"])
    assert after["ids"] == before["ids"]
    assert after["documents"] == before["documents"]
    assert after["metadatas"] == before["metadatas"]
    assert (after["embeddings"] == before["embeddings"]).all()


def test_small_object_completes_before_the_big_one_starts(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, small_windows: None
) -> None:
    s3_client.put_object(Bucket=bucket, Key="big.md", Body=markdown_doc(4, 40).encode())
    s3_client.put_object(Bucket=bucket, Key="small.md", Body=b"# Small\n\nA short note.\n")
    source = create_s3_source(s3_server, bucket)
    big, small = s3_invocation(source, "big.md"), s3_invocation(source, "small.md")

    assert run_batch(source, [big, small]).success

    big_record, small_record = records_of([big, small])
    assert (big_record.job.status.word, small_record.job.status.word) == ("complete", "complete")
    small_done = small_record.job.status.finished_at
    assert small_done is not None and big_record.started_at is not None
    assert small_done <= big_record.started_at
    assert big_record.job.status.finished_at is not None
    assert small_done < big_record.job.status.finished_at


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("CHROMA_SYNC_MAX_OBJECT_CHUNKS", "20", "over the per-object budget of 20 chunks"),
        ("CHROMA_SYNC_MAX_OBJECT_SECONDS", "1e-9", "over the per-object time budget of 1e-09 s"),
    ],
)
def test_object_over_budget_fails_alone_naming_its_key(
    s3_server: LocalS3Server,
    s3_client: Any,
    bucket: str,
    small_windows: None,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    reason: str,
) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    s3_client.put_object(Bucket=bucket, Key="huge.md", Body=markdown_doc(5, 40).encode())
    s3_client.put_object(Bucket=bucket, Key="note.md", Body=b"# Note\n\nFine.\n")
    source = create_s3_source(s3_server, bucket)
    huge, note = s3_invocation(source, "huge.md"), s3_invocation(source, "note.md")

    assert run_batch(source, [huge, note]).success

    huge_status, note_status = (r.job.status for r in records_of([huge, note]))
    assert note_status.word == "complete"
    assert huge_status.word == "failed"
    assert huge_status.error is not None
    assert huge_status.error.startswith(f"s3://{bucket}/huge.md: {reason}")
    assert stored("huge.md") == {}
    assert len(stored("note.md")) == 1
