"""The crawler's address guard: refused networks, the allow-list, redirects, DNS answers."""

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from sync_pipelines.devtools.web_site import LocalWebSite
from sync_pipelines.settings import Settings
from sync_pipelines.web import (
    AddressPolicy,
    BlockedAddressError,
    CrawlLimits,
    CrawlPolicy,
    check_url_scheme,
    crawl,
    guarded_session,
)
from sync_pipelines.web.fetch import Fetcher
from sync_pipelines.web.gate import HostGates
from sync_pipelines.web.guard import address_kind
from tests.test_sync_pipelines.web_helpers import UA, make_policy


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Record (and refuse) every socket connect attempt."""
    attempts: list[Any] = []

    def connect(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise AssertionError(f"connect attempted to {address}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield attempts


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:1/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.10:8080/x", "private"),
        ("https://172.16.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local/metadata"),
        ("http://[::1]:1/", "loopback"),
        ("http://[fd00::1]/", "private"),
        ("http://[fe80::1]/", "link-local/metadata"),
        ("http://localhost:1/", "loopback"),
        ("http://[::ffff:127.0.0.1]:1/", "loopback"),
        ("http://[::ffff:169.254.169.254]/", "link-local/metadata"),
        ("http://100.64.0.1/", "shared (CGNAT)"),
        ("http://0.0.0.0:1/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ],
)
def test_default_policy_refuses_before_connecting(
    no_connect: list[Any], url: str, kind: str
) -> None:
    session = guarded_session(AddressPolicy(), UA)
    with pytest.raises(BlockedAddressError) as info:
        session.get(url, timeout=30)
    assert info.value.kind == kind
    assert "allow it with CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS" in str(info.value)
    assert no_connect == []


def test_refusal_message_names_url_host_and_address() -> None:
    fetcher = Fetcher(guarded_session(AddressPolicy(), UA), make_policy(), HostGates())
    with pytest.raises(BlockedAddressError) as info:
        fetcher.get("http://localhost:9/page", scope=None, accept=None, max_bytes=100)
    message = str(info.value)
    assert message.startswith("http://localhost:9/page: localhost resolves to ")
    assert "a loopback address; allow it with CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS" in message


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("10.1.2.3", "private"),
        ("::ffff:10.1.2.3", "private"),
        ("fe80::1", "link-local/metadata"),
    ],
)
def test_address_kind(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("allow", ["127.0.0.1", "127.0.0.0/8", "127.0.0.1/32"])
def test_allow_list_by_ip_and_cidr(site: LocalWebSite, allow: str) -> None:
    site.add_html("/", "Home")
    response = guarded_session(AddressPolicy([allow]), UA).get(site.url("/"), timeout=5)
    assert response.status_code == 200
    assert site.log[0].headers["user-agent"] == UA


def test_allow_list_by_host_name(site: LocalWebSite) -> None:
    site.add_html("/", "Home")
    url = f"http://localhost:{site.port}/"
    with pytest.raises(BlockedAddressError):
        guarded_session(AddressPolicy(["127.0.0.2"]), UA).get(url, timeout=5)
    assert guarded_session(AddressPolicy(["localhost"]), UA).get(url, timeout=5).ok


def test_allowed_ip_also_allows_its_ipv4_mapped_form() -> None:
    policy = AddressPolicy(["127.0.0.1"])
    policy.check_ip("x", "::ffff:127.0.0.1")
    with pytest.raises(BlockedAddressError):
        policy.check_ip("x", "::ffff:127.0.0.2")


def test_other_loopback_address_is_not_covered_by_the_allow_list(site: LocalWebSite) -> None:
    with LocalWebSite("127.0.0.2") as other:
        other.add_html("/", "Other")
        session = guarded_session(AddressPolicy(["127.0.0.1"]), UA)
        with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.2"):
            session.get(other.url("/"), timeout=5)
        assert other.log == []


def test_redirect_to_a_refused_address_is_refused_on_the_hop(site: LocalWebSite) -> None:
    with LocalWebSite("127.0.0.2") as other:
        other.add_html("/target", "Target")
        site.add_redirect("/go", other.url("/target"))
        session = guarded_session(AddressPolicy(["127.0.0.1"]), UA)
        fetcher = Fetcher(session, make_policy(), HostGates())
        with pytest.raises(BlockedAddressError) as info:
            fetcher.get(site.url("/go"), scope=None, accept=None, max_bytes=10_000)
        assert str(info.value).startswith(other.url("/target") + ": 127.0.0.2, a loopback")
        assert [r.path for r in site.log] == ["/go"]
        assert other.log == []


def test_connects_to_the_checked_address(
    site: LocalWebSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name is resolved once by the guard and the socket goes to exactly that address."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.9.9.9"])

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "docs.example.test":
            return real(next(answers), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    site.add_html("/", "Home")
    session = guarded_session(AddressPolicy(["127.0.0.1"]), UA)
    url = f"http://docs.example.test:{site.port}/"
    assert session.get(url, timeout=5).status_code == 200
    assert site.log[0].headers["host"] == f"docs.example.test:{site.port}"
    session.close()  # a new connection resolves again, and now gets a private address
    with pytest.raises(BlockedAddressError, match=r"10\.9\.9\.9, a private address"):
        session.get(url, timeout=5)


def test_proxy_environment_is_ignored(site: LocalWebSite, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://10.255.255.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    site.add_html("/", "Home")
    [result] = crawl(site.url("/"), CrawlLimits(0, 1), make_policy())
    assert result.status == "fetched"


def test_policy_from_settings() -> None:
    settings = Settings(
        outbound_allow_hosts=["192.0.2.0/24"],
        crawl_allow_hosts=["10.0.0.0/8"],
        crawl_concurrency=2,
        crawl_max_retries=1,
    )
    policy = CrawlPolicy.from_settings(settings)
    assert policy.allow == ("192.0.2.0/24", "10.0.0.0/8") and policy.concurrency == 2
    assert policy.max_retries == 1 and policy.user_agent == settings.crawl_user_agent


def test_crawl_reports_refused_start_url_as_failed(site: LocalWebSite) -> None:
    site.add_html("/", "Home")
    policy = CrawlPolicy(user_agent=UA)
    [result] = crawl(site.url("/"), CrawlLimits(max_depth=None, page_limit=10), policy)
    assert result.status == "failed"
    assert result.reason is not None and "127.0.0.1, a loopback address" in result.reason
    assert site.log == []


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "http:///x"]
)
def test_check_url_scheme_rejects(url: str) -> None:
    with pytest.raises(ValueError, match=r"crawled|no host"):
        check_url_scheme(url)
    with pytest.raises(ValueError):
        list(crawl(url, CrawlLimits(0, 1), CrawlPolicy(user_agent=UA)))
