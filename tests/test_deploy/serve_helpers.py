"""``chroma-sync serve`` as a subprocess for the reliability tests, with an HTTP client on it."""

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

from sync_pipelines.catalog import Catalog
from sync_pipelines.devtools.ports import free_port_block
from sync_pipelines.devtools.proctree import descendants

CHROMA_SYNC = str(Path(sys.executable).parent / "chroma-sync")
TERMINAL = {"complete", "failed", "cancelled"}


def word(status: Any) -> str:
    """The status word of a Job ``status`` (a string, or a one-key object)."""
    return status if isinstance(status, str) else next(iter(status))


def cmdline(pid: int) -> str:
    """A process's command line ("" once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Serve:
    """``chroma-sync serve --with-s3`` on ``home`` with fixed free ports, restartable."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        ports = free_port_block(4)
        self.api_port, self.dagster_port, self.s3_port, self.chroma_port = ports
        self.env = {**os.environ, **(env or {})}
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CHROMA_SYNC_DAGSTER_URL"):
            self.env.pop(name, None)
        self.proc: subprocess.Popen[str] | None = None
        self.stderr: list[str] = []

    @property
    def api(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, timeout: float = 240) -> "Serve":
        """Start serve and wait for its banner."""
        args = [CHROMA_SYNC, "serve", "--home", str(self.home), "--with-s3"]
        args += ["--s3-port", str(self.s3_port), "--api-port", str(self.api_port)]
        args += ["--dagster-port", str(self.dagster_port), "--chroma-port", str(self.chroma_port)]
        args += ["--ready-timeout", str(timeout)]
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc.stdout, lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, None), daemon=True).start()
        deadline = time.monotonic() + timeout + 10
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"serve did not start: {self.stderr}"
            try:
                if lines.get(timeout=min(left, 5)) == "Press Ctrl-C to stop.":
                    return self
            except queue.Empty:
                assert self.proc.poll() is None, f"serve exited: {self.stderr}"

    def _pump(self, stream: Any, into: "queue.Queue[str] | None") -> None:
        for line in stream:
            if into is None:
                self.stderr.append(line.rstrip("\n"))
            else:
                into.put(line.rstrip("\n"))

    def children(self, part: str) -> list[int]:
        """Pids of serve's descendants whose command line contains ``part``."""
        assert self.proc is not None
        return sorted(pid for pid in descendants(self.proc.pid) if part in cmdline(pid))

    def kill_tree(self) -> None:
        """``kill -9`` serve and every process below it, as a crash or OOM kill would."""
        assert self.proc is not None
        tree = descendants(self.proc.pid) | {self.proc.pid}
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM serve and wait for its clean stop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=120)

    def token(self, database: str, *, admin: bool) -> str:
        """A new API token of ``database`` in serve's catalog."""
        catalog = Catalog(f"sqlite:///{self.home / 'catalog.db'}")
        try:
            return catalog.create_token(database, admin=admin)[1]
        finally:
            catalog.close()


class Client:
    """The reliability tests' HTTP client."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["x-chroma-token"] = token

    def post(self, path: str, body: dict[str, Any]) -> str:
        """POST a JSON body; return the created id."""
        response = self.session.post(self.base + path, json=body, timeout=60)
        assert response.status_code == 201, response.text
        data = response.json()
        return str(data.get("invocation_id") or data.get("source_id"))

    def upload(self, database: str, collection: str, name: str, data: bytes) -> str:
        """add-file one file; return the invocation id."""
        response = self.session.post(
            self.base + "/api/v1/add-file",
            data={"database_name": database, "collection_name": collection},
            files={"file": (name, data)},
            headers={"x-upload-content-length": str(len(data))},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["invocation_id"])

    def status(self, invocation_id: str) -> Any:
        """An invocation's ``status``."""
        response = self.session.get(f"{self.base}/api/v1/invocations/{invocation_id}", timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["status"]

    def wait_all(self, ids: list[str], timeout: float) -> dict[str, Any]:
        """Poll until every invocation is terminal; their final statuses."""
        done: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        while len(done) < len(ids):
            for invocation_id in ids:
                if invocation_id not in done:
                    status = self.status(invocation_id)
                    if word(status) in TERMINAL:
                        done[invocation_id] = status
            if len(done) < len(ids):
                left = {i: word(self.status(i)) for i in ids if i not in done}
                assert time.monotonic() < deadline, f"not terminal: {left}"
                time.sleep(0.5)
        return done
