"""URL normalisation, scope, path filters, sitemap parsing, Retry-After and meta robots."""

import pytest

from sync_pipelines.web import PathFilter, Scope, extract_html, normalize_url
from sync_pipelines.web.fetch import retry_after_seconds
from sync_pipelines.web.sitemap import parse_sitemap


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/Docs/", "http://example.com/Docs"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443/a/", "https://example.com:8443/a"),
        ("http://example.com/a#frag", "http://example.com/a"),
        ("http://example.com/?b=2&a=1", "http://example.com/?a=1&b=2"),
        (
            "http://example.com/p?utm_source=x&UTM_Medium=y&gclid=1&fbclid=2&msclkid=3&yclid=4"
            "&mc_cid=5&mc_eid=6&_ga=7&_gl=8&id=9",
            "http://example.com/p?id=9",
        ),
        ("http://example.com/p?utm_source=x", "http://example.com/p"),
        ("http://example.com/%7Euser/caf\u00e9", "http://example.com/~user/caf%C3%A9"),
        ("http://user:secret@example.com/x", "http://example.com/x"),
        ("http://B\u00dcCHER.example/x", "http://xn--bcher-kva.example/x"),
        ("http://[::1]:80/x/", "http://[::1]/x"),
        ("  http://example.com  ", "http://example.com/"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected
    assert normalize_url(expected) == expected


@pytest.mark.parametrize("url", ["ftp://x/", "mailto:a@b.c", "/relative", "http://"])
def test_normalize_url_rejects(url: str) -> None:
    with pytest.raises(ValueError, match=r"only http|no host"):
        normalize_url(url)


def test_scope_is_host_and_port_across_schemes() -> None:
    scope = Scope.of("https://www.example.com/start")
    assert scope.contains("http://www.example.com/other")
    assert scope.contains("https://WWW.example.com:443/x")
    assert not scope.contains("https://example.com/")
    assert not scope.contains("https://docs.www.example.com/")
    assert not scope.contains("https://www.example.com:8443/")
    assert not scope.contains("ftp://www.example.com/")
    assert not scope.contains("http://www.example.com:bad/")


def test_path_filter() -> None:
    rules = PathFilter((r"^/docs/", r"\?page="), (r"/internal/", r"lang=fr"))
    assert rules.rejection("http://h/docs/a") is None
    assert rules.rejection("http://h/blog?page=2") is None
    assert (
        rules.rejection("http://h/docs/a?lang=fr") == "excluded by exclude_path_regexes 'lang=fr'"
    )
    assert rules.rejection("http://h/docs/internal/x") == (
        "excluded by exclude_path_regexes '/internal/'"
    )
    assert rules.rejection("http://h/blog") == (
        "excluded by include_path_regexes (no pattern matches)"
    )
    assert PathFilter((), ()).rejection("http://h/anything") is None


def test_path_filter_names_invalid_regex() -> None:
    with pytest.raises(ValueError, match=r"exclude_path_regexes: invalid regular expression '\('"):
        PathFilter((), ("(",))


def test_parse_sitemap_and_index() -> None:
    urlset = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc> http://h/a </loc><lastmod>2026-01-01</lastmod></url>"
        b"<url><loc>http://h/b</loc></url></urlset>"
    )
    assert parse_sitemap(urlset) == ("urlset", ["http://h/a", "http://h/b"])
    index = b"<sitemapindex><sitemap><loc>http://h/s1.xml</loc></sitemap></sitemapindex>"
    assert parse_sitemap(index) == ("sitemapindex", ["http://h/s1.xml"])
    assert parse_sitemap(b"<html><body>not a sitemap</body></html>") == ("", [])
    assert parse_sitemap(b"<urlset><url><loc>broken") == ("", [])


def test_parse_sitemap_does_not_expand_entities() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
        b'<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<urlset><url><loc>http://h/&lol3;</loc></url><url><loc>&xxe;</loc></url></urlset>"
    )
    kind, locations = parse_sitemap(laughs)
    assert kind == "urlset"
    assert all("lollol" not in loc and "root:" not in loc for loc in locations)


def test_retry_after_seconds() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    future = retry_after_seconds("Fri, 01 Jan 2100 00:00:00 GMT")
    assert future is not None and future > 1e9


def test_extract_links_base_href_and_meta_robots() -> None:
    html = (
        "<html><head><base href='/base/'><meta name='ROBOTS' content='NoIndex, NoFollow'>"
        "<title> T </title></head><body><a href='a#x'>a</a><a href='/b'>b</a>"
        "<a href='mailto:x@y.z'>m</a><a href='javascript:void(0)'>j</a><a href='#top'>t</a>"
        "<map><area href='http://h/c'></map><p>Text</p></body></html>"
    )
    page = extract_html(html, "http://h/dir/page")
    assert (page.noindex, page.nofollow, page.links, page.markdown) == (True, True, (), "")
    page = extract_html(html.replace("NoIndex, NoFollow", "all"), "http://h/dir/page")
    assert page.links == ("http://h/base/a", "http://h/b", "http://h/c")
    assert page.title == "T" and (page.markdown or "").endswith("Text")
    agent = extract_html(
        "<html><head><meta name='mybot' content='noindex'></head><body><p>x</p></body></html>",
        "http://h/",
        agent_token="mybot",
    )
    assert agent.noindex
