"""Retry helpers for the Acme SDK."""

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def backoff_delays(attempts: int, base: float = 0.5, cap: float = 30.0) -> list[float]:
    """Exponential backoff with full jitter, one delay per retry."""
    return [random.uniform(0, min(cap, base * 2**i)) for i in range(attempts)]


def retry(call: Callable[[], T], attempts: int = 5) -> T:
    """Call ``call`` until it succeeds, sleeping between attempts; re-raise the last error."""
    last: Exception | None = None
    for delay in [0.0, *backoff_delays(attempts - 1)]:
        time.sleep(delay)
        try:
            return call()
        except ConnectionError as exc:
            last = exc
    assert last is not None
    raise last
