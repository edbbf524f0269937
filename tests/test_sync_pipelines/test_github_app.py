"""GitHub App authentication against a fake of GitHub's two App endpoints on 127.0.0.1.

Contract: ``GitHubAppAuth.installation_token`` signs an RS256 JWT (``iss`` = app id, ``iat`` =
now - 60, ``exp`` = now + 540) that verifies with the App's public key, looks up the
repository's installation and mints an installation token, cached per installation until five
minutes before it expires; 401, 404 and timeouts raise ``GitHubAppError`` naming the repository
and status, never the key. End to end, a source with ``app_id`` and no stored token syncs a
private repository served over HTTP with that installation token (two syncs mint one token); a
stored token wins over the App; a wrong key fails the run without leaking the key; an
``app_id`` with no key configured fails with a clear error.
"""

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sync_pipelines.devtools.git_repos import CommitSpec, fast_import
from sync_pipelines.devtools.git_server import GitHttpServer
from sync_pipelines.github_app import GitHubAppAuth, GitHubAppError
from sync_pipelines.resources.git import GitResource
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.github_helpers import (
    create_github_source,
    document_keys,
    new_repo,
    run_github_sync,
)
from tests.test_sync_pipelines.outbound_helpers import GIT_HOST, https_git_host

APP_ID = "123456"
INSTALLATION_ID = 4242
INSTALLATION_TOKEN = "ghs_installationTokenFromFakeApi"


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeGitHubApi:
    """GitHub's installation lookup and token endpoints, verifying the App JWT."""

    def __init__(self, public_key: rsa.RSAPublicKey, repositories: set[str]) -> None:
        self.public_key = public_key
        self.repositories = repositories
        self.token_lifetime = timedelta(hours=1)
        self.posts = 0
        self.gets = 0
        self.claims: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeGitHubApi":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def verify(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        try:
            claims = jwt.decode(
                header.removeprefix("Bearer "),
                self.public_key,
                algorithms=["RS256"],
                issuer=APP_ID,
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.PyJWTError:
            return False
        self.claims.append(claims)
        return bool(claims["exp"] - claims["iat"] <= 600)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                api.gets += 1
                if not api.verify(self.headers.get("Authorization")):
                    return self._reply(401, {"message": "A JSON web token could not be decoded"})
                repo = self.path.removeprefix("/repos/").removesuffix("/installation")
                if repo not in api.repositories:
                    return self._reply(404, {"message": "Not Found"})
                self._reply(200, {"id": INSTALLATION_ID, "app_id": int(APP_ID)})

            def do_POST(self) -> None:
                if not api.verify(self.headers.get("Authorization")):
                    return self._reply(401, {"message": "A JSON web token could not be decoded"})
                if self.path != f"/app/installations/{INSTALLATION_ID}/access_tokens":
                    return self._reply(404, {"message": "Not Found"})
                api.posts += 1
                expires = datetime.now(UTC) + api.token_lifetime
                self._reply(
                    201,
                    {
                        "token": INSTALLATION_TOKEN,
                        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    },
                )

        return Handler


@pytest.fixture
def fake_api(app_key: rsa.RSAPrivateKey) -> Iterator[FakeGitHubApi]:
    with FakeGitHubApi(app_key.public_key(), {"octo/private"}) as api:
        yield api


def test_installation_token_is_minted_with_a_valid_jwt_and_cached(
    fake_api: FakeGitHubApi, app_key: rsa.RSAPrivateKey
) -> None:
    auth = GitHubAppAuth(APP_ID, _pem(app_key), fake_api.url)
    before = int(time.time())

    assert auth.installation_token("octo/private") == INSTALLATION_TOKEN
    assert auth.installation_token("octo/private") == INSTALLATION_TOKEN

    assert (fake_api.gets, fake_api.posts) == (1, 1)
    claims = fake_api.claims[0]
    assert claims["iss"] == APP_ID
    assert abs(claims["iat"] - (before - 60)) <= 1
    assert claims["exp"] - claims["iat"] == 600


def test_token_expiring_within_five_minutes_is_minted_again(
    fake_api: FakeGitHubApi, app_key: rsa.RSAPrivateKey
) -> None:
    fake_api.token_lifetime = timedelta(minutes=4)
    auth = GitHubAppAuth(APP_ID, _pem(app_key), fake_api.url)

    auth.installation_token("octo/private")
    auth.installation_token("octo/private")

    assert fake_api.posts == 2


def test_errors_name_the_repository_and_status_never_the_key(
    fake_api: FakeGitHubApi, app_key: rsa.RSAPrivateKey
) -> None:
    other_pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(GitHubAppError) as wrong:
        GitHubAppAuth(APP_ID, other_pem, fake_api.url).installation_token("octo/private")
    assert "octo/private" in str(wrong.value) and "401" in str(wrong.value)
    assert other_pem.splitlines()[1] not in str(wrong.value)

    with pytest.raises(GitHubAppError) as missing:
        GitHubAppAuth(APP_ID, _pem(app_key), fake_api.url).installation_token("octo/absent")
    assert "octo/absent" in str(missing.value) and "404" in str(missing.value)

    with pytest.raises(GitHubAppError, match="valid RSA PEM key") as garbage:
        GitHubAppAuth(APP_ID, "not a key", fake_api.url).installation_token("octo/private")
    assert "not a key" not in str(garbage.value)
    assert fake_api.posts == 0


def test_a_silent_api_times_out_with_a_clear_error(app_key: rsa.RSAPrivateKey) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        auth = GitHubAppAuth(APP_ID, _pem(app_key), url, timeout=(0.5, 0.5))
        started = time.monotonic()
        with pytest.raises(GitHubAppError, match=r"repository octo/private: .*timed out"):
            auth.installation_token("octo/private")
    assert time.monotonic() - started < 5


def test_token_for_prefers_the_stored_token_and_reads_a_key_file(
    fake_api: FakeGitHubApi, app_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(_pem(app_key))
    source = create_github_source("https://github.com", "octo/private", app_id=APP_ID)
    git = GitResource(
        default_token="default",
        github_api_url=fake_api.url,
        github_app_private_key_file=str(key_file),
    )

    assert git.token_for(source, "stored") == "stored"
    assert git.token_for(source, None) == INSTALLATION_TOKEN
    plain = create_github_source("https://github.com", "octo/plain")
    assert git.token_for(plain, None) == "default"


def _app_env(monkeypatch: pytest.MonkeyPatch, api_url: str, pem: str | None) -> None:
    monkeypatch.setenv("CHROMA_SYNC_GITHUB_API_URL", api_url)
    if pem is None:
        monkeypatch.delenv("CHROMA_SYNC_GITHUB_APP_PRIVATE_KEY", raising=False)
    else:
        monkeypatch.setenv("CHROMA_SYNC_GITHUB_APP_PRIVATE_KEY", pem)
    get_settings.cache_clear()


def _failure(result: dg.ExecuteInProcessResult) -> str:
    event = next(e for e in result.all_events if e.is_step_failure)
    data = event.step_failure_data
    if data.user_failure_data is not None:
        return data.user_failure_data.description or ""
    return data.error.message if data.error else ""


def test_app_source_syncs_a_private_repository_with_one_minted_token(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    app_key: rsa.RSAPrivateKey,
) -> None:
    served = tmp_path / "served"
    repo, name = new_repo(served)
    fast_import(repo, [CommitSpec({"private.md": "# Private\n\nApp only.\n"})])
    with (
        FakeGitHubApi(app_key.public_key(), {name}) as api,
        https_git_host(monkeypatch, served, tmp_path / "certs", INSTALLATION_TOKEN) as git,
    ):
        source = create_github_source(f"https://{GIT_HOST}:{git.port}", name, app_id=APP_ID)
        _app_env(monkeypatch, api.url, _pem(app_key))

        assert run_github_sync(source, {"branch": "main"}).success
        assert run_github_sync(source, {"branch": "main"}, "again").success

        assert api.posts == 1
        assert document_keys() == {"private.md"} == document_keys("again")


def test_app_token_is_never_sent_to_another_host(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    app_key: rsa.RSAPrivateKey,
) -> None:
    served = tmp_path / "served"
    repo, name = new_repo(served)
    fast_import(repo, [CommitSpec({"private.md": "# Private\n"})])
    with (
        FakeGitHubApi(app_key.public_key(), {name}) as api,
        GitHttpServer(served) as elsewhere,
    ):
        _app_env(monkeypatch, api.url, _pem(app_key))
        source = create_github_source(f"http://127.0.0.1:{elsewhere.port}", name, app_id=APP_ID)
        result = run_github_sync(source, {"branch": "main"})

    assert not result.success
    assert "App tokens are sent only to https://github.com" in _failure(result)
    assert api.posts == 0 and elsewhere.requests == []


def test_wrong_key_fails_the_run_naming_the_repository_not_the_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    app_key: rsa.RSAPrivateKey,
) -> None:
    served = tmp_path / "served"
    _, name = new_repo(served)
    wrong_pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with FakeGitHubApi(app_key.public_key(), {name}) as api:
        source = create_github_source("https://github.com", name, app_id=APP_ID)
        _app_env(monkeypatch, api.url, wrong_pem)

        result = run_github_sync(source, {"branch": "main"})

    assert not result.success
    description = _failure(result)
    assert name in description and "401" in description
    assert wrong_pem.splitlines()[1] not in description
    assert api.posts == 0


def test_app_id_without_a_configured_key_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHROMA_SYNC_GITHUB_APP_PRIVATE_KEY_FILE", raising=False)
    _app_env(monkeypatch, "http://127.0.0.1:9", None)
    source = create_github_source("https://github.com", "octo/nokey", app_id=APP_ID)

    result = run_github_sync(source, {"branch": "main"})

    assert not result.success
    description = _failure(result)
    assert "octo/nokey" in description and "no App private key configured" in description
