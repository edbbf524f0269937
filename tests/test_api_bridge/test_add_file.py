"""``POST /api/v1/add-file``: streamed multipart upload that queues a file_upload invocation.

Contract: with ``database_name`` and ``collection_name`` before ``file`` and a matching
``x-upload-content-length``, the bytes are stored in the upload store, the database's single
``file_upload`` source is created on first use and a pending invocation records the stored key,
filename, ``custom_id`` and ``metadata``; fields after the file are still honoured. A missing or
wrong header, a file before its fields, bad JSON fields or reserved metadata keys are 400
naming the field (a file larger or smaller than declared too); another database is 403 and
stores nothing; a declared size over the server limit is 400 naming x-upload-content-length
(before any byte is read); more than ``max_concurrent_uploads`` at once is 429.
"""

import json
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import requests
from fastapi.testclient import TestClient

from api_bridge.app import create_app
from sync_pipelines.catalog import Catalog
from sync_pipelines.settings import Settings
from tests.test_api_bridge.conftest import check_response, live_server

BOUNDARY = "test-boundary-7MA4YWxk"


def multipart(parts: list[tuple[str, str | bytes, str | None]]) -> bytes:
    """Encode ``(name, value, filename)`` parts in the given order."""
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        data = value.encode() if isinstance(value, str) else value
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def upload(
    client: TestClient,
    headers: dict[str, str],
    parts: list[tuple[str, str | bytes, str | None]],
    declared: int | None,
) -> httpx.Response:
    extra = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    if declared is not None:
        extra["x-upload-content-length"] = str(declared)
    return client.post("/api/v1/add-file", content=multipart(parts), headers={**headers, **extra})


FIELDS: list[tuple[str, str | bytes, str | None]] = [
    ("database_name", "db1", None),
    ("collection_name", "files", None),
]


def stored_files(settings: Settings) -> list[Path]:
    root = settings.resolved_uploads_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_upload_is_stored_and_queued(
    client: TestClient, member: dict[str, str], catalog: Catalog, settings: Settings
) -> None:
    data = b"# Title\n\nhello upload\n"
    parts = [
        *FIELDS,
        ("custom_id", "my-doc", None),
        ("file", data, "notes.md"),
        ("metadata", json.dumps({"team": "docs", "tags": ["a", "b"]}), None),
        ("chunking", json.dumps({"type": "lines", "max_lines": 10}), None),
    ]
    response = upload(client, member, parts, len(data))
    assert response.status_code == 201, response.text
    record = catalog.get_invocation_record(uuid.UUID(response.json()["invocation_id"]))
    assert record is not None and record.object_key is not None
    assert record.source_type == "file_upload"
    assert record.job.metadata.model_dump(mode="json", exclude_none=True) == {
        "file_upload": {"filename": "notes.md"},
        "database_name": "db1",
        "collection_name": "files",
    }
    assert (record.custom_id, record.extra_metadata) == (
        "my-doc",
        {"team": "docs", "tags": ["a", "b"]},
    )
    assert (settings.resolved_uploads_dir / record.object_key).read_bytes() == data
    source = catalog.get_source(record.job.source_id)  # type: ignore[arg-type]
    assert source is not None and source.file_upload is not None
    assert source.chunking.type == "lines"
    second = upload(client, member, [*FIELDS, ("file", b"x", "b.txt")], 1)
    assert second.status_code == 201
    again = catalog.get_invocation(uuid.UUID(second.json()["invocation_id"]))
    assert again is not None and again.source_id == source.id


def test_upload_bad_requests_are_400_naming_the_field(
    client: TestClient, member: dict[str, str], settings: Settings
) -> None:
    file = ("file", b"hello", "a.txt")
    cases = [
        ([*FIELDS, file], None, "x-upload-content-length"),
        ([*FIELDS, file], 0, "x-upload-content-length"),
        ([*FIELDS, file], 6, "x-upload-content-length"),
        ([*FIELDS, file], 4, "x-upload-content-length"),
        ([FIELDS[0], file, FIELDS[1]], 5, "collection_name"),
        ([*FIELDS], 5, "file"),
        ([*FIELDS, file, ("metadata", '{"document_key": "x"}', None)], 5, "metadata"),
        ([*FIELDS, file, ("metadata", "[1]", None)], 5, "metadata"),
        ([*FIELDS, file, ("metadata", json.dumps({"k": "v" * 17000}), None)], 5, "metadata"),
        ([*FIELDS, file, ("chunking", "{not json", None)], 5, "chunking"),
        ([*FIELDS, file, ("custom_id", "x" * 121, None)], 5, "custom_id"),
        ([*FIELDS, file, ("colour", "red", None)], 5, "colour"),
        ([*FIELDS, file, ("embedding", '{"sparse": {"model": "Chroma/BM25"}}', None)], 5, "sparse"),
    ]
    for parts, declared, field in cases:
        response = upload(client, member, parts, declared)
        assert response.status_code == 400, (field, response.text)
        assert field in response.json()["message"], (field, response.json())
    assert stored_files(settings) == []
    not_multipart = client.post(
        "/api/v1/add-file", json={"a": 1}, headers={**member, "x-upload-content-length": "5"}
    )
    assert not_multipart.status_code == 400


def test_upload_for_another_database_is_403_and_stores_nothing(
    client: TestClient, member: dict[str, str], settings: Settings
) -> None:
    parts = [
        ("database_name", "other", None),
        ("collection_name", "col", None),
        ("file", b"x", "a"),
    ]
    response = upload(client, member, parts, 1)
    assert response.status_code == 403
    assert stored_files(settings) == []
    assert upload(client, {}, parts, 1).status_code == 401


def test_upload_over_server_limit_is_400_naming_the_header(
    chroma_sync_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHROMA_SYNC_MAX_UPLOAD_BYTES", "4")
    small_app = create_app(Settings(), orchestrator_probe=lambda: True)
    _, secret = small_app.state.catalog.create_token("db1")
    with TestClient(small_app) as small:
        over = upload(small, {"x-chroma-token": secret}, [*FIELDS, ("file", b"hello", "a")], 5)
    assert over.status_code == 400
    assert over.json()["error"] == "InvalidArgumentError"
    assert over.json()["message"] == "x-upload-content-length: 5 is over the 4-byte limit"


def test_too_many_concurrent_uploads_is_429(
    chroma_sync_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHROMA_SYNC_MAX_CONCURRENT_UPLOADS", "1")
    app = create_app(Settings(), orchestrator_probe=lambda: True)
    _, secret = app.state.catalog.create_token("db1")
    body = multipart([*FIELDS, ("file", b"0123456789", "a.txt")])
    with live_server(app) as base:
        url = urlsplit(base)
        stalled = socket.create_connection((url.hostname, url.port))
        head = (
            f"POST /api/v1/add-file HTTP/1.1\r\nHost: x\r\nx-chroma-token: {secret}\r\n"
            f"x-upload-content-length: 10\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
        )
        stalled.sendall(head.encode() + body[:40])
        headers = {
            "x-chroma-token": secret,
            "x-upload-content-length": "10",
            "content-type": f"multipart/form-data; boundary={BOUNDARY}",
        }
        deadline = time.monotonic() + 10
        while app.state.upload_slots.active < 1:
            assert time.monotonic() < deadline, "the stalled upload never started"
            time.sleep(0.01)
        busy = requests.post(f"{base}/api/v1/add-file", data=body, headers=headers, timeout=10)
        assert busy.status_code == 429
        assert busy.json()["error"] == "ResourceExhaustedError"
        check_response("POST", "/api/v1/add-file", busy.status_code, busy.content)
        stalled.sendall(body[40:])
        reply = stalled.recv(4096)
        stalled.close()
        assert reply.startswith(b"HTTP/1.1 201")
        after = requests.post(f"{base}/api/v1/add-file", data=body, headers=headers, timeout=10)
        assert after.status_code == 201
