"""robots.txt (RFC 9309) for the crawl, fetched once per origin through the crawl's session.

- 2xx: parsed with ``protego`` (longest-match Allow/Disallow, wildcards, the group matching
  the crawler's User-Agent product token, Crawl-delay, Sitemap lines); at most 512 KiB read.
- 4xx other than 429 (including 404): no rules, everything is allowed.
- 429, 5xx after retries, connection errors or redirect trouble: everything is disallowed.
- Crawl-delay (capped by ``max_retry_after_s``) spaces the starts of all requests to the host.
"""

import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from sync_pipelines.web.fetch import Fetcher

ROBOTS_MAX_BYTES = 512 * 1024
DISALLOW_ALL = "User-agent: *\nDisallow: /\n"


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
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> Robots:
        """Return the rules of ``url``'s origin, fetching robots.txt the first time.

        Raises:
            BlockedAddressError: The address guard refused the origin.
            CrawlCancelled: The crawl was stopped.
        """
        origin = origin_of(url)
        with self._lock:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            robots = self._robots.get(origin)
            if robots is None:
                robots = self._robots[origin] = self._load(origin)
            return robots

    def allows(self, url: str) -> bool:
        """Tell whether ``url``'s origin's robots.txt lets this crawler fetch it."""
        return self.get(url).allows(url)

    def _load(self, origin: str) -> Robots:
        policy = self.fetcher.policy
        result = self.fetcher.get(
            f"{origin}/robots.txt",
            scope=None,
            accept=None,
            max_bytes=ROBOTS_MAX_BYTES,
            truncate=True,
        )
        unavailable = result.http_status is not None and 400 <= result.http_status < 500
        if result.outcome == "ok" and result.body is not None:
            text, note = result.body.decode("utf-8", errors="replace"), None
        elif unavailable and result.http_status != 429:
            text, note = "", f"robots.txt HTTP {result.http_status}: all allowed"
        else:
            text, note = DISALLOW_ALL, f"robots.txt unreachable ({result.reason}): all disallowed"
        parser = Protego.parse(text)
        delay = parser.crawl_delay(policy.user_agent)
        robots = Robots(parser, policy.user_agent, note=note)
        if delay is not None:
            robots.crawl_delay = min(float(delay), policy.max_retry_after_s)
            self.fetcher.gates(urlsplit(origin).hostname or "").set_delay(robots.crawl_delay)
        robots.sitemaps = [str(s) for s in parser.sitemaps]
        return robots
