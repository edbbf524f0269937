"""Website crawler of chroma-sync (pure Python, no Dagster): crawl a site into page results.

Entry point: :func:`crawl`. Modules: ``urls`` (normalisation, scope, filters), ``guard``
(address policy, SSRF-safe session), ``gate`` (per-host pacing), ``fetch`` (one fetch),
``robots``, ``sitemap``, ``extract`` (HTML to markdown) and ``crawler`` (BFS frontier).
"""

from sync_pipelines.web.crawler import crawl
from sync_pipelines.web.extract import ACCEPTED_TYPES, ExtractedPage, extract_html
from sync_pipelines.web.guard import AddressPolicy, BlockedAddressError, guarded_session
from sync_pipelines.web.model import CrawlLimits, CrawlPolicy, CrawlStats, KnownPage, PageResult
from sync_pipelines.web.urls import PathFilter, Scope, check_url_scheme, normalize_url

__all__ = [
    "ACCEPTED_TYPES",
    "AddressPolicy",
    "BlockedAddressError",
    "CrawlLimits",
    "CrawlPolicy",
    "CrawlStats",
    "ExtractedPage",
    "KnownPage",
    "PageResult",
    "PathFilter",
    "Scope",
    "check_url_scheme",
    "crawl",
    "extract_html",
    "guarded_session",
    "normalize_url",
]
