"""Per-host request pacing: robots.txt Crawl-delay spacing and Retry-After pauses.

Every request to a host first passes :meth:`HostGate.wait`. With a crawl delay, request starts
are spaced at least that far apart across all workers (the host is effectively served one
request at a time). A pause (after a 429, or a 503 with Retry-After) holds every worker of the
host, not only the one that received it.
"""

import threading
import time


class CrawlCancelled(Exception):
    """The crawl was stopped while a worker waited."""


class HostGate:
    """Start-time spacing and pauses for the requests to one host.

    Args:
        stop: Event that aborts waiting (raises :class:`CrawlCancelled`).
    """

    def __init__(self, stop: threading.Event) -> None:
        self._lock = threading.Lock()
        self._stop = stop
        self.delay = 0.0
        self._next_start = 0.0
        self._paused_until = 0.0
        self._last_start: float | None = None

    def set_delay(self, seconds: float) -> None:
        """Space request starts at least ``seconds`` apart from now on."""
        with self._lock:
            self.delay = max(0.0, seconds)
            if self._last_start is not None:
                self._next_start = max(self._next_start, self._last_start + self.delay)

    def pause(self, seconds: float) -> None:
        """Hold every request to the host for ``seconds`` from now."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` unless the crawl is stopped first.

        Raises:
            CrawlCancelled: The crawl was stopped.
        """
        if self._stop.wait(max(0.0, seconds)):
            raise CrawlCancelled

    def wait(self) -> None:
        """Block until a request to the host may start, and claim that start.

        Raises:
            CrawlCancelled: The crawl was stopped.
        """
        while True:
            with self._lock:
                now = time.monotonic()
                slot = max(now, self._next_start, self._paused_until)
                if slot <= now:
                    self._last_start = now
                    self._next_start = now + self.delay
                    return
            self.sleep(slot - now)


class HostGates:
    """One :class:`HostGate` per host name, created on first use."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._gates: dict[str, HostGate] = {}
        self._lock = threading.Lock()

    def __call__(self, host: str) -> HostGate:
        """Return the gate of ``host``."""
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = HostGate(self.stop)
            return gate
