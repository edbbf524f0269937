"""add-file on a real ``chroma-sync api`` process: stalled and trickling uploads are dropped.

Contract: with ``CHROMA_SYNC_UPLOAD_READ_TIMEOUT_S=2`` and the default four upload slots, four
connections that send a multipart head and a few file bytes and then stall hold every slot (a
fifth upload is 429) for about two seconds only: each is then answered 400 naming ``file``
and closed, its partial file and folders are removed, and the next upload is 201. A client
that sends a byte every second (below ``upload_min_bytes_per_s``) is dropped the same way once
the first two seconds have passed, although no single read ever waited two seconds. No
refusal (429, a drop, 400 for a short file or an oversize declaration, 403) leaves a folder in
the uploads folder.
"""

import json
import os
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sync_pipelines.catalog import Catalog
from sync_pipelines.devtools.ports import free_port_block
from tests.test_api_bridge.conftest import check_response
from tests.test_api_bridge.test_add_file import BOUNDARY, FIELDS, multipart

READ_TIMEOUT_S = 2.0
SLOTS = 4
#: How late a drop may come: the server's clock starts a little before the client's.
MARGIN_S = 1.5
FILE = b"x" * 100
BODY = multipart([*FIELDS, ("file", FILE, "a.txt")])
#: The request's body up to and including the first ten file bytes.
HEAD_BODY = BODY[: BODY.index(FILE) + 10]


@dataclass(frozen=True)
class LiveApi:
    port: int
    token: str
    uploads: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """``chroma-sync api`` (uvicorn) in its own process, with a two-second read timeout."""
    home = tmp_path_factory.mktemp("stalls") / "home"
    home.mkdir()
    catalog = Catalog(f"sqlite:///{home / 'catalog.db'}")
    try:
        token = catalog.create_token("db1", admin=True)[1]
    finally:
        catalog.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHROMA_SYNC_DAGSTER")}
    env |= {
        "CHROMA_SYNC_HOME": str(home),
        "CHROMA_SYNC_UPLOAD_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
        "CHROMA_SYNC_MAX_CONCURRENT_UPLOADS": str(SLOTS),
    }
    env.pop("CHROMA_SYNC_CATALOG_URL", None)
    env.pop("CHROMA_SYNC_UPLOADS_DIR", None)
    proc, port = _start_api(env, home / "api.log")
    try:
        yield LiveApi(port, token, home / "uploads")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # uvicorn waits for requests a failed test left open
            proc.kill()
            proc.wait(timeout=10)


def _start_api(env: dict[str, str], log_path: Path) -> tuple["subprocess.Popen[bytes]", int]:
    """Start the API on a free port and wait until uvicorn says it listens there.

    A TCP connect is no proof: another process may hold a port picked as free a moment ago
    (uvicorn then exits with "address already in use"), so that case retries on another port.
    """
    for _ in range(5):
        port = free_port_block(1)[0]
        args = [sys.executable, "-m", "sync_pipelines.cli", "api"]
        args += ["--host", "127.0.0.1", "--port", str(port)]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while proc.poll() is None and f"running on http://127.0.0.1:{port}" not in (
            log_path.read_text(errors="replace")
        ):
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.1)
        if proc.poll() is None:
            return proc, port
        assert "address already in use" in log_path.read_text(), log_path.read_text()
    raise AssertionError("no free port for the API after 5 tries")


def open_upload(api: LiveApi, sent: bytes) -> socket.socket:
    """Start an add-file request of ``BODY`` whose body stops after ``sent``."""
    sock = socket.create_connection(("127.0.0.1", api.port))
    head = (
        f"POST /api/v1/add-file HTTP/1.1\r\nHost: x\r\nx-chroma-token: {api.token}\r\n"
        f"x-upload-content-length: {len(FILE)}\r\nContent-Length: {len(BODY)}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
    )
    sock.sendall(head.encode() + sent)
    return sock


def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (fails after ``timeout``)."""
    sock.settimeout(timeout)
    reply = b""
    try:
        while chunk := sock.recv(65536):
            reply += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open; got {reply!r}")
    finally:
        sock.close()
    return reply


def check_dropped(reply: bytes) -> str:
    """Check a 400 ``ErrorResponse`` naming ``file`` that closes the connection; its message."""
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), reply
    assert b"connection: close" in head.lower(), head
    check_response("POST", "/api/v1/add-file", 400, body)
    error = json.loads(body)
    assert error["error"] == "InvalidArgumentError"
    message: str = error["message"]
    assert message.startswith("file: upload dropped: "), message
    return message


def post(api: LiveApi, declared: int = len(FILE), body: bytes = BODY) -> requests.Response:
    headers = {
        "x-chroma-token": api.token,
        "x-upload-content-length": str(declared),
        "content-type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    response = requests.post(f"{api.base}/api/v1/add-file", data=body, headers=headers, timeout=10)
    check_response("POST", "/api/v1/add-file", response.status_code, response.content)
    return response


def partial_files(api: LiveApi) -> list[Path]:
    return list(api.uploads.rglob(".upload-*")) if api.uploads.exists() else []


def empty_folders(api: LiveApi) -> list[Path]:
    if not api.uploads.exists():
        return []
    return [p for p in api.uploads.rglob("*") if p.is_dir() and not any(p.iterdir())]


def test_stalled_uploads_lose_their_slots_after_the_read_timeout(api: LiveApi) -> None:
    stalled = [open_upload(api, HEAD_BODY) for _ in range(SLOTS)]
    sent_at = time.monotonic()
    deadline = sent_at + 10
    while len(partial_files(api)) < SLOTS:
        assert time.monotonic() < deadline, "the stalled uploads never started writing"
        time.sleep(0.02)
    busy = post(api)
    assert busy.status_code == 429, busy.text
    assert time.monotonic() - sent_at < READ_TIMEOUT_S - 0.5, "too slow to prove the slots held"

    replies = [read_until_closed(sock, READ_TIMEOUT_S + MARGIN_S) for sock in stalled]
    waited = time.monotonic() - sent_at
    assert READ_TIMEOUT_S - 0.5 < waited < READ_TIMEOUT_S + MARGIN_S, waited
    for reply in replies:
        check_dropped(reply)
    assert partial_files(api) == []
    assert empty_folders(api) == []

    accepted = post(api)
    assert accepted.status_code == 201, accepted.text
    stored = [p for p in api.uploads.rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in stored] == [FILE]
    assert empty_folders(api) == []


def readable(sock: socket.socket, timeout: float) -> bool:
    """Wait up to ``timeout`` for ``sock`` to be readable (epoll: any descriptor number)."""
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(timeout))


def test_a_trickling_upload_is_dropped_once_the_grace_is_over(api: LiveApi) -> None:
    head = BODY[: BODY.index(FILE)]
    sock = open_upload(api, head)
    started = time.monotonic()
    # Half a second off the server's clock, so no byte races the drop and meets a closed socket.
    next_send = last_sent = started + 0.5
    dripped = 0
    while not readable(sock, max(0.0, next_send - time.monotonic())):
        assert time.monotonic() - started < READ_TIMEOUT_S + MARGIN_S, "never dropped"
        sock.sendall(FILE[dripped : dripped + 1])
        dripped += 1
        last_sent = time.monotonic()
        next_send += 1.0
    reply = read_until_closed(sock, 5)
    dropped_at = time.monotonic()
    message = check_dropped(reply)
    assert "bytes/s" in message, message
    assert dropped_at - started > READ_TIMEOUT_S - 0.5
    # Bytes kept coming: the per-read timeout alone would never have dropped it.
    assert dripped >= 1 and dropped_at - last_sent < READ_TIMEOUT_S
    assert partial_files(api) == []
    assert empty_folders(api) == []


def test_refused_uploads_leave_no_folders(api: LiveApi) -> None:
    before = sorted(api.uploads.rglob("*")) if api.uploads.exists() else []
    short = post(api, declared=len(FILE) + 1)
    assert short.status_code == 400 and "x-upload-content-length" in short.json()["message"]
    assert post(api, declared=10**12).status_code == 400
    other = multipart([("database_name", "db2", None), *FIELDS[1:], ("file", FILE, "a.txt")])
    assert post(api, body=other).status_code == 403
    assert (sorted(api.uploads.rglob("*")) if api.uploads.exists() else []) == before
