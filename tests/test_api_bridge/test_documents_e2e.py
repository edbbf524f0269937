"""End to end: a bucket folder of every document type the hosted service parses, over HTTP.

Contract: one S3 source on a real SeaweedFS bucket holding one document of each listed suffix
(made by LibreOffice and the project's own writers, see :mod:`tests.document_corpus`) syncs
through the HTTP API and a real Dagster stack with one invocation per object; each object's
chunks carry its type's location metadata (``start_page``/``end_page`` for PDFs and slides,
``sheet`` for spreadsheets); a stock chromadb client finds a table cell, a slide's speaker
note and a word only an image shows with ``query_texts``. Corrupt, encrypted and oversize
documents (bytes over the cap, pages over 7,000) fail their own invocations with a reason that
names the object, and every other invocation of the same batch completes.
"""

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfWriter

from sync_pipelines.chroma_store import read_owner
from sync_pipelines.devtools.dagster_stack import DagsterStack
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.resources.chroma import ChromaResource, reset_client_cache
from sync_pipelines.settings import Settings
from tests.document_corpus import (
    OCR_WORD,
    SHEET,
    SHEET_CELL,
    SLIDE_NOTE,
    TABLE_CELL,
    TABLE_VALUE,
    build_corpus,
)
from tests.test_api_bridge.stack_helpers import Api, live_api, running_stack, word

DATABASE = "documents_db"
CAP = 4_000_000
PAGED = {".pdf", ".ppt", ".pptx", ".odp"}
SHEETS = {".xls", ".xlsx", ".xlsm", ".xltx", ".ods"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("documents-e2e")


@pytest.fixture(scope="module")
def stack(home: Path) -> Iterator[DagsterStack]:
    os.environ["CHROMA_SYNC_MAX_OBJECT_BYTES"] = str(CAP)
    try:
        with running_stack(home, timeout=90) as dagster:
            yield dagster
    finally:
        os.environ.pop("CHROMA_SYNC_MAX_OBJECT_BYTES", None)


@pytest.fixture
def api(
    stack: DagsterStack, home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Api, Settings]]:
    monkeypatch.setenv("CHROMA_SYNC_MAX_OBJECT_BYTES", str(CAP))
    with live_api(stack, home, DATABASE, monkeypatch) as api:
        yield api


def bad_documents() -> dict[str, tuple[bytes, str]]:
    """Documents that must fail: their bytes and a fragment of the reason."""
    encrypted = PdfWriter()
    encrypted.add_blank_page(200, 200)
    encrypted.encrypt("secret")
    long_pdf = PdfWriter()
    for _ in range(7001):
        long_pdf.add_blank_page(72, 72)
    out: dict[str, tuple[bytes, str]] = {}
    for name, writer in (("encrypted.pdf", encrypted), ("7001-pages.pdf", long_pdf)):
        buffer = io.BytesIO()
        writer.write(buffer)
        reason = "encrypted PDF" if name == "encrypted.pdf" else "over the 7000-page limit"
        out[f"bad/{name}"] = (buffer.getvalue(), reason)
    out["bad/corrupt.docx"] = (b"PK\x03\x04 this is not a real archive", "corrupt Word document")
    out["bad/corrupt.xlsx"] = (os.urandom(2048), "corrupt Excel workbook")
    out["bad/huge.pptx"] = (b"\0" * (CAP + 1), f"over the {CAP}-byte size cap")
    return out


STOCK_QUERY = """
import json, sys
import chromadb
client = chromadb.HttpClient(host="127.0.0.1", port=int(sys.argv[1]), database=sys.argv[2])
collection = client.get_collection(sys.argv[3])
out = []
for query in sys.argv[4:]:
    hits = collection.query(query_texts=[query], n_results=8)
    out.append([[m["document_key"], d] for m, d in zip(hits["metadatas"][0], hits["documents"][0])])
print(json.dumps(out))
"""


def stock_query(port: int, collection: str, queries: list[str]) -> list[list[list[str]]]:
    """Query with chromadb alone (its default embedding function), in its own interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", STOCK_QUERY, str(port), DATABASE, collection, *queries],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    return list(json.loads(out.stdout))


def test_every_document_type_syncs_with_locations_and_bad_ones_fail_alone(
    api: tuple[Api, Settings],
    stack: DagsterStack,
    s3_server: LocalS3Server,
    s3_client: Any,
    bucket: str,
    tmp_path: Path,
) -> None:
    client, settings = api
    corpus = build_corpus(tmp_path / "corpus")
    good = {f"mixed/{path.name}": suffix for suffix, path in corpus.items()}
    for path in corpus.values():
        s3_client.put_object(Bucket=bucket, Key=f"mixed/{path.name}", Body=path.read_bytes())
    bad = bad_documents()
    for key, (body, _reason) in bad.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    body = s3_server.source_body(DATABASE, bucket, "mixed-docs")
    response = client.call("POST", "/api/v1/sources", json=body)
    assert response.status_code == 201, response.text
    source_id = str(response.json()["source_id"])

    invocations = {key: client.invoke(source_id, key) for key in [*good, *bad]}
    finals = {key: client.wait(i, timeout=300)[-1] for key, i in invocations.items()}

    assert {k: word(s) for k, s in finals.items() if k in good} == dict.fromkeys(good, "complete")
    for key, (_body, reason) in bad.items():
        assert word(finals[key]) == "failed", (key, finals[key])
        error = finals[key]["failed"]["error"]
        assert f"s3://{bucket}/{key}" in error and reason in error, (key, error)

    reset_client_cache()
    collection = (
        ChromaResource(mode="persistent", path=str(settings.resolved_chroma_path))
        .get_client(DATABASE)
        .get_collection("mixed-docs")
    )
    got = collection.get(include=["metadatas", "documents"])
    by_key: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for metadata, document in zip(got["metadatas"] or [], got["documents"] or [], strict=True):
        by_key.setdefault(str(metadata["document_key"]), []).append((dict(metadata), document))
    assert set(by_key) == set(good), set(good) ^ set(by_key)
    for key, suffix in good.items():
        chunks = by_key[key]
        text = "\n".join(document for _m, document in chunks)
        if suffix in PAGED:
            assert all(isinstance(m.get("start_page"), int) for m, _d in chunks), key
            assert max(int(m["end_page"]) for m, _d in chunks) >= 2, key
        else:
            assert not any("start_page" in m for m, _d in chunks), key
        if suffix in SHEETS:
            cell = [m for m, d in chunks if SHEET_CELL in d]
            assert cell and cell[0]["sheet"] == SHEET, (key, cell)
            assert any(m.get("sheet") == "Suppliers" or m.get("end_sheet") == "Suppliers"
                       for m, _d in chunks), key  # fmt: skip
        if suffix in {".docx", ".doc", ".odt", ".pdf", ".epub"}:
            assert TABLE_CELL in text and TABLE_VALUE in text, key
        if suffix in {".pptx", ".ppt", ".odp"}:
            assert "penguin rescue" in text, key
        if suffix in {".png", ".jpg", ".jpeg", ".webp", ".gif", ".tiff", ".tif", ".pptx"}:
            assert OCR_WORD in text.upper().replace(" ", ""), (key, text)

    owner = read_owner(settings.resolved_chroma_path)
    assert owner is not None
    table, note, ocr = stock_query(
        owner.port,
        "mixed-docs",
        [f"How long is the warranty of the {TABLE_CELL}?", SLIDE_NOTE, "lighthouse keeper rota"],
    )
    assert any(TABLE_VALUE in document for _key, document in table), table
    assert any("penguin rescue" in document for _key, document in note), note
    assert any(OCR_WORD in document.upper() for _key, document in ocr), ocr
