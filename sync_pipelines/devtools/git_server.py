"""Git servers on 127.0.0.1 for tests and benchmarks: git:// and smart HTTP.

- ``GitDaemon(root)``: ``git daemon`` serving every bare repository under ``root`` (git://).
- ``GitHttpServer(root, token=...)``: smart HTTP through ``git http-backend`` (CGI) in a
  threaded Python server; with a token it demands GitHub's ``Basic x-access-token:TOKEN``.

Repositories to serve are built with ``sync_pipelines.devtools.git_repos``.
"""

import base64
import os
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from sync_pipelines.devtools.local_s3 import stop_process_group
from sync_pipelines.devtools.ports import free_port


def git_env() -> dict[str, str]:
    """Return this process's environment without ``GIT_*`` variables, system config off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"})
    return env


class GitDaemon:
    """``git daemon`` serving the bare repositories under ``root`` on 127.0.0.1.

    Args:
        root: Folder holding bare repositories (``root/<name>``).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    def url_for(self, name: str) -> str:
        """Return the git:// URL of repository ``name`` under ``root``."""
        return f"git://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> Self:
        self._proc = subprocess.Popen(
            [
                "git",
                "daemon",
                f"--base-path={self.root}",
                "--export-all",
                "--reuseaddr",
                "--informative-errors",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                str(self.root),
            ],
            env=git_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self._proc.poll() is not None:
                    break
                time.sleep(0.02)
        self.__exit__(None, None, None)
        raise RuntimeError(f"git daemon did not start on port {self.port}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            # SIGTERM, then SIGKILL: a daemon child still serving a fetch can hold it up.
            stop_process_group(self._proc, timeout=5)
        self._proc = None


class GitHttpServer:
    """Smart HTTP git on 127.0.0.1: a threaded CGI bridge to ``git http-backend``.

    Args:
        root: Folder holding bare repositories (``root/<name>``).
        token: When set, every request must carry ``Authorization: Basic
            base64(x-access-token:TOKEN)``; others get 401.
        tls: ``(certificate, key)`` PEM files: serve https instead of http.

    Attributes:
        requests: ``(method, path, status)`` of every request answered, in order.
        authorizations: The ``Authorization`` header of every request (None when absent).
    """

    def __init__(
        self, root: Path, *, token: str | None = None, tls: tuple[Path, Path] | None = None
    ) -> None:
        self.root = root
        self.requests: list[tuple[str, str, int]] = []
        self.authorizations: list[str | None] = []
        self.scheme = "https" if tls else "http"
        expected = None
        if token is not None:
            raw = base64.b64encode(f"x-access-token:{token}".encode()).decode()
            expected = f"Basic {raw}"
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, expected))
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url_for(self, name: str) -> str:
        """Return the URL of repository ``name`` under ``root``."""
        return f"{self.scheme}://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _handler(server: GitHttpServer, expected: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            server.requests.append((self.command, self.path, status))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _serve(self) -> None:
            body = self._body() if self.command == "POST" else b""
            server.authorizations.append(self.headers.get("Authorization"))
            if expected is not None and self.headers.get("Authorization") != expected:
                self._answer(401, [("WWW-Authenticate", 'Basic realm="git"')], b"denied\n")
                return
            url = urlsplit(self.path)
            env = git_env()
            env.update(
                {
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": url.path,
                    "QUERY_STRING": url.query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_ADDR": "127.0.0.1",
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                }
            )
            proc = subprocess.run(
                ["git", "http-backend"], input=body, capture_output=True, env=env, check=False
            )
            head, _, payload = proc.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = proc.stdout.partition(b"\n\n")
            status, headers = 200, []
            for line in head.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self._answer(status if proc.stdout else 500, headers, payload)

    return Handler
