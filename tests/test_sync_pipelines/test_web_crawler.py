"""Crawl semantics against a real local website: depth, limits, filters, robots, sitemaps,
dedupe, scope, re-crawls (gone, changed, 304) and extraction."""

import itertools

import pytest

from sync_pipelines.core.deletion_policy import TransientSourceError
from sync_pipelines.devtools.web_site import LocalWebSite, Page
from sync_pipelines.web import CrawlStats
from tests.test_sync_pipelines.web_helpers import (
    known_from,
    page_requests,
    run_crawl,
    statuses,
)


def tree_site(site: LocalWebSite) -> None:
    site.add_html("/", "Home", links=["/a", "/b"])
    site.add_html("/a", "A", links=["/a/1"])
    site.add_html("/b", "B", links=["/b/1", "/"])
    site.add_html("/a/1", "A1", links=["/a/1/x"])
    site.add_html("/b/1", "B1")
    site.add_html("/a/1/x", "A1X")


@pytest.mark.parametrize(
    ("max_depth", "expected"),
    [
        (0, {"/": 0}),
        (1, {"/": 0, "/a": 1, "/b": 1}),
        (2, {"/": 0, "/a": 1, "/b": 1, "/a/1": 2, "/b/1": 2}),
        (None, {"/": 0, "/a": 1, "/b": 1, "/a/1": 2, "/b/1": 2, "/a/1/x": 3}),
    ],
)
def test_depth_limits(site: LocalWebSite, max_depth: int | None, expected: dict[str, int]) -> None:
    tree_site(site)
    results = run_crawl(site, max_depth=max_depth)
    assert {p: r.depth for p, r in results.items()} == expected
    assert set(statuses(results).values()) == {"fetched"}
    assert sorted(page_requests(site)) == sorted(expected)


def test_page_limit_counts_content_pages(site: LocalWebSite) -> None:
    site.add_docs_site(40)
    progress: list[CrawlStats] = []
    results = run_crawl(site, "/docs/p0", page_limit=7, progress=progress)
    assert statuses(results) == {f"/docs/p{i}": "fetched" for i in range(7)}
    assert sorted(page_requests(site)) == sorted(f"/docs/p{i}" for i in range(7))
    assert progress[-1].fetched == 7
    assert progress[-1].found > 7


def test_include_and_exclude_regexes(site: LocalWebSite) -> None:
    site.add_html("/", "Home", links=["/docs/a", "/blog/x", "/docs/private/k"])
    site.add_html("/docs/a", "Doc A", links=["/docs/b?lang=en"])
    site.add_html("/docs/b", "Doc B")
    site.add_html("/blog/x", "Blog")
    site.add_html("/docs/private/k", "Secret")
    results = run_crawl(site, include=(r"^/docs/",), exclude=(r"/private/", r"lang=fr"))
    assert statuses(results) == {
        "/": "skipped",
        "/docs/a": "fetched",
        "/docs/b?lang=en": "fetched",
        "/blog/x": "skipped",
        "/docs/private/k": "skipped",
    }
    assert results["/"].reason == "excluded by include_path_regexes (no pattern matches)"
    assert results["/"].markdown is None and len(results["/"].links) == 4
    assert results["/docs/private/k"].reason == "excluded by exclude_path_regexes '/private/'"
    assert sorted(page_requests(site)) == ["/", "/docs/a", "/docs/b?lang=en"]


def test_robots_disallow_allow(site: LocalWebSite) -> None:
    site.add_robots(
        "User-agent: *\nDisallow: /\n\n"
        "User-agent: chroma-sync-test\nDisallow: /private\nAllow: /private/open\n"
    )
    site.add_html("/", "Home", links=["/private/secret", "/private/open", "/public"])
    for path in ("/private/secret", "/private/open", "/public"):
        site.add_html(path, path)
    results = run_crawl(site)
    assert statuses(results) == {
        "/": "fetched",
        "/private/secret": "skipped",
        "/private/open": "fetched",
        "/public": "fetched",
    }
    assert results["/private/secret"].reason == "robots.txt disallows"
    assert "/private/secret" not in site.fetched_paths()
    assert site.fetched_paths().count("/robots.txt") == 1


def test_robots_crawl_delay_spaces_requests(site: LocalWebSite) -> None:
    site.add_robots("User-agent: *\nCrawl-delay: 0.3\n")
    site.add_html("/", "Home", links=[f"/p{i}" for i in range(5)])
    for i in range(5):
        site.add_html(f"/p{i}", f"P{i}")
    results = run_crawl(site, concurrency=4)
    assert len(results) == 6
    times = sorted(r.time for r in site.log)
    assert len(times) == 8  # robots.txt, sitemap.xml, 6 pages
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.2, gaps  # without the delay the gaps are milliseconds


def test_robots_server_error_fails_the_crawl_fetching_nothing(site: LocalWebSite) -> None:
    site.pages["/robots.txt"] = Page("down", "text/plain", 503)
    site.add_html("/", "Home")
    with pytest.raises(TransientSourceError) as info:
        run_crawl(site, max_retries=1)
    assert info.value.location == site.url("/robots.txt")
    assert info.value.cause == "cannot be read: HTTP 503 after 1 retries"
    assert page_requests(site) == []


def test_unreadable_robots_of_another_origin_fails_only_its_pages(site: LocalWebSite) -> None:
    other = site.base_url.replace("http://", "https://") + "/tls"  # in scope; no TLS there
    site.add_html("/", "Home", links=[other, "/plain"])
    site.add_html("/plain", "Plain")
    results = run_crawl(site, max_retries=0)
    assert statuses(results) == {"/": "fetched", "/plain": "fetched", "/tls": "failed"}
    reason = results["/tls"].reason or ""
    assert reason.startswith(other.replace("/tls", "/robots.txt: cannot be read: ")), reason


def test_robots_client_error_allows_everything(site: LocalWebSite) -> None:
    site.pages["/robots.txt"] = Page("no", "text/plain", 403)
    site.add_html("/", "Home")
    assert statuses(run_crawl(site)) == {"/": "fetched"}


def test_sitemap_discovery(site: LocalWebSite) -> None:
    site.add_html("/", "Home", links=["/linked"])
    site.add_html("/linked", "Linked")
    site.add_html("/orphan", "Orphan page only in the sitemap")
    site.add_html("/deep-orphan", "Listed by a sitemap named in robots.txt")
    site.add_sitemap(["/orphan", "/linked", "http://elsewhere.invalid/x"])
    site.add_sitemap(["/deep-orphan"], path="/maps/extra.xml")
    site.add_robots(f"User-agent: *\nAllow: /\nSitemap: {site.url('/maps/extra.xml')}\n")
    results = run_crawl(site, max_depth=1)
    assert {p: (r.status, r.depth) for p, r in results.items()} == {
        "/": ("fetched", 0),
        "/linked": ("fetched", 1),
        "/orphan": ("fetched", 1),
        "/deep-orphan": ("fetched", 1),
    }
    site.clear_log()
    assert set(run_crawl(site, max_depth=0)) == {"/"}
    assert "/sitemap.xml" not in site.fetched_paths()


def test_sitemap_index(site: LocalWebSite) -> None:
    site.add_html("/", "Home")
    site.add_html("/from-index", "From index")
    site.add_sitemap(["/from-index"], path="/sm/part1.xml")
    site.add_sitemap(["/sm/part1.xml"], index=True)
    assert statuses(run_crawl(site)) == {"/": "fetched", "/from-index": "fetched"}


def test_tracking_params_fragment_and_slash_dedupe(site: LocalWebSite) -> None:
    site.add_html(
        "/",
        "Home",
        links=["/page/", "/page", "/page?utm_source=news&gclid=1", "/page#section", "/#top"],
    )
    site.add_html("/page/", "Page")
    results = run_crawl(site)
    assert set(results) == {"/", "/page"}
    assert site.requests_for("/page/") and len(page_requests(site)) == 2
    assert page_requests(site)[1] == "/page/"  # fetched as first seen, not normalised


def test_off_host_links_are_not_followed(site: LocalWebSite) -> None:
    with LocalWebSite("127.0.0.2") as other:
        other.add_html("/", "Other")
        site.add_html("/", "Home", links=[other.url("/"), "/local"])
        site.add_html("/local", "Local")
        results = run_crawl(site, allow=("127.0.0.1", "127.0.0.2"))
        assert set(results) == {"/", "/local"}
        assert results["/"].links == (site.url("/"), site.url("/local"))
        assert other.log == []


def test_start_redirect_moves_the_scope(site: LocalWebSite) -> None:
    with LocalWebSite("127.0.0.2") as www:
        site.add_redirect("/", www.url("/"))
        site.add_html("/left-behind", "Old host page")
        www.add_html("/", "New home", links=["/about", site.url("/left-behind")])
        www.add_html("/about", "About")
        results = run_crawl(site, allow=("127.0.0.1", "127.0.0.2"))
        assert {r.url: r.status for r in results.values()} == {
            www.url("/"): "fetched",
            www.url("/about"): "fetched",
        }
        assert results["/"].requested_url == site.url("/")
        assert page_requests(site) == ["/"]


def test_meta_robots_noindex_and_nofollow(site: LocalWebSite) -> None:
    site.add_html("/", "Home", links=["/hidden", "/closed"])
    site.add_html(
        "/hidden", "Hidden", links=["/via-hidden"], head='<meta name="robots" content="noindex">'
    )
    site.add_html(
        "/closed", "Closed", links=["/via-closed"], head='<meta name="robots" content="nofollow">'
    )
    site.add_html("/via-hidden", "Via hidden")
    site.add_html("/via-closed", "Via closed")
    results = run_crawl(site)
    assert statuses(results) == {
        "/": "fetched",
        "/hidden": "skipped",
        "/closed": "fetched",
        "/via-hidden": "fetched",
    }
    assert results["/hidden"].reason == "noindex (meta robots)"
    assert results["/closed"].links == ()


def test_recrawl_gone_changed_and_not_modified(site: LocalWebSite) -> None:
    tree_site(site)
    first = run_crawl(site)
    assert set(statuses(first).values()) == {"fetched"}
    known = known_from(first)
    del site.pages["/b/1"]
    site.add_html("/b", "B", body_html="<p>Brand new text about B.</p>", links=["/b/1", "/"])
    site.clear_log()
    second = run_crawl(site, known=known)
    assert statuses(second) == {
        "/": "not_modified",
        "/a": "not_modified",
        "/a/1": "not_modified",  # only linked from /a: its known links were followed
        "/a/1/x": "not_modified",
        "/b": "fetched",
        "/b/1": "gone",
    }
    assert second["/b/1"].reason == "HTTP 404"
    assert "Brand new text about B." in (second["/b"].markdown or "")
    assert second["/b"].etag != first["/b"].etag
    [a_request] = site.requests_for("/a")
    assert a_request.headers["if-none-match"] == first["/a"].etag
    assert a_request.status == 304
    assert second["/a"].links == first["/a"].links


def test_extraction_drops_boilerplate(site: LocalWebSite) -> None:
    site.add_html(
        "/",
        "Install guide",
        body_html="<p>Run the <b>installer</b> first.</p><h2>Configure</h2>"
        "<p>Edit <code>sync.toml</code>.</p><ul><li>step one</li><li>step two</li></ul>",
    )
    [page] = run_crawl(site).values()
    md = page.markdown or ""
    assert page.title == "Install guide"
    assert md.startswith("# Install guide")
    assert "## Configure" in md and "**installer**" in md and "- step one" in md
    assert "`sync.toml`" in md
    for boilerplate in ("ACME-HEADER-BRAND", "NAV-HOME", "FOOTER-COPYRIGHT", "TRACKING-SCRIPT"):
        assert boilerplate not in md
