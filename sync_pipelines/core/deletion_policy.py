"""Only an authoritative answer deletes chunks: the one rule every source type follows.

A sync removes a document's chunks only when the source said, with authority, that the
document is gone or no longer belongs to the source:

- web: the page answered 404 or 410; robots.txt (fetched and read) disallows it; the page is
  now out of scope or excluded by the source's rules (include/exclude regexes, depth, page
  limit, noindex, not a document type, over the size cap, a redirect off the site); the crawl
  no longer reaches it from pages it could read;
- S3: HEAD/GET said the object does not exist (``NoSuchKey``/``NotFound``/404), or a complete
  bucket listing no longer has it;
- git: the file is not in the tree of the commit being synced (after a successful fetch).

Anything else is transient, whatever it looks like: robots.txt answering 429/5xx, a timeout, a
DNS failure, a refused connection, a starting page that cannot be read, an access-denied page,
a failed or partial S3 listing, an S3 error other than "no such key", a failed git fetch. A
transient answer about the whole source raises :class:`TransientSourceError` naming the URL,
key or repository and the cause: the invocation fails and the collection is left exactly as it
was (same ids, documents and metadata). A transient answer about one web page that is not the
starting page keeps that page's chunks and the sync goes on.
"""

from collections.abc import Mapping
from typing import Any

GONE_HTTP_STATUSES = frozenset({404, 410})
"""HTTP statuses that say a page is gone (its chunks are removed)."""

S3_GONE_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
"""S3 error codes that say an object does not exist (its chunks are removed)."""


class TransientSourceError(Exception):
    """The source could not answer with authority: fail the invocation, delete nothing.

    Args:
        location: What could not be read: a URL, ``s3://bucket/key-or-prefix`` or a
            repository URL.
        cause: Why, in words (e.g. ``HTTP 503 after 3 retries``).
    """

    def __init__(self, location: str, cause: str) -> None:
        super().__init__(f"{location}: {cause}")
        self.location = location
        self.cause = cause


def http_status_is_gone(status: int | None) -> bool:
    """Whether an HTTP status says, with authority, that the resource is gone (404/410)."""
    return status in GONE_HTTP_STATUSES


def robots_status_allows_all(status: int | None) -> bool:
    """Whether a robots.txt answer means "no rules" (RFC 9309 "unavailable": 4xx but 429).

    Any other non-2xx answer (429, 5xx, no answer at all) is transient: the crawl must not
    fetch pages and must not delete any either.
    """
    return status is not None and 400 <= status < 500 and status != 429


def s3_error_code(exc: BaseException) -> str:
    """The error code of a botocore ``ClientError`` (``""`` for any other exception)."""
    response: Any = getattr(exc, "response", None)
    error = response.get("Error", {}) if isinstance(response, Mapping) else {}
    return str(error.get("Code", "")) if isinstance(error, Mapping) else ""


def s3_object_gone(exc: BaseException) -> bool:
    """Whether an S3 HEAD/GET error says the object does not exist (its chunks go)."""
    return s3_error_code(exc) in S3_GONE_CODES


def s3_error_cause(exc: BaseException) -> str:
    """Describe an S3 error in one line: code, HTTP status and message when known."""
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return f"{type(exc).__name__}: {exc}"
    error = response.get("Error") or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    parts = [str(error.get("Code") or type(exc).__name__)]
    if status:
        parts.append(f"(HTTP {status})")
    message = str(error.get("Message") or "")
    return " ".join(parts) + (f": {message}" if message else "")


def s3_read_error(uri: str, exc: BaseException) -> TransientSourceError | None:
    """Classify an S3 HEAD/GET error of ``uri``.

    Returns:
        ``None`` when the object is gone (its chunks go), else the
        :class:`TransientSourceError` to raise (the invocation fails, no chunk is touched).
    """
    if s3_object_gone(exc):
        return None
    return TransientSourceError(uri, s3_error_cause(exc))
