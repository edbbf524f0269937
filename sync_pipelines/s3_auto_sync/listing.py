"""S3 calls of the auto-sync sensor: one ListObjectsV2 page, one sidecar read, the client."""

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sync_pipelines.catalog import Catalog
from sync_pipelines.resources.s3 import SyncS3Resource
from sync_pipelines.schemas import Source

PAGE_SIZE = 1000
"""Keys per ListObjectsV2 page (the S3 maximum)."""

SENSOR_MAX_ATTEMPTS = 2
"""Attempts per S3 call from the sensor: a broken source must not hold up the others."""

_MISSING = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class ListedObject:
    """One object of a listing page.

    Attributes:
        key: The full object key.
        etag: Its ETag without quotes.
        size: Its size in bytes.
    """

    key: str
    etag: str
    size: int


@dataclass(frozen=True)
class ListedPage:
    """One ListObjectsV2 page.

    Attributes:
        objects: The page's objects in key order.
        truncated: Whether more keys follow.
    """

    objects: list[ListedObject]
    truncated: bool

    @property
    def last_key(self) -> str | None:
        """The page's last key (the next page's ``StartAfter``), or ``None`` if empty."""
        return self.objects[-1].key if self.objects else None


def strip_etag(etag: object) -> str:
    """An ETag as S3 sends it (quoted) without its quotes."""
    return str(etag).strip('"')


def list_page(
    client: Any, bucket: str, prefix: str | None, after: str | None, page_size: int = PAGE_SIZE
) -> ListedPage:
    """List one page of ``bucket`` under ``prefix``, starting after the key ``after``.

    Args:
        client: A boto3 S3 client.
        bucket: Bucket name.
        prefix: Only keys starting with it (``None``: all keys).
        after: List keys sorting after this one (``None``: from the start).
        page_size: Keys per page (at most 1,000).

    Returns:
        The page.

    Raises:
        botocore.exceptions.ClientError: S3 refused (missing bucket, bad credentials...).
        botocore.exceptions.BotoCoreError: S3 could not be reached.
    """
    kwargs: dict[str, Any] = {"Bucket": bucket, "MaxKeys": page_size}
    if prefix:
        kwargs["Prefix"] = prefix
    if after is not None:
        kwargs["StartAfter"] = after
    answer = client.list_objects_v2(**kwargs)
    objects = [
        ListedObject(key=str(o["Key"]), etag=strip_etag(o.get("ETag", "")), size=int(o["Size"]))
        for o in answer.get("Contents", [])
    ]
    return ListedPage(objects=objects, truncated=bool(answer.get("IsTruncated")) and bool(objects))


def read_sidecar(client: Any, bucket: str, key: str, max_bytes: int) -> tuple[bytes, str] | None:
    """Read at most ``max_bytes + 1`` bytes of a sidecar (so an oversized one is detectable).

    Args:
        client: A boto3 S3 client.
        bucket: Bucket name.
        key: The sidecar's key.
        max_bytes: The sidecar size cap.

    Returns:
        The bytes read and the ETag of what was read, or ``None`` when the object is gone.

    Raises:
        botocore.exceptions.ClientError: S3 refused for another reason than a missing key.
    """
    try:
        answer = client.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) in _MISSING:
            return None
        raise
    body = answer["Body"]
    try:
        data: bytes = body.read(max_bytes + 1)
    finally:
        body.close()
    return data, strip_etag(answer.get("ETag", ""))


def client_for_source(s3: SyncS3Resource, catalog: Catalog, source: Source) -> Any:
    """A (cached) boto3 client for the sensor: the source's settings, few retries.

    Args:
        s3: The S3 resource (server-wide endpoint and region).
        catalog: The catalog holding the source's credential.
        source: An S3 source.

    Returns:
        A boto3 S3 client.
    """
    return s3.client_for_source(catalog, source, max_attempts=SENSOR_MAX_ATTEMPTS)
