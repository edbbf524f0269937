"""Breadth-first crawl of one website.

Semantics (see also ``urls``, ``fetch``, ``robots``, ``sitemap`` and ``extract``):

- Depth: the starting URL is depth 0; links on a depth-d page are depth d+1. The crawl is
  level-synchronous (every page of depth d settles before depth d+1 starts), so each URL gets
  its shortest depth. URLs listed by the site's sitemaps are depth 1 and only used when
  ``max_depth`` is None or >= 1. Links beyond ``max_depth`` are ignored (no result).
- Scope: the starting URL is fetched following redirects anywhere (the address guard still
  applies); the host it lands on is the crawl's scope. Out-of-scope links are ignored.
- Dedupe: each normalised URL is requested at most once; it is requested as first seen (not
  normalised). A page reached through redirects is reported under its final normalised URL
  (``requested_url`` says where it started); redirecting URLs get no result of their own, and
  a redirect onto a page already settled is dropped.
- Filters: include/exclude regexes decide which discovered URLs are fetched; a filtered URL is
  yielded ``skipped`` ("excluded by ...") without a request. The starting page is always
  fetched so its links are followed, but it is yielded ``skipped`` (with its links) unless it
  passes the filters; so is any page whose final URL (after redirects) does not pass them.
- page_limit counts content pages (``fetched`` + ``not_modified``). Requests in flight count
  against it, so the crawl never yields more content pages than the limit; once reached, no new
  request starts and the crawl ends (infinite link spaces end by depth or page_limit).
- robots.txt: disallowed URLs (also redirect targets) are yielded ``skipped`` with reason
  "robots.txt disallows". ``noindex`` pages are ``skipped`` but their links are followed.
  When the starting page's robots.txt (or one on its redirects) cannot be read (429, 5xx,
  timeout, DNS or connection error) the crawl ends with
  :class:`~sync_pipelines.core.deletion_policy.TransientSourceError` naming its URL: a crawl
  that cannot tell what is allowed must neither fetch nor let its caller delete. Another
  origin's unreadable robots.txt (e.g. ``https`` on an ``http`` site) makes its pages
  ``failed``, so they keep their chunks.
- 304 Not Modified: ``not_modified`` with the known page's links, which are followed again.
  A known page that ``failed`` has its known links followed too, so a page that fails for a
  while does not make the pages only it links to look unreachable.
- Address-guard refusals are ``failed`` with the guard's message (also for the starting URL).
- Concurrency: ``policy.concurrency`` worker threads; results are yielded in completion
  order; ``on_progress`` is called from the consuming thread every ``PROGRESS_EVERY`` results
  and at the end. Closing the generator early stops the workers.
"""

import logging
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import requests

from sync_pipelines.core.deletion_policy import TransientSourceError
from sync_pipelines.web.extract import ACCEPTED_TYPES
from sync_pipelines.web.fetch import Fetcher
from sync_pipelines.web.gate import HostGates
from sync_pipelines.web.guard import AddressPolicy, BlockedAddressError, guarded_session
from sync_pipelines.web.model import CrawlLimits, CrawlPolicy, CrawlStats, KnownPage, PageResult
from sync_pipelines.web.pages import Link, page_result
from sync_pipelines.web.robots import RobotsCache, origin_of
from sync_pipelines.web.sitemap import discover_sitemap_urls
from sync_pipelines.web.urls import PathFilter, Scope, check_url_scheme, normalize_url

logger = logging.getLogger(__name__)
PROGRESS_EVERY = 10
ROBOTS_REASON = "robots.txt disallows"


@dataclass(frozen=True)
class _Item:
    url: str  # as first seen
    key: str  # normalised
    depth: int


@dataclass
class _Visit:
    result: PageResult
    scope: Scope | None = None
    links: list[Link] = field(default_factory=list)


class _Crawl:
    def __init__(
        self,
        limits: CrawlLimits,
        policy: CrawlPolicy,
        known: Mapping[str, KnownPage] | None,
        session: requests.Session | None,
        on_progress: Callable[[CrawlStats], None] | None,
    ) -> None:
        if limits.page_limit < 1:
            raise ValueError(f"page_limit must be at least 1, not {limits.page_limit}")
        if limits.max_depth is not None and limits.max_depth < 0:
            raise ValueError(f"max_depth must be 0 or more, not {limits.max_depth}")
        self.limits, self.policy, self.on_progress = limits, policy, on_progress
        self.known = known or {}
        self.filter = PathFilter(limits.include_path_regexes, limits.exclude_path_regexes)
        self.gates = HostGates()
        self.own_session = session is None
        self.session = session or guarded_session(
            AddressPolicy(policy.allow), policy.user_agent, pool_maxsize=policy.concurrency
        )
        self.fetcher = Fetcher(self.session, policy, self.gates)
        self.robots = RobotsCache(self.fetcher)
        self.agent_token = policy.user_agent.split("/", 1)[0].strip().lower()
        self.scope: Scope | None = None
        self.stats = CrawlStats()
        self.seen: set[str] = set()
        self.settled: set[str] = set()
        self._since_progress = 0

    # --- worker side -------------------------------------------------------------------
    def _conditional(self, key: str) -> tuple[str | None, str | None] | None:
        page = self.known.get(key)
        return (page.etag, page.last_modified) if page else None

    def _hop_refusal(self, url: str) -> str | None:
        return None if self.robots.allows(url) else ROBOTS_REASON

    def visit(self, item: _Item) -> _Visit:
        try:
            return self._visit(item)
        except BlockedAddressError as exc:
            return _Visit(PageResult(item.key, "failed", item.depth, reason=str(exc)))
        except TransientSourceError as exc:
            if item.depth == 0:
                raise
            return _Visit(PageResult(item.key, "failed", item.depth, reason=str(exc)))
        except Exception as exc:
            if self.gates.stop.is_set():
                raise
            logger.exception("crawling %s failed", item.url)
            reason = f"{type(exc).__name__}: {exc}"
            return _Visit(PageResult(item.key, "failed", item.depth, reason=reason))

    def _visit(self, item: _Item) -> _Visit:
        if not self.robots.allows(item.url):
            return _Visit(PageResult(item.key, "skipped", item.depth, reason=ROBOTS_REASON))
        res = self.fetcher.get(
            item.url,
            scope=self.scope,
            accept=ACCEPTED_TYPES,
            max_bytes=self.policy.max_page_bytes,
            conditional=self._conditional,
            check_hop=self._hop_refusal,
        )
        scope = self.scope or Scope.of(res.url)
        result, links = page_result(
            res,
            requested=item.url,
            depth=item.depth,
            scope=scope,
            known=self.known.get(normalize_url(res.url)),
            path_filter=self.filter,
            agent_token=self.agent_token,
        )
        if result.status == "failed" and not links:
            known = self.known.get(result.url)
            links = [(u, u) for u in known.links if scope.contains(u)] if known else []
        return _Visit(result, scope, links)

    # --- consuming side ----------------------------------------------------------------
    def _yield(self, result: PageResult) -> Iterator[PageResult]:
        self.settled.add(result.url)
        self.seen.add(result.url)
        count = getattr(self.stats, result.status)
        setattr(self.stats, result.status, count + 1)
        yield result
        self._since_progress += 1
        if self.on_progress is not None and self._since_progress >= PROGRESS_EVERY:
            self._since_progress = 0
            self.on_progress(self.stats)

    def _full(self) -> bool:
        return self.stats.content_pages >= self.limits.page_limit

    def _discover(self, url: str, key: str, depth: int, level: list[_Item]) -> Iterator[PageResult]:
        max_depth = self.limits.max_depth
        if key in self.seen or (max_depth is not None and depth > max_depth) or self._full():
            return
        self.seen.add(key)
        self.stats.found += 1
        rejection = self.filter.rejection(key)
        if rejection:
            yield from self._yield(PageResult(key, "skipped", depth, reason=rejection))
        else:
            level.append(_Item(url, key, depth))

    def _sitemap_items(self, start: PageResult, level: list[_Item]) -> Iterator[PageResult]:
        max_depth = self.limits.max_depth
        if self.scope is None or start.status == "failed" or max_depth == 0 or self._full():
            return
        origin = origin_of(start.url)
        try:
            robots = self.robots.get(start.url)
            urls = discover_sitemap_urls(
                self.fetcher,
                self.scope,
                origin,
                robots.sitemaps,
                self.robots.allows,
                max_urls=self.limits.page_limit * 10,
            )
        except BlockedAddressError as exc:
            logger.warning("sitemap discovery refused: %s", exc)
            return
        for url in urls:
            yield from self._discover(url, normalize_url(url), 1, level)

    def run(self, start_url: str) -> Iterator[PageResult]:
        start = _Item(start_url, normalize_url(start_url), 0)
        self.seen.add(start.key)
        self.stats.found = 1
        pool = ThreadPoolExecutor(self.policy.concurrency, thread_name_prefix="crawl")
        try:
            level = [start]
            while level and not self._full():
                next_level: list[_Item] = []
                yield from self._run_level(pool, level, next_level)
                level = next_level
            if self.on_progress is not None:
                self.on_progress(self.stats)
        finally:
            self.gates.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            if self.own_session:
                self.session.close()

    def _run_level(
        self, pool: ThreadPoolExecutor, level: list[_Item], next_level: list[_Item]
    ) -> Iterator[PageResult]:
        pending = deque(level)
        in_flight: dict[Future[_Visit], _Item] = {}
        limit, concurrency = self.limits.page_limit, self.policy.concurrency
        while pending or in_flight:
            while (
                pending
                and len(in_flight) < concurrency
                and self.stats.content_pages + len(in_flight) < limit
            ):
                item = pending.popleft()
                if item.key not in self.settled:
                    in_flight[pool.submit(self.visit, item)] = item
            if not in_flight:
                return
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                item = in_flight.pop(future)
                visit = future.result()
                if self.scope is None:
                    self.scope = visit.scope or Scope.of(item.url)
                if visit.result.url in self.settled:
                    continue
                yield from self._yield(visit.result)
                for url, key in visit.links:
                    yield from self._discover(url, key, item.depth + 1, next_level)
                if item.depth == 0:
                    yield from self._sitemap_items(visit.result, next_level)


def crawl(
    start_url: str,
    limits: CrawlLimits,
    policy: CrawlPolicy,
    *,
    known: Mapping[str, KnownPage] | None = None,
    on_progress: Callable[[CrawlStats], None] | None = None,
    session: requests.Session | None = None,
) -> Iterator[PageResult]:
    """Crawl a website breadth-first (semantics in the module docstring).

    Args:
        start_url: The starting URL (http or https).
        limits: Depth, page limit and path filters of the source.
        policy: Network policy (User-Agent, allow-list, concurrency, timeouts, caps).
        known: Pages stored by the previous sync, by normalised URL (conditional GETs).
        on_progress: Called with the running statistics every few pages and at the end.
        session: Session to use instead of a new guarded one (its address checks, if any,
            are then the caller's; the User-Agent is still sent).

    Yields:
        One result per URL settled, in completion order.

    Raises:
        ValueError: The starting URL is not http(s), or the limits or regexes are invalid
            (raised on the first ``next()``, as this is a generator).
        TransientSourceError: The starting page's robots.txt could not be read (raised
            while iterating).
    """
    check_url_scheme(start_url)
    run = _Crawl(limits, policy, known, session, on_progress)
    yield from run.run(start_url.strip())
