"""What a web re-sync keeps, rewrites and removes, as plain functions over crawl results.

The rule is :mod:`sync_pipelines.core.deletion_policy`'s: only an authoritative answer deletes.
A page's chunks are kept when the crawl fetched it (its text is then re-synced, which writes
nothing when the text is unchanged), when it answered 304 Not Modified, or when fetching it
failed for a reason that may pass (5xx after retries, timeouts, access denied): a flaky server
must not empty a collection. Every other page the collection holds is removed: pages that
answered 404/410, pages now excluded, disallowed by robots.txt or no longer a document, and
pages the crawl no longer reached within its depth and page limits. A crawl whose robots.txt or
starting page could not be read never gets here: the invocation fails first.
"""

import hashlib
from collections.abc import Iterable, Mapping

KEEP_STATUSES = frozenset({"fetched", "not_modified", "failed"})
"""Crawl outcomes after which a page keeps (or gets) its chunks."""


def text_version(text: str) -> str:
    """Return a page's ``version_key``: the sha256 hex of its extracted text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pages_to_remove(settled: Mapping[str, str], indexed: Iterable[str]) -> list[str]:
    """Return the indexed pages whose chunks a re-sync removes.

    Args:
        settled: Normalised URL to crawl status (``fetched``, ``not_modified``, ``failed``,
            ``gone``, ``skipped``) for every page the crawl settled.
        indexed: Document keys (normalised URLs) the collection or the crawl state holds.

    Returns:
        Sorted URLs to remove: settled with a removing status, or not reached at all.
    """
    return sorted({url for url in indexed if settled.get(url) not in KEEP_STATUSES})
