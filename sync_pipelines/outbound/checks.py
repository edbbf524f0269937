"""Checks of the URLs a user supplies, before anything connects to them.

The same rules run when a source is created (the API turns :class:`OutboundRefused` into a 400
naming the field) and again when a run builds its connection (``git_transport``, ``s3_guard``),
so a source written to the catalog by other means, or a DNS answer that changed since, is still
refused. A name that does not resolve at creation is accepted: that is no policy answer, and
the connection checks again.
"""

import re
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from sync_pipelines.outbound.policy import AddressPolicy, BlockedAddressError

DEFAULT_PORTS = {"https": 443, "http": 80, "git": 9418, "ssh": 22}
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.?|\[[0-9A-Fa-f:.]+\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LOCAL_ROOTS_HINT = "the operator must list its folder in CHROMA_SYNC_GIT_LOCAL_ROOTS"


class OutboundRefused(ValueError):
    """A user-supplied URL is refused; ``field`` names where it came from.

    Args:
        field: The request field holding the URL (e.g. ``github.base_url``).
        reason: Why it is refused (safe to show).
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def url_parts(
    url: str, field: str, schemes: Iterable[str], *, strict_host: bool = True
) -> SplitResult:
    """Split ``url`` and check its scheme, host form, port and the absence of credentials.

    ``strict_host`` allows only ASCII host names and bracketed IPv6 literals (git passes the
    host on to ssh and its proxy command); otherwise any host name ``urlsplit`` finds passes.

    Raises:
        OutboundRefused: Unsupported scheme, no or malformed host, bad port, or user info.
    """
    allowed = tuple(schemes)
    if _CONTROL.search(url):
        raise OutboundRefused(field, "must not contain control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in allowed:
        raise OutboundRefused(field, f"must be an absolute URL of scheme {', '.join(allowed)}")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused(field, "must not carry credentials (user:password@)")
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    if not parts.hostname or (strict_host and not _HOST.fullmatch(host)):
        raise OutboundRefused(field, f"has no valid host name ({parts.netloc!r})")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise OutboundRefused(field, f"has an invalid port ({exc})") from None
    return parts


def check_host(policy: AddressPolicy, host: str, port: int, field: str) -> None:
    """Resolve ``host`` and refuse it when the policy permits none of its addresses.

    Raises:
        OutboundRefused: The name or every address it resolves to is refused.
    """
    try:
        policy.permitted_addresses(host, port)
    except socket.gaierror:
        return
    except BlockedAddressError as exc:
        raise OutboundRefused(field, str(exc)) from None


def check_http_url(policy: AddressPolicy, url: str, field: str) -> None:
    """Check an http(s) URL (a web starting URL or an S3 endpoint) against the policy.

    Raises:
        OutboundRefused: The URL is malformed or its host is refused.
    """
    parts = url_parts(url, field, ("http", "https"), strict_host=False)
    assert parts.hostname is not None
    check_host(policy, parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme.lower()], field)


def check_repository_name(repository: str) -> str:
    """Return ``repository`` if it is ``owner/repo`` (or deeper) with safe segments.

    Raises:
        ValueError: Control characters, empty, ``.`` or ``..`` segments, or other characters
            than letters, digits, ``_``, ``.`` and ``-``.
    """
    if _CONTROL.search(repository):
        raise ValueError("repository must not contain control characters")
    segments = repository.split("/")
    if len(segments) < 2 or not all(re.fullmatch(r"[\w.-]+", s, re.ASCII) for s in segments):
        raise ValueError("repository must look like 'owner/repo'")
    if any(s in (".", "..") for s in segments):
        raise ValueError("repository must not contain '.' or '..' segments")
    return repository


def local_repository(base_url: str, repository: str, roots: Iterable[Path], field: str) -> Path:
    """Return the folder a ``file://`` repository resolves to, if it lies under a local root.

    Raises:
        OutboundRefused: No roots are configured or the resolved folder is outside all of them.
    """
    parts = urlsplit(base_url)
    if parts.netloc not in ("", "localhost"):
        raise OutboundRefused(field, "file:// URLs must not name a host")
    path = Path(parts.path or "/", repository).resolve()
    for root in roots:
        if path.is_relative_to(Path(root).expanduser().resolve()):
            return path
    raise OutboundRefused(field, f"file:// repositories are refused; {LOCAL_ROOTS_HINT}")


def check_git_url(
    policy: AddressPolicy, roots: Iterable[Path], base_url: str, repository: str, field: str
) -> None:
    """Check a git ``base_url`` (with the repository it serves) against the policy.

    Raises:
        OutboundRefused: Unsupported or malformed URL, refused host, or a local path outside
            the operator's roots.
    """
    if urlsplit(base_url).scheme.lower() == "file":
        local_repository(base_url, repository, roots, field)
        return
    parts = url_parts(base_url, field, tuple(DEFAULT_PORTS))
    assert parts.hostname is not None
    check_host(policy, parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme.lower()], field)


def same_https_host(url: str, home: str) -> bool:
    """Tell whether ``url`` is https on the host (and port) of the https URL ``home``.

    The rule for server-wide git credentials: they go only to the configured git host.
    """
    ours, theirs = urlsplit(home), urlsplit(url)
    return ours.scheme == theirs.scheme == "https" and ours.netloc.lower() == theirs.netloc.lower()
