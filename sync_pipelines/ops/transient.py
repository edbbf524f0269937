"""Retrying transient S3 and Chroma errors inside an op, and naming what failed.

A batch run cannot lean on Dagster's op retries for one object among many: it retries each
object's fetch and each group's write itself, a few times with backoff, and turns what still
fails into the invocation's error text.
"""

import time
from collections.abc import Callable
from typing import TypeVar

import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError

from sync_pipelines.core.deletion_policy import s3_error_cause
from sync_pipelines.outbound.s3_guard import refusal_in

ATTEMPTS = 3
RETRY_DELAY_S = 0.5
TRANSIENT_S3_CODES = frozenset(
    {
        "InternalError",
        "PreconditionFailed",
        "RequestTimeout",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
    }
)

T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """Whether retrying may help: connection trouble, throttling, 5xx, a changed object."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return status >= 500 or str(error.get("Code", "")) in TRANSIENT_S3_CODES
    if refusal_in(exc) is not None:
        return False
    return isinstance(exc, BotoCoreError | OSError | TimeoutError)


def describe(uri: str, exc: BaseException) -> str:
    """The error text of an invocation: the document and the reason."""
    if isinstance(exc, dg.Failure) and exc.description:
        return exc.description
    if isinstance(exc, ClientError):
        return f"{uri}: {s3_error_cause(exc)}"
    refusal = refusal_in(exc)
    if refusal is not None:
        return f"{uri}: refused by the outbound policy: {refusal}"
    return f"{uri}: {type(exc).__name__}: {exc}"


def retrying(action: Callable[[], T], *, transient: Callable[[BaseException], bool]) -> T:
    """Run ``action``; retry it with backoff while it raises a transient error."""
    for attempt in range(ATTEMPTS):
        try:
            return action()
        except dg.Failure:
            raise
        except Exception as exc:
            if attempt + 1 == ATTEMPTS or not transient(exc):
                raise
            time.sleep(RETRY_DELAY_S * 2**attempt)
    raise AssertionError("unreachable")


def is_transient_write(exc: BaseException) -> bool:
    """Whether a Chroma or embedding error may pass on retry (not a refused argument)."""
    from chromadb.errors import (
        AuthorizationError,
        ChromaAuthError,
        DuplicateIDError,
        InvalidArgumentError,
        QuotaError,
    )

    refused = (
        ValueError,
        TypeError,
        KeyError,
        AuthorizationError,
        ChromaAuthError,
        DuplicateIDError,
        InvalidArgumentError,
        QuotaError,
    )
    return not isinstance(exc, refused)
