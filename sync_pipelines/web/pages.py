"""Turn one fetch into a :class:`PageResult` plus the links the crawl follows from it."""

from dataclasses import replace
from typing import Literal

from sync_pipelines.web.extract import DOCUMENT_TYPES, HTML_TYPES, decode_text, extract_html
from sync_pipelines.web.fetch import FetchResult
from sync_pipelines.web.model import KnownPage, PageResult
from sync_pipelines.web.urls import PathFilter, Scope, normalize_url

Link = tuple[str, str]  # (URL as found on the page, normalised URL)


def page_result(
    res: FetchResult,
    *,
    requested: str,
    depth: int,
    scope: Scope,
    known: KnownPage | None,
    path_filter: PathFilter,
    agent_token: str,
) -> tuple[PageResult, list[Link]]:
    """Build the result of a fetch and the in-scope links found on the page.

    Args:
        res: The fetch (``res.url`` is the final URL after redirects).
        requested: The URL requested, as first seen.
        depth: The page's depth.
        scope: The crawl's scope (links elsewhere are dropped).
        known: The previous sync's record of the final URL.
        path_filter: Include/exclude filters; a page whose final URL fails them has its
            content dropped (``skipped``) but keeps its links.
        agent_token: The crawler's robots product token, for ``<meta name=...>``.

    Returns:
        The result and the ``(url, normalised url)`` links to follow.
    """
    key = normalize_url(res.url)
    result = PageResult(
        key,
        "failed",
        depth,
        content_type=res.content_type,
        etag=res.etag,
        last_modified=res.last_modified,
        reason=res.reason,
        requested_url=requested if key != normalize_url(requested) else None,
    )
    links: list[Link] = []
    status: Literal["fetched", "not_modified", "skipped"] = "fetched"
    if res.outcome == "not_modified":
        if known is None or not res.conditional:
            return replace(result, reason="HTTP 304 to an unconditional request"), []
        links = [(u, u) for u in known.links if scope.contains(u)]
        status = "not_modified"
        result = replace(
            result,
            etag=res.etag or known.etag,
            last_modified=res.last_modified or known.last_modified,
        )
    elif res.outcome != "ok":
        return replace(result, status=res.outcome), []
    elif res.content_type in HTML_TYPES:
        text = decode_text(res.body or b"", res.content_type_header)
        page = extract_html(text, res.url, agent_token)
        links = [(u, normalize_url(u)) for u in page.links if scope.contains(u)]
        result = replace(result, markdown=page.markdown, title=page.title)
        if page.noindex:
            status = "skipped"
            result = replace(result, markdown=None, reason="noindex (meta robots)")
    elif res.content_type in DOCUMENT_TYPES:
        result = replace(result, document=res.body or b"")
    else:
        result = replace(result, markdown=decode_text(res.body or b"", res.content_type_header))
    result = replace(result, status=status, links=tuple(dict.fromkeys(k for _u, k in links)))
    rejection = path_filter.rejection(key)
    if rejection and status != "skipped":
        result = replace(result, status="skipped", reason=rejection, markdown=None, document=None)
    return result, links
