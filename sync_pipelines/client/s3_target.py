"""Which S3 ``chroma-sync s3`` talks to, its boto3 client, and S3 errors as one line each.

By default the commands reach the S3 that the home's server gives S3 sources without keys:
the local SeaweedFS of a ``chroma-sync serve --with-s3`` running on the home (its endpoint is
in ``<home>/serve.json``; its keys are the fixed development keys), else
``CHROMA_SYNC_S3_ENDPOINT_URL`` with the AWS keys of the environment, else AWS itself.
``--endpoint-url``, ``--access-key`` and ``--secret-key`` override each part.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sync_pipelines.devtools.local_s3 import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from sync_pipelines.serve_record import live_record, record_path
from sync_pipelines.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3CommandError(Exception):
    """A problem the user can act on; ``str()`` is the one line printed after ``error:``."""


@dataclass(frozen=True)
class S3Target:
    """An S3 endpoint and the keys to use on it (None: boto3's own lookup, e.g. environment).

    Attributes:
        endpoint_url: The endpoint; None is AWS.
        access_key: Access key id, or None.
        secret_key: Secret access key, or None.
        region: Region for signing (and for ``mb`` on AWS).
        origin: Where the endpoint came from, for messages.
    """

    endpoint_url: str | None
    access_key: str | None
    secret_key: str | None
    region: str
    origin: str

    @property
    def where(self) -> str:
        """The endpoint as messages name it."""
        return f"S3 at {self.endpoint_url}" if self.endpoint_url else "AWS S3"


def resolve_target(
    settings: Settings,
    *,
    home: Path | None = None,
    endpoint_url: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str = "us-east-1",
) -> S3Target:
    """Pick the endpoint and keys (the module docstring gives the order).

    Args:
        settings: The process settings (home, ``CHROMA_SYNC_S3_ENDPOINT_URL``).
        home: The home whose ``serve.json`` is read (default: the settings' home).
        endpoint_url: ``--endpoint-url``.
        access_key: ``--access-key``.
        secret_key: ``--secret-key``.
        region: ``--region``.

    Returns:
        The target; keys left None are found by boto3 (``AWS_ACCESS_KEY_ID``...).
    """
    folder = (home or settings.home_dir).expanduser()
    record = live_record(folder)
    served = record.s3_endpoint if record is not None else None
    if endpoint_url:
        origin = "--endpoint-url"
    elif served:
        endpoint_url, origin = served, f"the serve of {record_path(folder)}"
    elif settings.s3_endpoint_url:
        endpoint_url, origin = settings.s3_endpoint_url, "CHROMA_SYNC_S3_ENDPOINT_URL"
    else:
        origin = "AWS (no serve --with-s3 on this home, CHROMA_SYNC_S3_ENDPOINT_URL unset)"
    if served and endpoint_url == served and not (access_key or secret_key):
        access_key, secret_key = LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
    return S3Target(endpoint_url, access_key, secret_key, region, origin)


def make_client(target: S3Target) -> "S3Client":
    """A boto3 S3 client for ``target`` (path-style addressing off AWS, few retries)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": "path"} if target.endpoint_url else {},
    )
    return boto3.client(
        "s3",
        endpoint_url=target.endpoint_url,
        aws_access_key_id=target.access_key,
        aws_secret_access_key=target.secret_key,
        region_name=target.region,
        config=config,
    )


def split_s3_url(text: str) -> tuple[str, str]:
    """``s3://BUCKET/KEY``, ``BUCKET/KEY`` or ``BUCKET`` as ``(bucket, key)`` (key may be "").

    Raises:
        S3CommandError: No bucket name.
    """
    bucket, _, key = text.removeprefix("s3://").partition("/")
    if not bucket:
        raise S3CommandError(f"{text!r}: expected s3://BUCKET[/KEY] or BUCKET[/KEY]")
    return bucket, key


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` (``NoSuchBucket``, ``404``...), else ""."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str((response.get("Error") or {}).get("Code") or "")


_KEY_CODES = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403")


def explain(exc: BaseException, target: S3Target, bucket: str | None) -> str:
    """One line for a boto3/botocore error: what went wrong and what to do."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        ParamValidationError,
        PartialCredentialsError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError

    code = error_code(exc)
    if isinstance(exc, BotoConnectionError):
        hint = (
            "is `chroma-sync serve --with-s3` still running?"
            if "serve" in target.origin
            else "start `chroma-sync serve --with-s3`, or pass --endpoint-url"
        )
        return f"cannot reach {target.where} (from {target.origin}): {hint}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            f"no S3 keys for {target.where} (from {target.origin}): pass --access-key and "
            "--secret-key, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if code in ("NoSuchBucket", "404", "NotFound") and bucket is not None:
        return (
            f"bucket {bucket!r} does not exist on {target.where} "
            f"(create it with: chroma-sync s3 mb {bucket})"
        )
    if code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
        return f"bucket {bucket!r} already exists on {target.where}"
    if code in _KEY_CODES:
        return f"{target.where} refused the keys ({code}): check --access-key / --secret-key"
    if isinstance(exc, ParamValidationError):
        return " ".join(str(exc).split())
    if isinstance(exc, ClientError):
        message = (exc.response.get("Error") or {}).get("Message") or code
        return f"{target.where}: {message} ({code})"
    if isinstance(exc, S3UploadFailedError | BotoCoreError):
        return f"{target.where}: {' '.join(str(exc).split())}"
    return f"{target.where}: {exc}"


@contextmanager
def s3_errors(target: S3Target, bucket: str | None = None) -> Iterator[None]:
    """Turn boto3/botocore errors raised in the block into :class:`S3CommandError`."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error) as exc:
        raise S3CommandError(explain(exc, target, bucket)) from None


def serve_banner(endpoint_url: str, access_key: str, secret_key: str, home: Path) -> list[str]:
    """The S3 lines of ``serve --with-s3``'s banner: endpoint, both keys, a first command.

    Printing the secret is deliberate: the development server's keys are fixed constants
    (:data:`~sync_pipelines.devtools.local_s3.LOCAL_SECRET_KEY`), it listens on 127.0.0.1 only.
    """
    default_home = Path("~/.chroma-sync").expanduser().resolve()
    on_home = "" if home.expanduser().resolve() == default_home else f" --home {home}"
    return [
        f"  S3          {endpoint_url} (data in {home / 's3'})",
        f"              access key {access_key}, secret key {secret_key} (fixed development",
        "              keys; the API and Dagster use them for S3 sources that carry none)",
        f"              create a bucket with: chroma-sync s3 mb docs{on_home}",
    ]
