"""Sitemap discovery: ``/sitemap.xml`` plus the robots.txt ``Sitemap:`` lines on the site.

Sitemaps (``<urlset>``) and sitemap indexes (``<sitemapindex>``, followed up to
``MAX_SITEMAPS`` files) are parsed with lxml with entity resolution, DTD loading and network
access off, so entity-expansion and external-entity tricks do nothing; files are capped at
``MAX_SITEMAP_BYTES`` (and the crawl's page cap). Only sitemaps and page URLs on the crawl's
host are used; gzip-compressed ``.xml.gz`` sitemaps are not supported (a sitemap served with
``Content-Encoding: gzip`` is fine).
"""

from collections.abc import Callable

from lxml import etree

from sync_pipelines.core.deletion_policy import TransientSourceError
from sync_pipelines.web.fetch import Fetcher
from sync_pipelines.web.urls import Scope, strip_fragment

MAX_SITEMAPS = 50
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
MAX_URLS_PER_SITEMAP = 50_000


def parse_sitemap(body: bytes) -> tuple[str, list[str]]:
    """Parse a sitemap or sitemap index.

    Args:
        body: The XML document.

    Returns:
        ``("urlset" | "sitemapindex" | "", locations)``; ``""`` with no locations when the
        document is not a sitemap or not well-formed.
    """
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return "", []
    if root is None or not isinstance(root.tag, str):
        return "", []
    kind = etree.QName(root).localname
    if kind not in ("urlset", "sitemapindex"):
        return "", []
    locations: list[str] = []
    for entry in root:
        if not isinstance(entry.tag, str):
            continue
        for child in entry:
            if isinstance(child.tag, str) and etree.QName(child).localname == "loc":
                text = (child.text or "").strip()
                if text:
                    locations.append(text)
        if len(locations) >= MAX_URLS_PER_SITEMAP:
            break
    return kind, locations


def discover_sitemap_urls(
    fetcher: Fetcher,
    scope: Scope,
    origin: str,
    robots_sitemaps: list[str],
    allowed: Callable[[str], bool],
    max_urls: int,
) -> list[str]:
    """Collect page URLs from the site's sitemaps.

    Args:
        fetcher: Fetches the sitemap files.
        scope: The crawl's host; sitemaps and URLs elsewhere are ignored.
        origin: ``scheme://host`` of the site (``/sitemap.xml`` is looked for there).
        robots_sitemaps: Sitemap URLs named by robots.txt.
        allowed: robots.txt check for sitemap files.
        max_urls: Stop collecting after this many page URLs.

    Returns:
        In-scope page URLs, fragment removed, in sitemap order (may contain duplicates).

    Raises:
        BlockedAddressError: The address guard refused a sitemap's host.
        TransientSourceError: A sitemap could not be read (5xx, timeout, connection error),
            so the crawl cannot tell which pages are gone.
        CrawlCancelled: The crawl was stopped.
    """
    queue = [f"{origin}/sitemap.xml", *robots_sitemaps]
    seen: set[str] = set()
    pages: list[str] = []
    cap = min(MAX_SITEMAP_BYTES, fetcher.policy.max_page_bytes)
    while queue and len(seen) < MAX_SITEMAPS and len(pages) < max_urls:
        url = strip_fragment(queue.pop(0))
        if url in seen or not scope.contains(url) or not allowed(url):
            continue
        seen.add(url)
        result = fetcher.get(url, scope=scope, accept=None, max_bytes=cap)
        if result.outcome == "failed":
            # Pages only this sitemap lists would look unreachable and lose their chunks.
            raise TransientSourceError(url, result.reason or "cannot be read")
        if result.outcome != "ok" or result.body is None:
            continue
        kind, locations = parse_sitemap(result.body)
        in_scope = [strip_fragment(loc) for loc in locations if scope.contains(loc)]
        if kind == "sitemapindex":
            queue.extend(in_scope)
        else:
            pages.extend(in_scope)
    return pages[:max_urls]
