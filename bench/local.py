"""Loopback helper shared by the bench scripts: waiting for HTTP servers."""

import time

import requests


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
