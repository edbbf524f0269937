"""robots.txt (RFC 9309) for the crawl, fetched once per origin through the crawl's session.

- 2xx: parsed with ``protego`` (longest-match Allow/Disallow, wildcards, the group matching
  the crawler's User-Agent product token, Crawl-delay, Sitemap lines); at most 512 KiB read.
  A 204/205 is an empty file.
- 4xx other than 429 (including 404): no rules, everything is allowed.
- 429, 5xx after retries, timeouts, DNS or connection errors, redirect trouble: no rules can be
  read, so nothing may be fetched (RFC 9309) and nothing may be deleted either
  (:mod:`sync_pipelines.core.deletion_policy`): :class:`TransientSourceError` naming the
  robots.txt URL and the cause; the crawl fails. The error is remembered for the origin.
- Crawl-delay (capped by ``max_retry_after_s``) spaces the starts of all requests to the host.
"""

import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from sync_pipelines.core.deletion_policy import TransientSourceError, robots_status_allows_all
from sync_pipelines.web.fetch import Fetcher

ROBOTS_MAX_BYTES = 512 * 1024


@dataclass
class Robots:
    """Parsed robots.txt rules of one origin."""

    parser: Protego
    user_agent: str
    crawl_delay: float | None = None
    sitemaps: list[str] = field(default_factory=list)
    note: str | None = None

    def allows(self, url: str) -> bool:
        """Tell whether the rules let this crawler fetch ``url``."""
        return bool(self.parser.can_fetch(url, self.user_agent))


def origin_of(url: str) -> str:
    """Return ``scheme://netloc`` of ``url`` (lower-cased)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "", "", ""))


class RobotsCache:
    """robots.txt of each origin the crawl touches, fetched on first use.

    Args:
        fetcher: Fetches robots.txt (same session, gates and address guard as the pages).
    """

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self._robots: dict[str, Robots] = {}
        self._errors: dict[str, TransientSourceError] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> Robots:
        """Return the rules of ``url``'s origin, fetching robots.txt the first time.

        Raises:
            BlockedAddressError: The address guard refused the origin.
            CrawlCancelled: The crawl was stopped.
            TransientSourceError: robots.txt could not be read (see the module docstring).
        """
        origin = origin_of(url)
        with self._lock:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            if origin in self._errors:
                raise self._errors[origin]
            robots = self._robots.get(origin)
            if robots is None:
                try:
                    robots = self._robots[origin] = self._load(origin)
                except TransientSourceError as exc:
                    self._errors[origin] = exc
                    raise
            return robots

    def allows(self, url: str) -> bool:
        """Tell whether ``url``'s origin's robots.txt lets this crawler fetch it."""
        return self.get(url).allows(url)

    def _load(self, origin: str) -> Robots:
        policy = self.fetcher.policy
        url = f"{origin}/robots.txt"
        result = self.fetcher.get(
            url, scope=None, accept=None, max_bytes=ROBOTS_MAX_BYTES, truncate=True
        )
        status = result.http_status
        if result.outcome == "ok" and result.body is not None:
            text, note = result.body.decode("utf-8", errors="replace"), None
        elif result.outcome == "skipped" and status in (204, 205):
            text, note = "", f"robots.txt HTTP {status}: empty"
        elif robots_status_allows_all(status):
            text, note = "", f"robots.txt HTTP {status}: all allowed"
        else:
            cause = result.reason or (f"HTTP {status}" if status else result.outcome)
            raise TransientSourceError(url, f"cannot be read: {cause}")
        parser = Protego.parse(text)
        delay = parser.crawl_delay(policy.user_agent)
        robots = Robots(parser, policy.user_agent, note=note)
        if delay is not None:
            robots.crawl_delay = min(float(delay), policy.max_retry_after_s)
            self.fetcher.gates(urlsplit(origin).hostname or "").set_delay(robots.crawl_delay)
        robots.sitemaps = [str(s) for s in parser.sitemaps]
        return robots
