"""A loopback listener that records every connection, and a switchable DNS answer."""

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

from sync_pipelines.devtools.git_server import GitHttpServer
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.tls_helpers import self_signed

_real_getaddrinfo = socket.getaddrinfo


class Listener:
    """A TCP listener on 127.0.0.1 recording the first bytes of every connection it accepts.

    Attributes:
        port: The port it listens on.
        received: The first bytes (up to 64 KiB, 1 s) of each accepted connection.
    """

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self.port: int = self._sock.getsockname()[1]
        self.received: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1.0)
                data = b""
                try:
                    while len(data) < 65536 and (more := conn.recv(4096)):
                        data += more
                except OSError:
                    pass
                self.received.append(data)

    @property
    def authorizations(self) -> list[bytes]:
        """Every ``Authorization`` header line the listener received."""
        return [
            line
            for data in self.received
            for line in data.split(b"\r\n")
            if line.lower().startswith(b"authorization:")
        ]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()


def no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear the outbound allow-lists (tests run with 127.0.0.1 allowed by default)."""
    monkeypatch.setenv("CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS", "[]")
    monkeypatch.delenv("CHROMA_SYNC_CRAWL_ALLOW_HOSTS", raising=False)
    get_settings.cache_clear()


def fake_dns(
    monkeypatch: pytest.MonkeyPatch, answers: dict[str, str]
) -> Callable[[str, str], None]:
    """Make in-process resolution of the names in ``answers`` return the given address.

    Returns:
        A function ``set(name, address)`` that changes an answer later (a rebinding DNS).
    """

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in answers:
            family = socket.AF_INET6 if ":" in answers[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (answers[host], int(port or 0)))]
        return _real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def change(name: str, address: str) -> None:
        answers[name] = address

    return change


GIT_HOST = "git.example.test"


@contextlib.contextmanager
def https_git_host(
    monkeypatch: pytest.MonkeyPatch, served: Path, certs: Path, token: str | None
) -> Iterator[GitHttpServer]:
    """Serve ``served`` over https as the configured git host ``https://git.example.test:PORT``.

    The name resolves (in this process) to 127.0.0.1, git trusts the test certificate, and
    ``CHROMA_SYNC_GITHUB_BASE_URL`` names the host.
    """
    certs.mkdir(parents=True, exist_ok=True)
    cert, key = self_signed(certs, GIT_HOST)
    fake_dns(monkeypatch, {GIT_HOST: "127.0.0.1"})
    monkeypatch.setenv("GIT_SSL_CAINFO", str(cert))
    with GitHttpServer(served, token=token, tls=(cert, key)) as server:
        monkeypatch.setenv("CHROMA_SYNC_GITHUB_BASE_URL", f"https://{GIT_HOST}:{server.port}")
        get_settings.cache_clear()
        yield server
