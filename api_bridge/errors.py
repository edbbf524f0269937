"""Domain errors of the API and the one set of handlers that turns errors into ``ErrorResponse``.

Every error answer is ``{"error": "<kind>", "message": "<human text>"}``. Route code raises an
:class:`ApiError` subclass; FastAPI's request validation errors become 400 (never 422) naming
the offending field; Starlette's own HTTP errors (unknown path, wrong method) keep their status
with our body; anything unexpected is logged and answered 500 without a traceback.
"""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("api_bridge")

_LOCATIONS = ("body", "query", "path", "header", "cookie")


class ApiError(Exception):
    """Base of the errors the API answers with; ``status_code`` and ``kind`` shape the reply."""

    status_code = 500
    kind = "InternalError"

    def __init__(self, message: str) -> None:
        """Keep the human-readable message that goes into the body."""
        super().__init__(message)
        self.message = message


class BadRequestError(ApiError):
    """400: the request is malformed or breaks a rule; the message names the field."""

    status_code = 400
    kind = "InvalidArgumentError"

    def __init__(self, field: str, message: str) -> None:
        """Build ``"<field>: <message>"``."""
        super().__init__(f"{field}: {message}")
        self.field = field


class UnauthenticatedError(ApiError):
    """401: no ``x-chroma-token`` or one that does not authenticate."""

    status_code = 401
    kind = "UnauthenticatedError"


class ForbiddenError(ApiError):
    """403: the token is valid but lacks the role or the database."""

    status_code = 403
    kind = "PermissionDeniedError"


class NotFoundError(ApiError):
    """404: absent, or not visible to the token's database."""

    status_code = 404
    kind = "NotFoundError"


class ConflictError(ApiError):
    """409: an active invocation already targets the same collection (and key)."""

    status_code = 409
    kind = "AlreadyExistsError"


class PreconditionFailedError(ApiError):
    """412: the invocation is no longer pending."""

    status_code = 412
    kind = "FailedPreconditionError"


class PayloadTooLargeError(ApiError):
    """413: the body or the uploaded file is over its limit."""

    status_code = 413
    kind = "PayloadTooLargeError"


class TooManyRequestsError(ApiError):
    """429: too many uploads are running at once."""

    status_code = 429
    kind = "ResourceExhaustedError"


def error_response(status_code: int, kind: str, message: str) -> JSONResponse:
    """Build an ``ErrorResponse`` answer."""
    return JSONResponse({"error": kind, "message": message}, status_code=status_code)


def api_error_response(exc: ApiError) -> JSONResponse:
    """Build the answer for a domain error."""
    return error_response(exc.status_code, exc.kind, exc.message)


SOURCE_TYPE_HINT = "a source type key is one of github, s3, web_scrape"


def describe_validation_errors(errors: Sequence[Any], *, top_level_hint: str = "") -> str:
    """Turn pydantic/FastAPI validation errors into ``"<field>: <problem>"`` lines (max 3).

    Args:
        errors: The errors pydantic or FastAPI reported.
        top_level_hint: Added to an unknown top-level body field's message, e.g. the valid
            source type keys (a mistyped ``s3`` is such a field).
    """
    parts: list[str] = []
    for error in list(errors)[:3]:
        loc = [str(p) for p in error.get("loc", ())]
        if loc and loc[0] in _LOCATIONS:
            where = loc[0]
            loc = loc[1:]
        else:
            where = "body"
        if error.get("type") == "json_invalid":
            ctx = error.get("ctx") or {}
            parts.append(f"body: invalid JSON ({ctx.get('error', 'decode error')})")
            continue
        field = ".".join(loc) if loc else where
        if where in ("query", "path", "header"):
            field = f"{field} ({where})"
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
            if top_level_hint and where == "body" and len(loc) == 1:
                message += f" ({top_level_hint})"
        parts.append(f"{field}: {message}")
    return "; ".join(parts) or "body: invalid request"


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return api_error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    creates_source = request.method == "POST" and request.url.path.rstrip("/") == "/api/v1/sources"
    hint = SOURCE_TYPE_HINT if creates_source else ""
    message = describe_validation_errors(exc.errors(), top_level_hint=hint)
    return error_response(400, BadRequestError.kind, message)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    kinds = {400: BadRequestError.kind, 404: NotFoundError.kind, 413: PayloadTooLargeError.kind}
    kind = kinds.get(exc.status_code, "HttpError")
    response = error_response(exc.status_code, kind, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that map every error to an ``ErrorResponse``.

    Unexpected exceptions are caught by :class:`api_bridge.middleware.ApiGuard`, which logs
    them and answers 500.
    """
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
