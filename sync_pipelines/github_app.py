"""GitHub App authentication: an App id and private key turned into an installation token.

The App signs a short RS256 JWT, looks up its installation on the repository
(``GET /repos/{owner}/{repo}/installation``) and mints an installation access token
(``POST /app/installations/{id}/access_tokens``). Tokens are cached per installation until
five minutes before they expire. Errors name the repository and the HTTP status, never the
key, the JWT or a token.
"""

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import requests

DEFAULT_API_URL = "https://api.github.com"
REFRESH_MARGIN_S = 300.0
TIMEOUT_S = (10.0, 30.0)
_API_VERSION = "2022-11-28"

T = TypeVar("T")


class GitHubAppError(Exception):
    """An installation token could not be obtained (the message is safe to show)."""


@dataclass(frozen=True)
class _Cached:
    token: str
    refresh_at: float


class GitHubAppAuth:
    """Installation tokens of one GitHub App.

    Args:
        app_id: The App's id (the JWT's ``iss``).
        private_key_pem: The App's RSA private key, PEM text.
        api_url: The REST API root (GitHub Enterprise: ``https://HOST/api/v3``).
        http: The session requests go through; default a new one.
        timeout: ``(connect, read)`` seconds allowed to every request.
    """

    def __init__(
        self,
        app_id: str,
        private_key_pem: str,
        api_url: str = DEFAULT_API_URL,
        http: requests.Session | None = None,
        timeout: tuple[float, float] = TIMEOUT_S,
    ) -> None:
        self.app_id = app_id
        self.api_url = api_url.rstrip("/")
        self._key = private_key_pem
        self._http = http or requests.Session()
        self._timeout = timeout
        self._lock = threading.Lock()
        self._installations: dict[str, int] = {}
        self._tokens: dict[int, _Cached] = {}

    def __repr__(self) -> str:
        return f"GitHubAppAuth(app_id={self.app_id!r}, api_url={self.api_url!r})"

    def installation_token(self, repository: str) -> str:
        """Return an installation token that can read ``repository`` (``owner/repo``).

        Raises:
            GitHubAppError: The repository name is not ``owner/repo``, the key is unusable,
                GitHub refused (401, 404, ...) or did not answer in time.
        """
        parts = repository.split("/")
        if len(parts) != 2 or not all(parts):
            raise GitHubAppError(f"repository {repository!r} is not 'owner/repo'")
        with self._lock:
            installation = self._installations.get(repository)
            if installation is None:
                got = self._request(
                    "GET", f"/repos/{quote(parts[0])}/{quote(parts[1])}/installation", repository
                )
                installation = _field(got, "id", int, repository)
                self._installations[repository] = installation
            cached = self._tokens.get(installation)
            if cached is not None and time.time() < cached.refresh_at:
                return cached.token
            try:
                got = self._request(
                    "POST", f"/app/installations/{installation}/access_tokens", repository
                )
            except GitHubAppError:
                self._installations.pop(repository, None)
                raise
            token = _field(got, "token", str, repository)
            expires = _expiry(_field(got, "expires_at", str, repository), repository)
            self._tokens[installation] = _Cached(token, expires - REFRESH_MARGIN_S)
            return token

    def _jwt(self) -> str:
        import jwt  # with cryptography: only processes that mint tokens need them

        now = int(time.time())
        claims = {"iat": now - 60, "exp": now + 540, "iss": self.app_id}
        try:
            return jwt.encode(claims, self._key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise GitHubAppError(
                f"GitHub App {self.app_id}: the private key is not a valid RSA PEM key"
            ) from exc

    def _request(self, method: str, path: str, repository: str) -> dict[str, Any]:
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._jwt()}",
            "X-GitHub-Api-Version": _API_VERSION,
        }
        where = f"GitHub App {self.app_id}, repository {repository}"
        try:
            response = self._http.request(
                method, self.api_url + path, headers=headers, timeout=self._timeout
            )
        except requests.Timeout as exc:
            raise GitHubAppError(f"{where}: {method} {path} timed out") from exc
        except requests.RequestException as exc:
            raise GitHubAppError(f"{where}: {method} {path} failed ({type(exc).__name__})") from exc
        status = response.status_code
        if status == 401:
            raise GitHubAppError(
                f"{where}: GitHub rejected the App JWT (HTTP 401); check the app id and key"
            )
        if status == 404:
            raise GitHubAppError(
                f"{where}: not found (HTTP 404); is the App installed on the repository?"
            )
        if not 200 <= status < 300:
            raise GitHubAppError(f"{where}: {method} {path} returned HTTP {status}")
        try:
            body = response.json()
        except ValueError as exc:
            raise GitHubAppError(f"{where}: {method} {path} returned no JSON") from exc
        if not isinstance(body, dict):
            raise GitHubAppError(f"{where}: {method} {path} returned no JSON object")
        return body


def _field(body: dict[str, Any], name: str, kind: type[T], repository: str) -> T:
    value = body.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise GitHubAppError(f"repository {repository}: GitHub's answer has no valid {name!r}")
    return value


def _expiry(value: str, repository: str) -> float:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise GitHubAppError(
            f"repository {repository}: GitHub's answer has no valid 'expires_at'"
        ) from exc


_registry: dict[tuple[str, str, str], GitHubAppAuth] = {}
_registry_lock = threading.Lock()


def app_auth(app_id: str, private_key_pem: str, api_url: str = DEFAULT_API_URL) -> GitHubAppAuth:
    """Return the process-wide :class:`GitHubAppAuth` of an App, so its token cache is shared."""
    key = (app_id, api_url.rstrip("/"), hashlib.sha256(private_key_pem.encode()).hexdigest())
    with _registry_lock:
        auth = _registry.get(key)
        if auth is None:
            auth = _registry[key] = GitHubAppAuth(app_id, private_key_pem, api_url)
        return auth
