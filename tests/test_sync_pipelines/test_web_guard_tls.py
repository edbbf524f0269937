"""The guarded session keeps TLS correct: SNI and certificate checks use the URL's host name
although the socket is connected to the address the guard resolved and checked."""

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from sync_pipelines.web import AddressPolicy, BlockedAddressError, guarded_session
from tests.test_sync_pipelines.tls_helpers import self_signed

HOST = "docs.example.test"


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tls_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[int, Path, list[str]]]:
    """An HTTPS server on 127.0.0.1 for HOST; yields (port, CA file, SNI names seen)."""
    cert_path, key_path = self_signed(tmp_path, HOST)
    names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name) and None
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    real = socket.getaddrinfo

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host.endswith(".example.test") else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    yield int(server.server_address[1]), cert_path, names
    server.shutdown()
    server.server_close()
    thread.join()


def test_https_keeps_sni_and_hostname_verification(
    tls_server: tuple[int, Path, list[str]],
) -> None:
    port, ca_file, names = tls_server
    session = guarded_session(AddressPolicy(["127.0.0.1"]), "ua")
    session.verify = str(ca_file)
    response = session.get(f"https://{HOST}:{port}/", timeout=5)
    assert (response.status_code, response.text) == (200, "ok")
    assert names == [HOST]
    mismatch = r"Hostname mismatch.*wrong\.example\.test"
    with pytest.raises(requests.exceptions.SSLError, match=mismatch):
        session.get(f"https://wrong.example.test:{port}/", timeout=5)


def test_https_to_refused_address(tls_server: tuple[int, Path, list[str]]) -> None:
    port, _ca_file, names = tls_server
    with pytest.raises(BlockedAddressError, match=r"resolves to 127\.0\.0\.1, a loopback"):
        guarded_session(AddressPolicy(), "ua").get(f"https://{HOST}:{port}/", timeout=5)
    assert names == []
