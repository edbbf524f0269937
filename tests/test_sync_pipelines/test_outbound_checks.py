"""The creation-time URL rules (``sync_pipelines.outbound.checks``), as plain functions."""

from pathlib import Path

import pytest

from sync_pipelines.outbound.checks import (
    OutboundRefused,
    check_git_url,
    check_http_url,
    check_repository_name,
    local_repository,
)
from sync_pipelines.outbound.git_transport import GitTransport, GitTransportRefused
from sync_pipelines.outbound.policy import AddressPolicy


@pytest.mark.parametrize("name", ["octo/repo", "my-org/my.repo_2", "group/sub/repo"])
def test_repository_names_accepted(name: str) -> None:
    assert check_repository_name(name) == name


@pytest.mark.parametrize(
    "name", ["octo/repo\n", "../x", "a/..", "a/./b", "a//b", "a", "/a/b", "a/b/", "a/b c", "é/b"]
)
def test_repository_names_refused(name: str) -> None:
    with pytest.raises(ValueError, match="repository"):
        check_repository_name(name)


@pytest.mark.parametrize(
    "url",
    [
        "ssh://-oProxyCommand=touch%20x/",
        "git://a;b/",
        "http://[::1%25eth0]/",
        "ftp://example.com/",
        "https://u:p@example.com/",
        "http://example.com:99999/",
        "http://example.com\r\n/",
    ],
)
def test_malformed_or_tricky_git_urls_are_refused(url: str) -> None:
    with pytest.raises(OutboundRefused) as info:
        check_git_url(AddressPolicy(), [], url, "octo/repo", "github.base_url")
    assert info.value.field == "github.base_url"


def test_an_allow_list_entry_opens_exactly_that_network() -> None:
    policy = AddressPolicy(["127.0.0.1/32"])
    check_http_url(policy, "http://127.0.0.1:8333", "s3.endpoint_url")
    with pytest.raises(OutboundRefused, match="loopback"):
        check_http_url(policy, "http://127.0.0.2:8333", "s3.endpoint_url")


def test_local_roots_resolve_symlinks_before_comparing(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "team").mkdir(parents=True)
    (outside / "repo").mkdir(parents=True)
    (root / "team" / "link").symlink_to(outside)
    assert local_repository(f"file://{root}", "team/handbook", [root], "f").is_relative_to(root)
    with pytest.raises(OutboundRefused, match="CHROMA_SYNC_GIT_LOCAL_ROOTS"):
        local_repository(f"file://{root}", "team/link/repo", [root], "f")
    with pytest.raises(OutboundRefused, match="must not name a host"):
        local_repository(f"file://evil.example{root}", "team/handbook", [root], "f")


def test_transport_pins_http_to_checked_addresses_and_proxies_git_and_ssh(tmp_path: Path) -> None:
    transport = GitTransport(AddressPolicy(["127.0.0.1"]), script_dir=tmp_path)
    config, env = transport.settings("http://127.0.0.1:9418/octo/repo")
    assert ("http.curloptResolve", "127.0.0.1:9418:127.0.0.1") in config
    assert ("http.followRedirects", "false") in config and env == {}
    assert ("protocol.allow", "never") in config and ("protocol.http.allow", "always") in config
    config, env = transport.settings("git://127.0.0.1/octo/repo")
    assert dict(config)["core.gitProxy"] == str(tmp_path / ".chroma-sync-connect")
    assert env == {"CHROMA_SYNC_OUTBOUND_POLICY": '["127.0.0.1"]'}
    config, _ = transport.settings("ssh://127.0.0.1:2222/octo/repo")
    assert "ProxyCommand=" in dict(config)["core.sshCommand"]
    assert "127.0.0.1 2222" in dict(config)["core.sshCommand"]
    with pytest.raises(GitTransportRefused, match="loopback"):
        GitTransport(AddressPolicy(), script_dir=tmp_path).settings("http://localhost/octo/repo")
