"""Which S3 objects a reconcile re-syncs: the bucket listing against the collection.

A reconcile removes chunks only for keys a *complete* listing no longer has
(:mod:`sync_pipelines.core.deletion_policy`): :func:`list_bucket` raises
:class:`TransientSourceError` on any list error or a listing that ends early, so nothing is
planned from a partial listing.
"""

from collections.abc import Mapping
from typing import Any

from sync_pipelines.core.deletion_policy import TransientSourceError, s3_error_cause


def list_bucket(client: Any, bucket: str, prefix: str = "") -> dict[str, str]:
    """List every object under ``prefix``: key to ETag (unquoted).

    Args:
        client: A boto3 S3 client.
        bucket: The bucket.
        prefix: The key prefix ("" for the whole bucket).

    Raises:
        TransientSourceError: ``s3://bucket/prefix`` and the cause: a list request failed,
            or a truncated page carried no continuation token.
    """
    location = f"s3://{bucket}/{prefix}"
    objects: dict[str, str] = {}
    token: str | None = None
    while True:
        args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if token:
            args["ContinuationToken"] = token
        try:
            page = client.list_objects_v2(**args)
        except Exception as exc:  # botocore's ClientError, connection and parse errors
            raise TransientSourceError(location, f"listing failed: {s3_error_cause(exc)}") from exc
        for item in page.get("Contents", []):
            objects[item["Key"]] = str(item.get("ETag", "")).strip('"')
        if not page.get("IsTruncated"):
            return objects
        token = page.get("NextContinuationToken")
        if not token:
            raise TransientSourceError(location, "listing truncated without a continuation token")


def plan_s3_reconcile(
    bucket: Mapping[str, str], stored: Mapping[str, str], *, prefix: str = ""
) -> list[str]:
    """Return the object keys whose chunks differ from the bucket, sorted.

    Args:
        bucket: Object key to ETag (unquoted) of every object under ``prefix``, from a
            complete listing (:func:`list_bucket`).
        stored: Document key to ``version_key`` (the ETag last synced) of the collection.
        prefix: The source's path prefix; stored documents outside it are left alone.

    Returns:
        Keys that are new or changed in the bucket (folder markers excluded), and keys the
        collection holds under ``prefix`` that the bucket no longer has (their sync removes
        the chunks).
    """
    changed = {
        key for key, etag in bucket.items() if not key.endswith("/") and stored.get(key) != etag
    }
    vanished = {key for key in stored if key.startswith(prefix) and key not in bucket}
    return sorted(changed | vanished)
