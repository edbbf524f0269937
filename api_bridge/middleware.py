"""``ApiGuard``: the ASGI middleware in front of every route.

For ``/api/`` paths it authenticates ``x-chroma-token`` before anything else is read (401), and
for every path but the streamed upload it buffers the body up to the configured limit (413
above it, checked on ``Content-Length`` first). It is also the last line of defence: an
unexpected exception is logged and answered with a 500 ``ErrorResponse`` carrying no traceback.
"""

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_bridge.auth import TOKEN_HEADER, TOKEN_SCOPE_KEY, TokenAuthenticator
from api_bridge.errors import (
    ApiError,
    PayloadTooLargeError,
    UnauthenticatedError,
    api_error_response,
    error_response,
    logger,
)
from sync_pipelines.catalog.tokens import ApiToken

PROTECTED_PREFIX = "/api/"


class ApiGuard:
    """Authenticate ``/api/`` requests, cap request bodies, and turn crashes into 500s."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticate: TokenAuthenticator,
        max_body_bytes: int,
        streamed_paths: frozenset[str] = frozenset(),
    ) -> None:
        """Wrap ``app``.

        Args:
            app: The application.
            authenticate: Maps a token secret to its active token, or ``None``; fresh cache
                hits are answered on the event loop, lookups run in the thread pool.
            max_body_bytes: Largest body accepted on paths other than ``streamed_paths``.
            streamed_paths: Paths whose bodies are streamed by their route (which enforces its
                own limits).
        """
        self.app = app
        self.authenticate = authenticate
        self.max_body_bytes = max_body_bytes
        self.streamed_paths = streamed_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            headers = Headers(scope=scope)
            if scope["path"].startswith(PROTECTED_PREFIX):
                scope[TOKEN_SCOPE_KEY] = await self._authenticate(headers)
            if scope["path"] not in self.streamed_paths:
                receive = await self._buffer_body(headers, receive)
            await self.app(scope, receive, tracking_send)
        except ApiError as exc:
            if not started:
                await api_error_response(exc)(scope, receive, send)
        except Exception:
            logger.exception("unexpected error serving %s %s", scope["method"], scope["path"])
            if not started:
                response = error_response(500, "InternalError", "internal server error")
                await response(scope, receive, send)

    async def _authenticate(self, headers: Headers) -> ApiToken:
        secret = headers.get(TOKEN_HEADER)
        if not secret:
            raise UnauthenticatedError(f"missing {TOKEN_HEADER} header")
        token = self.authenticate.cached(secret)
        if token is None:
            token = await run_in_threadpool(self.authenticate, secret)
        if token is None:
            raise UnauthenticatedError(f"invalid {TOKEN_HEADER}")
        return token

    async def _buffer_body(self, headers: Headers, receive: Receive) -> Receive:
        too_large = PayloadTooLargeError(
            f"request body is larger than the {self.max_body_bytes}-byte limit"
        )
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay([], message, receive)
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                raise too_large
            chunks.append(body)
            if not message.get("more_body", False):
                break
        return _replay(chunks, None, receive)


def _replay(chunks: list[bytes], pending: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that first yields the buffered body (or message), then delegates."""
    first: list[Message] = [pending] if pending is not None else []
    if pending is None:
        first = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

    async def replay() -> Message:
        if first:
            return first.pop()
        return await receive()

    return replay
