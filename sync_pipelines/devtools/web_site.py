"""A real, mutable website on a loopback address for crawler tests, benchmarks and demos.

``LocalWebSite()`` is a threaded HTTP/1.1 server bound to ``127.0.0.1`` (or another loopback
address such as ``127.0.0.2``) on an ephemeral port. ``site.pages`` maps paths to a
:class:`Page` or to a route function ``(Request) -> Page`` and may be changed while it runs;
``site.prefixes`` maps path prefixes to route functions (e.g. the calendar). Pages get an ETag
computed from their body (``etags=True``) and honour If-None-Match / If-Modified-Since with 304.
Every request is recorded in ``site.log`` (path, lower-cased headers, monotonic time, status,
bytes sent), so tests can assert what was fetched, how and when.
"""

import hashlib
import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

from sync_pipelines.devtools.web_content import (
    calendar_page,
    docs_site,
    html_page,
    not_modified,
    pdf_bytes,
    png_bytes,
    sitemap_xml,
)

HTML = "text/html; charset=utf-8"


@dataclass
class Page:
    """One answer of the site.

    Attributes:
        body: Body (text is sent UTF-8 encoded).
        content_type: Content-Type header.
        status: HTTP status.
        headers: Extra headers.
        etag: ETag; None lets the site derive one from the body (when ``etags`` is on).
        last_modified: Last-Modified header (HTTP date), also used for If-Modified-Since.
        repeat: The body is sent this many times (large bodies without the memory).
        declare_length: Send Content-Length; False sends a close-delimited body.
        delay_s: Seconds the server waits before answering.
    """

    body: bytes | str = b""
    content_type: str = HTML
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    repeat: int = 1
    declare_length: bool = True
    delay_s: float = 0.0

    @property
    def data(self) -> bytes:
        """The body as bytes."""
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass
class Request:
    """One request the site received.

    ``time`` is ``time.monotonic()`` on arrival; ``done`` turns True once the answer is
    written or the client went away.
    """

    method: str
    path: str
    headers: dict[str, str]
    time: float
    status: int = 0
    bytes_sent: int = 0
    done: bool = False


Route = Callable[[Request], Page]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        site = self.server.site
        entry = Request(
            "GET", self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic()
        )
        site.record(entry)
        page = site.resolve(entry)
        time.sleep(page.delay_s)
        etag = page.etag
        if etag is None and site.etags and page.status == 200:
            etag = '"' + hashlib.sha256(page.data).hexdigest()[:16] + '"'
        if page.status == 200 and not_modified(entry.headers, etag, page.last_modified):
            page = Page(b"", page.content_type, 304)
        entry.status = page.status
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        validators = {"ETag": etag, "Last-Modified": page.last_modified}
        for name, value in [*validators.items(), *page.headers.items()]:
            if value and (name not in validators or page.status in (200, 304)):
                self.send_header(name, value)
        data = page.data if page.status != 304 else b""
        if page.declare_length:
            self.send_header("Content-Length", str(len(data) * page.repeat))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            for _ in range(page.repeat if data else 0):
                self.wfile.write(data)
                entry.bytes_sent += len(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            entry.done = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: "LocalWebSite"

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore clients that hang up (the crawler abandons oversize bodies)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LocalWebSite:
    """A mutable website served on a loopback address (see the module docstring).

    Args:
        host: Loopback address to bind (``127.0.0.1``; any ``127.x.y.z`` works on Linux).
        etags: Derive an ETag from each 200 body that sets none.
    """

    def __init__(self, host: str = "127.0.0.1", etags: bool = True) -> None:
        if not host.startswith("127."):
            raise ValueError(f"LocalWebSite binds loopback addresses only, not {host!r}")
        self.host = host
        self.etags = etags
        self.pages: dict[str, Page | Route] = {}
        self.prefixes: dict[str, Route] = {}
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Self:
        self._server = _Server((self.host, 0), _Handler)
        self._server.site = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None, "use LocalWebSite as a context manager"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the site."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """Return the absolute URL of ``path``."""
        return self.base_url + path

    # --- request handling and log --------------------------------------------------------
    def record(self, entry: Request) -> None:
        """Append ``entry`` to the request log."""
        with self._lock:
            self.log.append(entry)

    def resolve(self, request: Request) -> Page:
        """Return the page answering ``request`` (exact path, then longest prefix, else 404)."""
        path = urlsplit(request.path).path
        target = self.pages.get(path)
        if target is None:
            matches = [p for p in self.prefixes if path.startswith(p)]
            if matches:
                target = self.prefixes[max(matches, key=len)]
        if target is None:
            return Page("not found", "text/plain; charset=utf-8", 404)
        return target(request) if callable(target) else target

    def requests_for(self, path: str) -> list[Request]:
        """Return the logged requests whose path (query ignored) is ``path``."""
        with self._lock:
            return [r for r in self.log if urlsplit(r.path).path == path]

    def fetched_paths(self) -> list[str]:
        """Return the path (with query) of every logged request, in arrival order."""
        with self._lock:
            return [r.path for r in self.log]

    def clear_log(self) -> None:
        """Forget the logged requests."""
        with self._lock:
            self.log.clear()

    # --- content helpers -----------------------------------------------------------------
    def add_html(
        self, path: str, title: str, body_html: str = "", links: Iterable[str] = (), head: str = ""
    ) -> None:
        """Serve a boilerplate-wrapped HTML page linking (in its article) to ``links``."""
        body = body_html or f"<p>Content of {title}.</p>"
        self.pages[path] = Page(html_page(title, body, [(h, h) for h in links], head=head))

    def add_docs_site(self, n: int, prefix: str = "/docs") -> list[str]:
        """Serve an ``n``-page generated docs site (see ``web_content.docs_site``); return paths."""
        pages = docs_site(n, prefix)
        for path, text in pages.items():
            self.pages[path] = Page(text)
        return list(pages)

    def add_robots(self, text: str) -> None:
        """Serve ``/robots.txt``."""
        self.pages["/robots.txt"] = Page(text, "text/plain; charset=utf-8")

    def add_sitemap(
        self, paths: Sequence[str], path: str = "/sitemap.xml", index: bool = False
    ) -> None:
        """Serve a sitemap of ``paths`` (absolute URLs as given); ``index``: a sitemap index."""
        urls = [p if "://" in p else self.url(p) for p in paths]
        self.pages[path] = Page(sitemap_xml(urls, index=index), "application/xml")

    def add_redirect(self, path: str, location: str, status: int = 301) -> None:
        """Redirect ``path`` to ``location`` (relative or absolute)."""
        self.pages[path] = Page(b"", "text/plain", status, {"Location": location})

    def add_calendar(self, prefix: str = "/cal/", start: str = "2026-01") -> str:
        """Serve an endless calendar: ``/cal/YYYY-MM`` links to the next month; return start."""

        def month(request: Request) -> Page:
            text = calendar_page(prefix, urlsplit(request.path).path[len(prefix) :])
            return Page(text) if text else Page("not found", "text/plain", 404)

        self.prefixes[prefix] = month
        return f"{prefix}{start}"

    def add_flaky(self, path: str, page: Page, failures: int, status: int = 500) -> None:
        """Answer ``status`` to the first ``failures`` requests of ``path``, then ``page``."""
        self._add_failing(path, page, failures, Page("try again", "text/plain", status))

    def add_rate_limited(self, path: str, page: Page, times: int, retry_after: str = "1") -> None:
        """Answer 429 with ``Retry-After`` to the first ``times`` requests, then ``page``."""
        limited = Page("slow down", "text/plain", 429, {"Retry-After": retry_after})
        self._add_failing(path, page, times, limited)

    def _add_failing(self, path: str, page: Page, times: int, failure: Page) -> None:
        calls = itertools.count(1)  # next() on it is atomic under the GIL

        def route(_request: Request) -> Page:
            return failure if next(calls) <= times else page

        self.pages[path] = route

    def add_oversize(self, path: str, size: int, declare_length: bool = True) -> None:
        """Serve about ``size`` bytes of HTML (64 KiB blocks), with or without Content-Length."""
        block = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
        repeat = max(1, size // len(block))
        self.pages[path] = Page(block, repeat=repeat, declare_length=declare_length)

    def add_pdf(self, path: str, lines: Sequence[str]) -> None:
        """Serve a PDF showing ``lines``."""
        self.pages[path] = Page(pdf_bytes(lines), "application/pdf")

    def add_image(self, path: str) -> None:
        """Serve a small PNG image."""
        self.pages[path] = Page(png_bytes(), "image/png")
