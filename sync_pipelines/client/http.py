"""A small typed client of the Sync API (the hosted service's paths and ``x-chroma-token``).

Bodies are returned as the JSON the server sent (``Source`` and ``Job`` objects as described in
``sync_pipelines/spec/sync.openapi.patched.json``), so fields a newer server adds pass through.
Every non-2xx answer raises :class:`ApiError` carrying the ``ErrorResponse``; a server that
cannot be reached raises :class:`ServerUnreachableError`.
"""

from typing import Any, Final

import requests

DEFAULT_URL: Final = "http://127.0.0.1:8080"
TOKEN_HEADER: Final = "x-chroma-token"
TERMINAL_STATUSES: Final = frozenset({"complete", "failed", "cancelled"})

Json = dict[str, Any]


class ClientError(Exception):
    """Base of the errors this client raises; ``str()`` is one line for the user."""


class ApiError(ClientError):
    """The server answered with an error status and (usually) an ``ErrorResponse`` body."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        """Keep the HTTP status and the body's ``error`` kind and ``message``."""
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.kind = kind
        self.message = message


class ServerUnreachableError(ClientError):
    """No answer from the server (refused, unknown host, timeout)."""


def status_word(job: Json) -> str:
    """The plain word of a ``Job``'s externally tagged status (``complete``, ``failed``...)."""
    status = job.get("status")
    if isinstance(status, dict) and status:
        return str(next(iter(status)))
    return str(status)


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class SyncClient:
    """The Sync API at ``base_url``, authenticated with ``token``.

    Example:
        client = SyncClient("http://127.0.0.1:8080", token)
        source_id = client.create_source({"database_name": "db", "web_scrape": {...}})
        job_id = client.create_invocation(source_id, {"target_collection_name": "docs"})
    """

    def __init__(self, base_url: str, token: str | None, *, timeout: float = 30.0) -> None:
        """Open a session; the token is sent on every request and never shown."""
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        if token:
            self._session.headers[TOKEN_HEADER] = token

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.base_url + path
        try:
            response = self._session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError as exc:
            raise ServerUnreachableError(
                f"cannot connect to {self.base_url}: connection refused or host unreachable "
                "(is `chroma-sync serve` running? set --url or CHROMA_SYNC_URL)"
            ) from exc
        except requests.Timeout as exc:
            raise ServerUnreachableError(
                f"{self.base_url} did not answer within {self.timeout:.0f} s"
            ) from exc
        except requests.RequestException as exc:
            raise ServerUnreachableError(f"request to {url} failed: {exc}") from exc
        if response.status_code >= 400:
            raise _api_error(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, "InvalidResponse", "not a JSON answer") from exc

    def health(self) -> Json:
        """``GET /health`` (no token needed); a 503 raises :class:`ApiError`."""
        body: Json = self._json("GET", "/health")
        return body

    def create_source(self, body: Json) -> str:
        """``POST /api/v1/sources``; returns the new ``source_id``."""
        return str(self._json("POST", "/api/v1/sources", json=body)["source_id"])

    def list_sources(
        self,
        *,
        source_type: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        order_by: str | None = None,
    ) -> list[Json]:
        """``GET /api/v1/sources``: the token's database's sources."""
        params = _clean(
            {"source_type": source_type, "limit": limit, "offset": offset, "order_by": order_by}
        )
        sources: list[Json] = self._json("GET", "/api/v1/sources", params=params)
        return sources

    def get_source(self, source_id: str) -> Json:
        """``GET /api/v1/sources/{id}``."""
        source: Json = self._json("GET", f"/api/v1/sources/{source_id}")
        return source

    def delete_source(self, source_id: str) -> None:
        """``DELETE /api/v1/sources/{id}`` (its pending invocations are cancelled)."""
        self._request("DELETE", f"/api/v1/sources/{source_id}")

    def create_invocation(self, source_id: str, body: Json) -> str:
        """``POST /api/v1/sources/{id}/invocations``; returns the new ``invocation_id``."""
        path = f"/api/v1/sources/{source_id}/invocations"
        return str(self._json("POST", path, json=body)["invocation_id"])

    def list_invocations(
        self,
        *,
        source_id: str | None = None,
        status: str | None = None,
        source_type: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
        order_by: str | None = None,
    ) -> list[Json]:
        """``GET /api/v1/invocations``: of one source, or of the token's database."""
        params = _clean(
            {
                "source_id": source_id,
                "status": status,
                "source_type": source_type,
                "limit": limit,
                "offset": offset,
                "order_by": order_by,
            }
        )
        jobs: list[Json] = self._json("GET", "/api/v1/invocations", params=params)
        return jobs

    def get_invocation(self, invocation_id: str) -> Json:
        """``GET /api/v1/invocations/{id}``."""
        job: Json = self._json("GET", f"/api/v1/invocations/{invocation_id}")
        return job

    def cancel_invocation(self, invocation_id: str) -> None:
        """``PUT /api/v1/invocations/{id}``: cancel a pending invocation (412 once it runs)."""
        self._request("PUT", f"/api/v1/invocations/{invocation_id}")


def _api_error(response: requests.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return ApiError(response.status_code, str(body.get("error", "")), body["message"])
    text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    return ApiError(response.status_code, "", text or response.reason or "error")
