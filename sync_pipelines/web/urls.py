"""URL normalisation, crawl scope and path filters.

Normalisation (the page's ``document_key`` and the crawl's dedupe key):

- scheme and host lower-cased (IDN hosts in their ASCII ``xn--`` form), default ports (80 for
  http, 443 for https) dropped, user info dropped, fragment dropped;
- tracking parameters removed (``utm_*``, ``gclid``, ``fbclid``, ``msclkid``, ``yclid``,
  ``mc_cid``, ``mc_eid``, ``_ga``, ``_gl``), remaining query parameters sorted and
  percent-encoding made canonical (``w3lib.url.canonicalize_url``);
- a trailing slash stripped, except on the root path (an empty path becomes ``/``).

Scope: a crawl stays on one host (and explicit port), the host the starting URL lands on after
its own redirects. ``http`` and ``https`` on that host are both in scope (default ports are
equal); other hosts, subdomains and other ports are not. Only http(s) URLs are ever crawled.
"""

import re
from dataclasses import dataclass
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

TRACKING_PARAMS = frozenset(
    {"gclid", "fbclid", "msclkid", "yclid", "mc_cid", "mc_eid", "_ga", "_gl"}
)
DEFAULT_PORTS = {"http": 80, "https": 443}


def check_url_scheme(url: str) -> str:
    """Check that ``url`` is an absolute http(s) URL with a host.

    Args:
        url: The URL to check.

    Returns:
        The URL, stripped of surrounding whitespace.

    Raises:
        ValueError: The URL is not http(s), has no host, or has an invalid port.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise ValueError(f"{url!r}: only http:// and https:// URLs can be crawled")
    if not parts.hostname:
        raise ValueError(f"{url!r}: the URL has no host")
    try:
        parts.port  # noqa: B018 - urlsplit validates the port lazily
    except ValueError as exc:
        raise ValueError(f"{url!r}: invalid port ({exc})") from None
    return url


def _is_tracking(param: str) -> bool:
    name = unquote_plus(param.split("=", 1)[0]).lower()
    return name.startswith("utm_") or name in TRACKING_PARAMS


def _host_port(scheme: str, hostname: str, port: int | None) -> tuple[str, int | None]:
    try:
        host = hostname.encode("idna").decode("ascii") if not hostname.isascii() else hostname
    except UnicodeError:
        host = hostname
    host = host.lower().rstrip(".")
    if port == DEFAULT_PORTS.get(scheme):
        port = None
    return host, port


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def normalize_url(url: str) -> str:
    """Return the normalised form of an absolute http(s) URL (see the module docstring).

    Args:
        url: An absolute http(s) URL.

    Returns:
        The normalised URL.

    Raises:
        ValueError: The URL is not an absolute http(s) URL with a host.
    """
    parts = urlsplit(check_url_scheme(url))
    scheme = parts.scheme.lower()
    host, port = _host_port(scheme, parts.hostname or "", parts.port)
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    path = parts.path or "/"
    canonical = canonicalize_url(urlunsplit((scheme, _netloc(host, port), path, query, "")))
    cparts = urlsplit(canonical)
    cpath = cparts.path or "/"
    if len(cpath) > 1 and cpath.endswith("/"):
        cpath = cpath.rstrip("/") or "/"
    return urlunsplit((scheme, _netloc(host, port), cpath, cparts.query, ""))


def strip_fragment(url: str) -> str:
    """Return ``url`` without its ``#fragment``."""
    return url.split("#", 1)[0]


@dataclass(frozen=True)
class Scope:
    """The host (and explicit non-default port) a crawl stays on."""

    host: str
    port: int | None

    @classmethod
    def of(cls, url: str) -> "Scope":
        """Return the scope of the host ``url`` is on."""
        parts = urlsplit(url)
        host, port = _host_port(parts.scheme.lower(), parts.hostname or "", parts.port)
        return cls(host, port)

    def contains(self, url: str) -> bool:
        """Tell whether ``url`` is an http(s) URL on this scope's host and port."""
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme not in DEFAULT_PORTS or not parts.hostname:
                return False
            return _host_port(scheme, parts.hostname, parts.port) == (self.host, self.port)
        except ValueError:
            return False


class PathFilter:
    """Include/exclude regular expressions matched (``re.search``) against path + query.

    The matched text is the normalised URL's path, plus ``?query`` when it has one. An exclude
    match always wins; with include patterns, at least one must match.

    Args:
        include: Patterns of which one must match (empty: every path is included).
        exclude: Patterns of which none may match.

    Raises:
        ValueError: A pattern is not a valid regular expression (named in the message).
    """

    def __init__(self, include: tuple[str, ...], exclude: tuple[str, ...]) -> None:
        self.include = [self._compile(p, "include_path_regexes") for p in include]
        self.exclude = [self._compile(p, "exclude_path_regexes") for p in exclude]

    @staticmethod
    def _compile(pattern: str, field: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{field}: invalid regular expression {pattern!r}: {exc}") from None

    def rejection(self, url: str) -> str | None:
        """Return why ``url`` is filtered out, or None when it passes."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for rx in self.exclude:
            if rx.search(target):
                return f"excluded by exclude_path_regexes {rx.pattern!r}"
        if self.include and not any(rx.search(target) for rx in self.include):
            return "excluded by include_path_regexes (no pattern matches)"
        return None
