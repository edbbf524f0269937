"""One page fetch: conditional GET, manual redirects, retries, content-type and size checks.

- Redirects (301/302/303/307/308) are followed by hand, at most ``max_redirects`` hops; each
  hop is checked against the crawl scope (leaving it ends the page as ``skipped``, "redirect
  leaves the site"), against robots.txt (through ``check_hop``), and by the session's address
  guard when it connects. Revisiting a URL of the chain is a "redirect loop" (``failed``).
  A redirect chain that ends this way is reported under the requested URL; one that ends in
  an answer is reported under the final URL.
- Conditional headers (If-None-Match / If-Modified-Since) come from the known page of each
  hop's normalised URL; 304 answers are ``not_modified``.
- 429/500/502/503/504 answers and connection errors are retried ``max_retries`` times with
  exponential backoff, or the answer's Retry-After (seconds or HTTP date), capped by
  ``max_retry_after_s``. A 429 (or a 503 with Retry-After) pauses the whole host.
- Status mapping (:mod:`sync_pipelines.core.deletion_policy`): 2xx -> ok; 404/410 -> ``gone``
  (the only answers that remove a page); 401/403/451 (access denied: not evidence that the
  page is gone), 5xx/429 after retries, other 4xx and other 3xx -> ``failed``.
- The media type is checked before the body is read (unsupported -> ``skipped``); the body
  is streamed and abandoned past ``max_bytes`` (Content-Length is checked first).
"""

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import NameResolutionError, NewConnectionError

from sync_pipelines.core.deletion_policy import http_status_is_gone
from sync_pipelines.web.gate import HostGates
from sync_pipelines.web.guard import BlockedAddressError
from sync_pipelines.web.model import CrawlPolicy
from sync_pipelines.web.urls import Scope, normalize_url, strip_fragment

REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRIED = frozenset({429, 500, 502, 503, 504})
DENIED = frozenset({401, 403, 451})
CHUNK = 64 * 1024

Outcome = Literal["ok", "not_modified", "gone", "skipped", "failed"]
Conditional = Callable[[str], tuple[str | None, str | None] | None]


@dataclass
class FetchResult:
    """The answer to one fetch, after redirects and retries."""

    url: str
    outcome: Outcome
    reason: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    content_type_header: str | None = None
    body: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None
    conditional: bool = False


def media_type(header: str | None) -> str | None:
    """Return the lower-cased media type of a Content-Type header, without parameters."""
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header (delay seconds or an HTTP date) into seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class Fetcher:
    """Fetches URLs through a session, pacing each host through its gate.

    Args:
        session: The (guarded) session requests go through.
        policy: Timeouts, retries, redirects and the User-Agent.
        gates: The per-host gates.
    """

    def __init__(self, session: requests.Session, policy: CrawlPolicy, gates: HostGates) -> None:
        self.session = session
        self.policy = policy
        self.gates = gates

    def get(
        self,
        url: str,
        *,
        scope: Scope | None,
        accept: frozenset[str] | None,
        max_bytes: int,
        conditional: Conditional | None = None,
        check_hop: Callable[[str], str | None] | None = None,
        truncate: bool = False,
    ) -> FetchResult:
        """Fetch ``url`` (see the module docstring).

        Args:
            url: Absolute http(s) URL, fetched as given (fragment dropped).
            scope: Redirects must stay in it (None: any host, as for the starting URL).
            accept: Media types read; others are ``skipped`` (None: any).
            max_bytes: Largest body read.
            conditional: Returns the (etag, last_modified) known for a normalised URL.
            check_hop: Returns why a redirect target may not be fetched (e.g. robots.txt).
            truncate: Keep the first ``max_bytes`` of a larger body instead of skipping.

        Returns:
            The result; the final URL is in ``FetchResult.url``.

        Raises:
            BlockedAddressError: The address guard refused a hop.
            CrawlCancelled: The crawl was stopped.
        """
        requested = current = strip_fragment(url)
        chain = [current]
        for _hop in range(self.policy.max_redirects + 1):
            known = conditional(normalize_url(current)) if conditional else None
            headers = {"User-Agent": self.policy.user_agent}
            if known and known[0]:
                headers["If-None-Match"] = known[0]
            if known and known[1]:
                headers["If-Modified-Since"] = known[1]
            sent = "If-None-Match" in headers or "If-Modified-Since" in headers
            resp = self._send(current, headers)
            if isinstance(resp, FetchResult):
                return resp
            if resp.status_code not in REDIRECTS:
                result = self._final(current, resp, accept, max_bytes, truncate)
                result.conditional = sent
                return result
            location = resp.headers.get("Location")
            resp.close()
            if not location:
                reason = f"HTTP {resp.status_code} without Location"
                return FetchResult(requested, "failed", reason)
            target = strip_fragment(urljoin(current, location.strip()))
            if urlsplit(target).scheme not in ("http", "https"):
                reason = f"redirect to a non-http(s) URL {target}"
                return FetchResult(requested, "skipped", reason)
            if scope is not None and not scope.contains(target):
                reason = f"redirect leaves the site (to {target})"
                return FetchResult(requested, "skipped", reason)
            if target in chain:
                return FetchResult(requested, "failed", "redirect loop")
            refusal = check_hop(target) if check_hop else None
            if refusal:
                return FetchResult(requested, "skipped", f"{refusal} (redirect to {target})")
            chain.append(target)
            current = target
        reason = f"more than {self.policy.max_redirects} redirects"
        return FetchResult(requested, "failed", reason)

    def describe_error(self, exc: requests.RequestException) -> str:
        """Say in a few words why a request got no answer (DNS, refused, timeout, ...)."""
        if isinstance(exc, requests.Timeout):
            return f"timed out after {self.policy.timeout_s:g}s"
        cause = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(cause, NameResolutionError):
            return f"DNS lookup failed ({cause.__cause__ or cause})"
        if isinstance(cause, NewConnectionError) and "refused" in str(cause).lower():
            return "connection refused"
        return f"connection error: {cause or exc}"

    def _backoff(self, attempt: int) -> float:
        delay: float = self.policy.retry_backoff_s * 2**attempt
        return min(delay, self.policy.max_retry_after_s)

    def _send(self, url: str, headers: dict[str, str]) -> requests.Response | FetchResult:
        gate = self.gates(urlsplit(url).hostname or "")
        retries = self.policy.max_retries
        for attempt in range(retries + 1):
            gate.wait()
            try:
                resp = self.session.get(
                    url,
                    headers=headers,
                    timeout=self.policy.timeout_s,
                    stream=True,
                    allow_redirects=False,
                )
            except BlockedAddressError as exc:
                raise exc.with_url(url) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == retries:
                    reason = f"{self.describe_error(exc)} (after {retries} retries)"
                    return FetchResult(url, "failed", reason)
                gate.sleep(self._backoff(attempt))
                continue
            except requests.RequestException as exc:
                return FetchResult(url, "failed", f"request error: {exc}")
            if resp.status_code not in RETRIED or attempt == retries:
                if resp.status_code in RETRIED:
                    resp.close()
                    reason = f"HTTP {resp.status_code} after {retries} retries"
                    return FetchResult(url, "failed", reason, http_status=resp.status_code)
                return resp
            hinted = retry_after_seconds(resp.headers.get("Retry-After"))
            delay = min(
                hinted if hinted is not None else self._backoff(attempt),
                self.policy.max_retry_after_s,
            )
            resp.close()
            if resp.status_code == 429 or (resp.status_code == 503 and hinted is not None):
                gate.pause(delay)
            else:
                gate.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _final(
        self,
        url: str,
        resp: requests.Response,
        accept: frozenset[str] | None,
        max_bytes: int,
        truncate: bool,
    ) -> FetchResult:
        status = resp.status_code
        ctype_header = resp.headers.get("Content-Type")
        result = FetchResult(
            url,
            "ok",
            http_status=status,
            content_type=media_type(ctype_header),
            content_type_header=ctype_header,
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
        )
        with resp:
            if status == 304:
                result.outcome = "not_modified"
                return result
            if http_status_is_gone(status):
                result.outcome, result.reason = "gone", f"HTTP {status}"
            elif status in DENIED:
                result.outcome, result.reason = "failed", f"HTTP {status} (access denied)"
            elif status in (204, 205):
                result.outcome, result.reason = "skipped", f"HTTP {status} (no content)"
            elif not 200 <= status < 300:
                result.outcome, result.reason = "failed", f"HTTP {status}"
            elif accept is not None and result.content_type not in accept:
                shown = result.content_type or "(none)"
                result.outcome, result.reason = "skipped", f"unsupported content type {shown}"
            else:
                self._read_body(resp, result, max_bytes, truncate)
            return result

    def _read_body(
        self, resp: requests.Response, result: FetchResult, max_bytes: int, truncate: bool
    ) -> None:
        too_big = f"over the {max_bytes}-byte size cap"
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes and not truncate:
            result.outcome, result.reason = "skipped", too_big
            return
        deadline = time.monotonic() + 5 * self.policy.timeout_s
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_content(CHUNK):
                parts.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    if truncate:
                        break
                    result.outcome, result.reason = "skipped", too_big
                    return
                if time.monotonic() > deadline:
                    result.outcome = "failed"
                    result.reason = f"download took longer than {5 * self.policy.timeout_s:g}s"
                    return
        except requests.RequestException as exc:
            result.outcome, result.reason = "failed", f"download interrupted: {exc}"
            return
        result.body = b"".join(parts)[:max_bytes]
