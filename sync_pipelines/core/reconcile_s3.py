"""Which S3 objects a reconcile re-syncs: the bucket listing against the collection."""

from collections.abc import Mapping


def plan_s3_reconcile(
    bucket: Mapping[str, str], stored: Mapping[str, str], *, prefix: str = ""
) -> list[str]:
    """Return the object keys whose chunks differ from the bucket, sorted.

    Args:
        bucket: Object key to ETag (unquoted) of every object under ``prefix``.
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
