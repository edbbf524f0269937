"""Shared helpers of the web crawler tests: a policy for the local site and crawl shortcuts."""

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sync_pipelines.devtools.web_site import LocalWebSite, Request
from sync_pipelines.web import CrawlLimits, CrawlPolicy, CrawlStats, KnownPage, PageResult, crawl

UA = "chroma-sync-test/1.0 (+https://example.invalid)"


def make_policy(**overrides: Any) -> CrawlPolicy:
    values: dict[str, Any] = {
        "user_agent": UA,
        "allow": ("127.0.0.1",),
        "timeout_s": 5.0,
        "retry_backoff_s": 0.05,
        "max_retry_after_s": 5.0,
    }
    values.update(overrides)
    return CrawlPolicy(**values)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def run_crawl(
    site: LocalWebSite,
    start: str = "/",
    *,
    max_depth: int | None = None,
    page_limit: int = 100,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    known: Mapping[str, KnownPage] | None = None,
    progress: list[CrawlStats] | None = None,
    **policy: Any,
) -> dict[str, PageResult]:
    """Crawl ``site`` from ``start``; return the results by path (each path at most once)."""
    limits = CrawlLimits(max_depth, page_limit, include, exclude)
    results: dict[str, PageResult] = {}

    def record(stats: CrawlStats) -> None:
        if progress is not None:
            progress.append(CrawlStats(**vars(stats)))

    for result in crawl(
        site.url(start), limits, make_policy(**policy), known=known, on_progress=record
    ):
        assert path_of(result.url) not in results, f"{result.url} yielded twice"
        results[path_of(result.url)] = result
    return results


def statuses(results: Mapping[str, PageResult]) -> dict[str, str]:
    return {path: r.status for path, r in results.items()}


def known_from(results: Mapping[str, PageResult]) -> dict[str, KnownPage]:
    return {
        r.url: KnownPage(r.url, r.etag, r.last_modified, r.links)
        for r in results.values()
        if r.status in ("fetched", "not_modified")
    }


def page_requests(site: LocalWebSite) -> list[str]:
    """Paths requested, without robots.txt and sitemap.xml."""
    return [p for p in site.fetched_paths() if p not in ("/robots.txt", "/sitemap.xml")]


def wait_done(request: Request, timeout: float = 10.0) -> Request:
    deadline = time.monotonic() + timeout
    while not request.done and time.monotonic() < deadline:
        time.sleep(0.02)
    return request
