"""The S3 job end to end against a real SeaweedFS server and an embedded Chroma.

Contract: one object becomes chunks whose ids and metadata follow NOTES.md; re-syncing replaces
the object's chunks exactly (no duplicates, no stale chunks, unchanged chunks not rewritten);
bad objects fail with an error naming the object and the reason and leave the collection as it
was; a stock chromadb client can query what we wrote. After a chunker upgrade (a new
``CHUNKER_VERSION``), the first re-sync rewrites every chunk of each object once, leaving only
chunks of the new version with contiguous ids, and the next one writes nothing.
"""

import io
import json
import subprocess
import sys
from typing import Any

import pytest
from reportlab.pdfgen import canvas

from sync_pipelines.core.records import sha256_hex
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.resources.chroma import reset_client_cache
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.chunker_helpers import old_chunker
from tests.test_sync_pipelines.s3_helpers import (
    DATABASE,
    chunks_of,
    collection,
    create_s3_source,
    failure_description,
    run_s3_sync,
)

PY_MODULE = "\n\n".join(
    f"def function_{i}(x):\n    '''Function {i} doubles x.'''\n"
    + "    y = x * 2\n" * 30
    + "    return y\n"
    for i in range(6)
)


def step_metadata(result: Any, step: str) -> dict[str, Any]:
    for event in result.all_events:
        if event.step_key == step and event.event_type_value == "STEP_OUTPUT":
            return {k: v.value for k, v in event.event_specific_data.metadata.items()}
    raise AssertionError(f"no output from {step}")


def test_object_synced_with_spec_ids_and_metadata(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    key = "src/pkg/module one é.py"
    put = s3_client.put_object(Bucket=bucket, Key=key, Body=PY_MODULE.encode())
    etag = put["ETag"].strip('"')
    source = create_s3_source(s3_server, bucket)

    result = run_s3_sync(source, key)

    assert result.success
    stored = chunks_of(key)
    prefix = sha256_hex(key)
    assert sorted(stored) == [f"{prefix}-{i}" for i in range(len(stored))]
    assert len(stored) >= 2
    meta = stored[f"{prefix}-0"]["meta"]
    assert meta["document_key"] == key
    assert meta["document_key_sha256"] == prefix
    assert meta["version_key"] == etag
    assert meta["version_key_sha256"] == sha256_hex(etag)
    assert meta["language"] == "python"
    assert meta["chunk_strategy"] == "tree_sitter"
    assert meta["start_line"] == 1
    lines = PY_MODULE.split("\n")
    for entry in stored.values():
        m = entry["meta"]
        assert entry["doc"] == "\n".join(lines[m["start_line"] - 1 : m["end_line"]])
    assert collection().metadata["finished_ingest"] is True


def test_resync_same_object_writes_nothing_and_keeps_no_duplicates(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="a.py", Body=PY_MODULE.encode())
    source = create_s3_source(s3_server, bucket)
    first = run_s3_sync(source, "a.py")
    before = chunks_of("a.py")

    second = run_s3_sync(source, "a.py")

    assert first.success and second.success
    counts = step_metadata(second, "upsert_op")
    assert counts["chunks_written"] == 0
    assert counts["chunks_skipped"] == len(before)
    assert counts["chunks_deleted"] == 0
    assert chunks_of("a.py") == before
    assert collection().count() == len(before)


def test_reupload_with_fewer_chunks_replaces_and_deletes_stale(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="a.py", Body=PY_MODULE.encode())
    source = create_s3_source(s3_server, bucket)
    assert run_s3_sync(source, "a.py").success
    many = len(chunks_of("a.py"))
    shorter = PY_MODULE.split("\n\n")[0] + "\n"
    put = s3_client.put_object(Bucket=bucket, Key="a.py", Body=shorter.encode())

    result = run_s3_sync(source, "a.py")

    assert result.success
    stored = chunks_of("a.py")
    assert len(stored) < many
    assert sorted(stored) == [f"{sha256_hex('a.py')}-{i}" for i in range(len(stored))]
    assert {e["meta"]["version_key"] for e in stored.values()} == {put["ETag"].strip('"')}
    assert collection().count() == len(stored)
    counts = step_metadata(result, "upsert_op")
    assert counts["chunks_deleted"] == many - len(stored)


def test_deleted_object_removes_its_chunks(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="gone.md", Body=b"# Title\n\nSome text.\n")
    s3_client.put_object(Bucket=bucket, Key="kept.md", Body=b"# Kept\n\nOther text.\n")
    source = create_s3_source(s3_server, bucket)
    assert run_s3_sync(source, "gone.md").success
    assert run_s3_sync(source, "kept.md").success
    s3_client.delete_object(Bucket=bucket, Key="gone.md")

    result = run_s3_sync(source, "gone.md")

    assert result.success
    assert chunks_of("gone.md") == {}
    assert len(chunks_of("kept.md")) == 1


def test_missing_object_never_synced_fails_naming_it(s3_server: LocalS3Server, bucket: str) -> None:
    source = create_s3_source(s3_server, bucket)
    result = run_s3_sync(source, "typo.md")
    assert not result.success
    assert failure_description(result) == f"s3://{bucket}/typo.md: object not found"


def test_non_utf8_object_fails_and_keeps_previous_chunks(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="notes.txt", Body=b"good text\n")
    source = create_s3_source(s3_server, bucket)
    assert run_s3_sync(source, "notes.txt").success
    before = chunks_of("notes.txt")
    s3_client.put_object(Bucket=bucket, Key="notes.txt", Body=b"caf\xe9 latin-1\n")

    result = run_s3_sync(source, "notes.txt")

    assert not result.success
    message = failure_description(result)
    assert message.startswith(f"s3://{bucket}/notes.txt: not valid UTF-8")
    assert "0xe9" in message
    assert chunks_of("notes.txt") == before


def test_pdf_html_and_empty_objects(s3_server: LocalS3Server, s3_client: Any, bucket: str) -> None:
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.drawString(72, 720, "Invoices are due in thirty days.")
    pdf.showPage()
    pdf.drawString(72, 720, "Late invoices accrue interest.")
    pdf.save()
    s3_client.put_object(Bucket=bucket, Key="terms.pdf", Body=buf.getvalue())
    html = (
        b"<html><head><script>var tracking = 1;</script></head><body>"
        b"<h1>Returns</h1><p>Items may be returned within <b>30 days</b>.</p></body></html>"
    )
    s3_client.put_object(Bucket=bucket, Key="returns.html", Body=html)
    s3_client.put_object(Bucket=bucket, Key="empty.txt", Body=b"")
    source = create_s3_source(s3_server, bucket)

    results = [run_s3_sync(source, k) for k in ("terms.pdf", "returns.html", "empty.txt")]

    assert all(r.success for r in results)
    pdf_text = " ".join(e["doc"] for e in chunks_of("terms.pdf").values())
    assert "thirty days" in pdf_text and "accrue interest" in pdf_text
    html_chunks = list(chunks_of("returns.html").values())
    html_text = " ".join(e["doc"] for e in html_chunks)
    assert "# Returns" in html_text and "**30 days**" in html_text
    assert "tracking" not in html_text
    assert html_chunks[0]["meta"]["language"] == "markdown"
    assert chunks_of("empty.txt") == {}


def test_path_prefix_is_enforced(s3_server: LocalS3Server, s3_client: Any, bucket: str) -> None:
    s3_client.put_object(Bucket=bucket, Key="public/a.md", Body=b"# A\n")
    s3_client.put_object(Bucket=bucket, Key="private/b.md", Body=b"# B\n")
    source = create_s3_source(s3_server, bucket, path_prefix="public/")

    assert run_s3_sync(source, "public/a.md").success
    outside = run_s3_sync(source, "private/b.md")

    assert not outside.success
    assert "outside the source's path prefix 'public/'" in failure_description(outside)
    assert chunks_of("private/b.md") == {}


def test_custom_id_metadata_and_target_collection(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="doc.md", Body=b"# Doc\n\nBody text.\n")
    source = create_s3_source(s3_server, bucket)

    result = run_s3_sync(
        source,
        "doc.md",
        custom_id="invoice-42",
        metadata={"team": "billing", "year": 2026, "tags": ["a", "b"]},
        target_collection="other",
    )

    assert result.success
    got = collection("other").get(ids=["invoice-42-0"], include=["metadatas"])
    meta = got["metadatas"][0]
    assert meta["custom_id"] == "invoice-42"
    assert (meta["team"], meta["year"], meta["tags"]) == ("billing", 2026, ["a", "b"])
    assert meta["document_key"] == "doc.md"


def test_reserved_metadata_key_fails(s3_server: LocalS3Server, s3_client: Any, bucket: str) -> None:
    s3_client.put_object(Bucket=bucket, Key="doc.md", Body=b"# Doc\n")
    source = create_s3_source(s3_server, bucket)
    result = run_s3_sync(source, "doc.md", metadata={"document_key": "spoof"})
    assert not result.success
    assert "document_key" in failure_description(result)


def test_oversize_object_fails_before_download(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    s3_client.put_object(Bucket=bucket, Key="big.txt", Body=b"x" * 5000)
    source = create_s3_source(s3_server, bucket)
    result = run_s3_sync(source, "big.txt", max_object_bytes=4096)
    assert not result.success
    assert failure_description(result) == (
        f"s3://{bucket}/big.txt: object is 5000 bytes, over the 4096-byte size cap"
    )


STOCK_QUERY = """
import json, sys
import chromadb
client = chromadb.PersistentClient(path=sys.argv[1], database=sys.argv[2])
hits = client.get_collection("docs").query(query_texts=[sys.argv[3]], n_results=3)
print(json.dumps([m["document_key"] for m in hits["metadatas"][0]]))
"""


def test_stock_chromadb_client_queries_result(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    docs = {
        "returns.md": b"# Returns\n\nYou may return any item within 30 days of delivery.\n",
        "shipping.md": b"# Shipping\n\nParcels ship from our warehouse by ground freight.\n",
        "cats.md": b"# Cats\n\nThe kitten slept on the rug all afternoon.\n",
    }
    for key, body in docs.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    source = create_s3_source(s3_server, bucket)
    assert all(run_s3_sync(source, key).success for key in docs)
    reset_client_cache()

    # A separate interpreter with no project code: only chromadb and its default function.
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            STOCK_QUERY,
            str(get_settings().resolved_chroma_path),
            DATABASE,
            "how long do I have to return an item",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    assert json.loads(out.stdout.strip().splitlines()[-1]) == [
        "returns.md",
        "shipping.md",
        "cats.md",
    ]


GUIDE_MD = "# Guide\n\n" + "\n\n".join(
    f"## Part {i}\n\n" + " ".join(f"word{j} of part {i}." for j in range(60)) for i in range(4)
)


def test_chunker_upgrade_rewrites_each_object_once(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = {"a.py": PY_MODULE, "guide.md": GUIDE_MD, "small.md": "# Small\n\nOne line.\n"}
    for key, body in objects.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body.encode())
    source = create_s3_source(s3_server, bucket)
    with monkeypatch.context() as patch:
        old_chunker(patch)
        assert all(run_s3_sync(source, key).success for key in objects)
    old = {key: chunks_of(key) for key in objects}
    assert all("chunker_version" not in e["meta"] for c in old.values() for e in c.values())

    upgraded = {key: step_metadata(run_s3_sync(source, key), "upsert_op") for key in objects}

    for key, counts in upgraded.items():
        stored = chunks_of(key)
        assert counts["chunks"] == len(stored)
        assert counts["chunks_written"] + counts["chunks_metadata_updated"] == len(stored), key
        assert counts["chunks_skipped"] == 0
        assert counts["chunks_deleted"] == max(0, len(old[key]) - len(stored))
        assert set(stored) == {f"{sha256_hex(key)}-{i}" for i in range(len(stored))}
        assert {e["meta"]["chunker_version"] for e in stored.values()} == {2}
    assert len(chunks_of("a.py")) > len(old["a.py"])  # cut to the 256-token window now
    assert upgraded["a.py"]["chunks_written"] > 0
    assert collection().count() == sum(len(chunks_of(key)) for key in objects)

    again = {key: step_metadata(run_s3_sync(source, key), "upsert_op") for key in objects}

    for key, counts in again.items():
        assert counts["chunks_written"] == counts["chunks_metadata_updated"] == 0, key
        assert counts["chunks_deleted"] == 0
        assert counts["chunks_skipped"] == len(chunks_of(key))
