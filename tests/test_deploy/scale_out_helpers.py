"""The processes of a scale-out deployment on one machine, and a spec-checked API client.

Each process is a real server on 127.0.0.1 in its own process group, stopped (with everything
it spawned) when its ``processes()`` block ends: a ``chroma run`` server, a Dagster code server
(``dagster api grpc``) and ``chroma-sync api`` replicas.
"""

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import chromadb
import requests

from sync_pipelines.devtools.local_s3 import stop_process_group
from sync_pipelines.devtools.ports import free_port
from tests.test_api_bridge.stack_helpers import TERMINAL, SpecClient, word

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCATION_NAME = "chroma_sync"

GRPC_WORKSPACE = """\
load_from:
  - grpc_server:
      host: 127.0.0.1
      port: {port}
      location_name: {name}
"""

Process = subprocess.Popen[bytes]


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class Processes:
    """Processes started for a test, each leading its own process group; stopped together."""

    def __init__(self) -> None:
        """Start with none."""
        self.procs: list[Process] = []

    def spawn(self, args: list[str], env: dict[str, str], log: Path) -> Process:
        """Start ``args`` with ``env`` added to this environment, output appended to ``log``."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                args,
                cwd=PROJECT_ROOT,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        """SIGTERM every group at once, then wait for each (SIGKILL after 20 s)."""
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            stop_process_group(proc, 20.0)


@contextmanager
def processes() -> Iterator[Processes]:
    """Yield a ``Processes`` whose members are all stopped on exit."""
    procs = Processes()
    try:
        yield procs
    finally:
        procs.stop_all()


def wait_until(
    check: Callable[[], bool], what: str, proc: Process, log: Path, timeout: float
) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` (with the log's tail) otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (OSError, requests.RequestException, ValueError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            state = f"exited with {proc.returncode}" if proc.poll() is not None else "timed out"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"{what} did not start ({state}); log tail:\n{tail}")
        time.sleep(0.3)


def start_chroma(procs: Processes, folder: Path) -> tuple[int, Process, Path]:
    """Spawn ``chroma run`` on a free port with data in ``folder``; return port, process, log."""
    port = free_port()
    args = [_bin("chroma"), "run", "--path", str(folder / "data")]
    log = folder / "chroma.log"
    proc = procs.spawn([*args, "--host", "127.0.0.1", "--port", str(port)], {}, log)
    return port, proc, log


def chroma_up(port: int) -> bool:
    """Whether the Chroma server on ``port`` answers its heartbeat."""
    chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
    return True


def start_code_server(procs: Processes, port: int, env: dict[str, str], log: Path) -> Process:
    """Spawn the code location as a gRPC server on ``port`` (its runs inherit ``env``)."""
    args = [
        _bin("dagster"),
        "api",
        "grpc",
        "-m",
        "sync_pipelines.definitions",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "--location-name",
        LOCATION_NAME,
        "--use-python-environment-entry-point",
    ]
    return procs.spawn(args, env, log)


def port_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    return True


def write_grpc_workspace(folder: Path, port: int) -> Path:
    """Write a ``workspace.yaml`` that loads the code location from the gRPC server on ``port``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "workspace.yaml"
    path.write_text(GRPC_WORKSPACE.format(port=port, name=LOCATION_NAME))
    return path


def start_api(procs: Processes, env: dict[str, str], log: Path) -> tuple[str, Process]:
    """Spawn one ``chroma-sync api`` replica on a free port; return its base URL and process."""
    port = free_port()
    args = [_bin("chroma-sync"), "api", "--host", "127.0.0.1", "--port", str(port)]
    return f"http://127.0.0.1:{port}", procs.spawn(args, env, log)


def api_answers(base: str) -> bool:
    """Whether the API at ``base`` answers ``/health`` (healthy or not)."""
    return requests.get(f"{base}/health", timeout=2).status_code in (200, 503)


def wait_api(base: str, proc: Process, log: Path, timeout: float) -> None:
    """Wait until the API replica at ``base`` answers."""
    wait_until(lambda: api_answers(base), f"the API at {base}", proc, log, timeout)


class Api(SpecClient):
    """A spec-checked client of one API replica."""

    def create_source(self, body: dict[str, Any]) -> str:
        """Create a source; return its id."""
        response = self.call("POST", "/api/v1/sources", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["source_id"])

    def invoke(self, source_id: str, body: dict[str, Any]) -> str:
        """Create an invocation; return its id."""
        response = self.call("POST", f"/api/v1/sources/{source_id}/invocations", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["invocation_id"])

    def status(self, invocation_id: str) -> Any:
        """The invocation's status as the API shows it."""
        response = self.call("GET", f"/api/v1/invocations/{invocation_id}")
        assert response.status_code == 200, response.text
        return response.json()["status"]


def wait_terminal(apis: list[Api], invocation_ids: list[str], timeout: float) -> list[Any]:
    """Poll the invocations (alternating replicas) until all are terminal; return the statuses."""
    deadline = time.monotonic() + timeout
    final: dict[str, Any] = {}
    polls = 0
    while len(final) < len(invocation_ids):
        for invocation_id in invocation_ids:
            if invocation_id not in final:
                status = apis[polls % len(apis)].status(invocation_id)
                polls += 1
                if word(status) in TERMINAL:
                    final[invocation_id] = status
        if time.monotonic() > deadline:
            pending = {i: apis[0].status(i) for i in invocation_ids if i not in final}
            raise AssertionError(f"invocations not finished within {timeout}s: {pending}")
        time.sleep(0.5)
    return [final[i] for i in invocation_ids]


def sha(text: str) -> str:
    """Lowercase hex sha256 of ``text`` (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def server_chunks(port: int, database: str, collection: str) -> dict[str, str]:
    """Chunk id -> document key of a finished collection on the Chroma server at ``port``."""
    client = chromadb.HttpClient(
        host="127.0.0.1",
        port=port,
        database=database,
        settings=chromadb.Settings(anonymized_telemetry=False),
    )
    got = client.get_collection(collection)
    assert got.metadata["finished_ingest"] is True
    rows = got.get(include=["metadatas"])
    metadatas = rows["metadatas"] or []
    return {
        cid: str(meta["document_key"]) for cid, meta in zip(rows["ids"], metadatas, strict=True)
    }


def assert_chunk_ids(stored: dict[str, str], keys: set[str]) -> None:
    """The chunks cover exactly ``keys``, and every chunk id is ``sha256(key)-i``."""
    assert set(stored.values()) == keys
    for cid, key in stored.items():
        prefix, _, index = cid.rpartition("-")
        assert prefix == sha(key) and index.isdigit(), (cid, key)
