"""The crawler's public data types: limits, policy, known pages, results and statistics."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from sync_pipelines.settings import Settings

PageStatus = Literal["fetched", "not_modified", "gone", "skipped", "failed"]


@dataclass(frozen=True)
class CrawlLimits:
    """What part of a site one crawl covers.

    Attributes:
        max_depth: Link hops from the starting URL (0 = only the starting page; None =
            unlimited).
        page_limit: At most this many pages produce content (fetched + not_modified).
        include_path_regexes: ``re.search`` patterns on path (+ ``?query``); empty = all.
        exclude_path_regexes: Patterns that exclude a page; an exclude match wins.
    """

    max_depth: int | None
    page_limit: int
    include_path_regexes: tuple[str, ...] = ()
    exclude_path_regexes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CrawlPolicy:
    """How the crawler behaves on the network (server settings, not per source).

    Attributes:
        user_agent: User-Agent header, also matched against robots.txt groups.
        allow: Hosts, IPs or CIDRs reachable although loopback/private/link-local/metadata.
        concurrency: Requests in flight at once (one host per crawl).
        timeout_s: Connect and read timeout of each request; a body download may take at
            most five times this long in total.
        max_page_bytes: Bodies larger than this are not downloaded (page skipped).
        max_retries: Retries after 429/500/502/503/504 answers and connection errors.
        max_retry_after_s: Longest Retry-After, backoff or robots.txt Crawl-delay honoured.
        max_redirects: Redirect hops followed per page.
        retry_backoff_s: First backoff delay without Retry-After (doubles per retry).
    """

    user_agent: str
    allow: tuple[str, ...] = ()
    concurrency: int = 4
    timeout_s: float = 20.0
    max_page_bytes: int = 10 * 1024 * 1024
    max_retries: int = 3
    max_retry_after_s: float = 60.0
    max_redirects: int = 10
    retry_backoff_s: float = 0.5

    @classmethod
    def from_settings(cls, settings: "Settings") -> "CrawlPolicy":
        """Build the policy from the server's ``crawl_*`` settings."""
        return cls(
            user_agent=settings.crawl_user_agent,
            allow=tuple(settings.outbound_allow),
            concurrency=settings.crawl_concurrency,
            timeout_s=settings.crawl_timeout_s,
            max_page_bytes=settings.crawl_max_page_bytes,
            max_retries=settings.crawl_max_retries,
            max_retry_after_s=settings.crawl_max_retry_after_s,
        )


@dataclass(frozen=True)
class KnownPage:
    """What the previous sync stored for a page (enables conditional GETs).

    Attributes:
        url: Normalised URL (the document key).
        etag: ETag the server sent last time.
        last_modified: Last-Modified the server sent last time.
        links: Normalised in-scope links found on the page last time; followed again when
            the server answers 304 Not Modified.
    """

    url: str
    etag: str | None
    last_modified: str | None
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class PageResult:
    """What the crawl settled for one URL.

    Attributes:
        url: Normalised final URL (after in-scope redirects): the document key.
        status: ``fetched`` (content below), ``not_modified`` (304: keep the stored content),
            ``gone`` (404/410: remove the page), ``skipped`` (no content by policy: robots,
            filters, noindex, type, size) or ``failed`` (transient, server error or access
            denied: keep the previous content).
        depth: Link hops from the starting URL (sitemap URLs count as depth 1).
        content_type: Media type of the answer, without parameters.
        markdown: Extracted main content of an HTML page, or the text of a text page.
        document: Raw bytes of a document of a registered type (PDF, Office, EPUB, image:
            :mod:`~sync_pipelines.core.documents.registry`).
        title: Page title (HTML only).
        etag: ETag of the answer.
        last_modified: Last-Modified of the answer.
        links: Normalised in-scope links the crawl follows from this page.
        reason: Why the page was skipped, failed or is gone.
        requested_url: The URL as requested, when a redirect led elsewhere.
    """

    url: str
    status: PageStatus
    depth: int
    content_type: str | None = None
    markdown: str | None = None
    document: bytes | None = None
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    links: tuple[str, ...] = ()
    reason: str | None = None
    requested_url: str | None = None


@dataclass
class CrawlStats:
    """Running counts of a crawl (``found`` = distinct in-scope URLs discovered)."""

    found: int = 0
    fetched: int = 0
    not_modified: int = 0
    skipped: int = 0
    failed: int = 0
    gone: int = 0

    @property
    def content_pages(self) -> int:
        """Pages that count against ``page_limit`` (fetched + not_modified)."""
        return self.fetched + self.not_modified
