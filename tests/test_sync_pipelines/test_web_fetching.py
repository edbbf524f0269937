"""HTTP behaviour of the crawler against a real local website: redirects, retries, 429,
content types, size caps and infinite link spaces."""

from sync_pipelines.devtools.web_site import LocalWebSite, Page
from sync_pipelines.web import CrawlLimits, crawl
from tests.test_sync_pipelines.web_helpers import (
    make_policy,
    page_requests,
    run_crawl,
    statuses,
    wait_done,
)


def test_redirects_loop_and_leaving_the_site(site: LocalWebSite) -> None:
    site.add_html("/", "Home", links=["/loop-a", "/old", "/away", "/ok"])
    site.add_redirect("/loop-a", "/loop-b")
    site.add_redirect("/loop-b", "/loop-a", status=302)
    site.add_redirect("/old", "/new/")
    site.add_html("/new/", "New place")
    site.add_redirect("/away", "http://127.0.0.2:9/elsewhere")
    site.add_html("/ok", "Fine")
    results = run_crawl(site)
    assert statuses(results) == {
        "/": "fetched",
        "/loop-a": "failed",
        "/new": "fetched",
        "/away": "skipped",
        "/ok": "fetched",
    }
    assert results["/loop-a"].reason == "redirect loop"
    assert results["/new"].requested_url == site.url("/old")
    assert results["/away"].reason == "redirect leaves the site (to http://127.0.0.2:9/elsewhere)"
    assert site.fetched_paths().count("/loop-a") == 1


def test_too_many_redirects(site: LocalWebSite) -> None:
    site.add_html("/", "Home", links=["/r0"])
    for i in range(5):
        site.add_redirect(f"/r{i}", f"/r{i + 1}")
    results = run_crawl(site, max_redirects=3)
    assert results["/r0"].status == "failed"
    assert results["/r0"].reason == "more than 3 redirects"
    assert page_requests(site) == ["/", "/r0", "/r1", "/r2", "/r3"]


def test_server_error_then_recovery(site: LocalWebSite) -> None:
    site.add_html("/", "Home", links=["/flaky", "/broken"])
    site.add_flaky("/flaky", Page("<html><body><p>Recovered text.</p></body></html>"), failures=2)
    site.pages["/broken"] = Page("boom", "text/plain", 500)
    results = run_crawl(site, max_retries=2)
    assert statuses(results) == {"/": "fetched", "/flaky": "fetched", "/broken": "failed"}
    assert results["/flaky"].markdown == "Recovered text."
    assert [r.status for r in site.requests_for("/flaky")] == [500, 500, 200]
    assert results["/broken"].reason == "HTTP 500 after 2 retries"
    assert len(site.requests_for("/broken")) == 3


def test_429_retry_after_pauses_the_host(site: LocalWebSite) -> None:
    site.add_html("/", "Home", links=["/slow", *[f"/p{i}" for i in range(8)]])
    site.add_rate_limited("/slow", Page("<html><body><p>Finally.</p></body></html>"), times=1)
    for i in range(8):
        site.pages[f"/p{i}"] = Page(f"<p>P{i}</p>", delay_s=0.1)
    results = run_crawl(site, concurrency=2)
    assert results["/slow"].status == "fetched"
    first, second = site.requests_for("/slow")
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 0.9
    # The pause holds every worker of the host, not only the one that got the 429.
    paused = [r.path for r in site.log if first.time + 0.3 < r.time < first.time + 0.9]
    assert paused == []
    assert len(page_requests(site)) == 11


def test_content_types(site: LocalWebSite) -> None:
    site.add_html("/", "Home", links=["/logo.png", "/notes.txt", "/guide.pdf", "/data.json"])
    site.add_image("/logo.png")
    site.pages["/notes.txt"] = Page("plain notes\nline two", "text/plain; charset=utf-8")
    site.add_pdf("/guide.pdf", ["PDF guide text"])
    site.pages["/data.json"] = Page('{"a": 1}', "application/json")
    results = run_crawl(site)
    assert results["/logo.png"].status == "skipped"
    assert results["/logo.png"].reason == "unsupported content type image/png"
    assert results["/data.json"].reason == "unsupported content type application/json"
    assert results["/notes.txt"].status == "fetched"
    assert results["/notes.txt"].markdown == "plain notes\nline two"
    assert results["/notes.txt"].content_type == "text/plain"
    pdf = results["/guide.pdf"]
    assert (pdf.status, pdf.content_type) == ("fetched", "application/pdf")
    assert pdf.document is not None and pdf.document.startswith(b"%PDF") and pdf.markdown is None


def test_charset_from_http_header(site: LocalWebSite) -> None:
    body = "<html><body><p>Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e</p></body></html>"
    site.pages["/"] = Page(body.encode("iso-8859-1"), "text/html; charset=iso-8859-1")
    [page] = run_crawl(site).values()
    assert page.markdown == "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e"


def test_oversize_pages_are_not_downloaded(site: LocalWebSite) -> None:
    size = 32 * 1024 * 1024
    site.add_html("/", "Home", links=["/big", "/big-stream"])
    site.add_oversize("/big", size)
    site.add_oversize("/big-stream", size, declare_length=False)
    results = run_crawl(site, max_page_bytes=1024 * 1024)
    for path in ("/big", "/big-stream"):
        assert results[path].status == "skipped"
        assert results[path].reason == "over the 1048576-byte size cap"
        [request] = site.requests_for(path)
        assert wait_done(request).done
        assert request.bytes_sent < size // 2, (path, request.bytes_sent)


def test_calendar_infinite_space_stops_at_page_limit(site: LocalWebSite) -> None:
    start = site.add_calendar()
    results = run_crawl(site, start, page_limit=15)
    fetched = {p: r.depth for p, r in results.items() if r.status == "fetched"}
    assert len(fetched) == 15 and max(fetched.values()) == 14 and "/cal/2027-03" in fetched
    assert statuses(results)["/"] == "gone"  # the navigation bar's home link
    assert len([p for p in page_requests(site) if p.startswith("/cal/")]) == 15


def test_calendar_infinite_space_stops_at_depth(site: LocalWebSite) -> None:
    start = site.add_calendar()
    results = run_crawl(site, start, max_depth=3, page_limit=1000)
    assert sorted(results) == ["/", "/cal/2026-01", "/cal/2026-02", "/cal/2026-03", "/cal/2026-04"]


def test_gone_and_denied_statuses(site: LocalWebSite) -> None:
    site.add_html("/", "Home", links=["/missing", "/removed", "/private", "/teapot"])
    site.pages["/removed"] = Page("", "text/plain", 410)
    site.pages["/private"] = Page("", "text/plain", 403)
    site.pages["/teapot"] = Page("", "text/plain", 418)
    results = run_crawl(site)
    assert {p: (r.status, r.reason) for p, r in results.items() if p != "/"} == {
        "/missing": ("gone", "HTTP 404"),
        "/removed": ("gone", "HTTP 410"),
        "/private": ("failed", "HTTP 403 (access denied)"),
        "/teapot": ("failed", "HTTP 418"),
    }


def test_closing_the_generator_stops_the_crawl(site: LocalWebSite) -> None:
    site.add_docs_site(60)
    limits = CrawlLimits(max_depth=None, page_limit=100)
    pages = crawl(site.url("/docs/p0"), limits, make_policy(concurrency=2))
    first = next(pages)
    pages.close()
    assert first.url == site.url("/docs/p0")
    requested = len(page_requests(site))
    assert requested < 10
