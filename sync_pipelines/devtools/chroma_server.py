"""A Chroma server on a store folder for tests and benchmarks, owned as ``serve`` owns one.

The server is started through :func:`sync_pipelines.chroma_store.server_command`, so it holds the
store's lock: processes configured with ``persistent`` mode on the same folder (Dagster run
workers, the test process) talk to it over HTTP instead of opening the folder themselves.
"""

import subprocess
import time
from pathlib import Path
from types import TracebackType

import requests

from sync_pipelines.chroma_store import server_command, server_env
from sync_pipelines.devtools.local_s3 import stop_process_group
from sync_pipelines.devtools.ports import free_port


class ChromaServer:
    """``chroma run`` on ``path`` at 127.0.0.1:``port`` (a free port by default)."""

    def __init__(self, path: Path, port: int | None = None, log: Path | None = None) -> None:
        """Prepare a server on ``path``; its output goes to ``log`` (default: discarded)."""
        self.path = path
        self.port = port or free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """``CHROMA_SYNC_*`` settings that point a process at this server."""
        return server_env("127.0.0.1", self.port)

    def start(self, timeout: float = 60.0) -> "ChromaServer":
        """Start the server and wait until its heartbeat answers.

        Raises:
            RuntimeError: It exited or did not answer within ``timeout``.
        """
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            server_command(self.path, "127.0.0.1", self.port),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Chroma server on {self.path} exited ({self.proc.returncode})")
            try:
                if requests.get(f"{self.url}/api/v2/heartbeat", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Chroma server on {self.path} did not answer in {timeout:.0f} s")

    def stop(self) -> None:
        """Stop the server."""
        if self.proc is not None:
            stop_process_group(self.proc, timeout=15)

    def __enter__(self) -> "ChromaServer":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
