"""Loopback helpers shared by the bench scripts: free ports and waiting for HTTP servers."""

import socket
import time

import requests


def free_port() -> int:
    """A free TCP port on 127.0.0.1 that also leaves room for SeaweedFS's port + 10000."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + 10000 <= 65535:
            return port


def wait_http(url: str, timeout: float) -> None:
    """Wait until ``url`` answers below 500; exit the benchmark when it does not in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")
