"""Read objects of one S3 source: the source, its credential and client resolved once.

Shared by the single-object job and the batch job. :meth:`S3SourceReader.fetch` is thread-safe
(boto3 clients are), so a batch fetches several objects at once. Only "no such key" (HEAD 404)
says an object is gone; any other S3 error propagates and fails the invocation, deleting nothing.
"""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sync_pipelines.catalog import Catalog
from sync_pipelines.core.deletion_policy import s3_object_gone
from sync_pipelines.ops.documents import FetchedDocument, SyncTarget, failure
from sync_pipelines.outbound.s3_guard import refusal_in
from sync_pipelines.resources.s3 import S3AccessRefused, SyncS3Resource
from sync_pipelines.schemas import S3SourceConfig, Source, to_chunking_options


class S3SourceError(Exception):
    """The source cannot be read at all; ``reason`` says why (no object named)."""

    def __init__(self, reason: str) -> None:
        """Keep the reason for per-object error texts."""
        super().__init__(reason)
        self.reason = reason


def is_missing(exc: ClientError) -> bool:
    """Whether an S3 error says the object does not exist (``core/deletion_policy.py``)."""
    return s3_object_gone(exc)


@dataclass(frozen=True)
class ObjectHead:
    """What HEAD said about an object: its size, ETag (quoted, as S3 sends it) and type."""

    key: str
    size: int
    etag: str
    content_type: str | None = None


DOWNLOAD_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class S3SourceReader:
    """An S3 source with its client, ready to fetch objects.

    Attributes:
        source: The source.
        client: A boto3 S3 client with the source's endpoint, region and credential.
    """

    source: Source
    client: Any

    @classmethod
    def open(cls, store: Catalog, s3: SyncS3Resource, source_id: str) -> "S3SourceReader":
        """Resolve the source, its stored credential and a client.

        Raises:
            S3SourceError: ``source_id`` is not a UUID or names no S3 source, or the source may
                not use the credentials it needs.
        """
        try:
            source = store.get_source(uuid.UUID(source_id))
        except ValueError as exc:
            raise S3SourceError(f"source_id {source_id!r} is not a UUID") from exc
        if source is None or source.s3 is None:
            raise S3SourceError(f"no S3 source {source_id}")
        try:
            return cls(source=source, client=s3.client_for_source(store, source))
        except S3AccessRefused as exc:
            raise S3SourceError(str(exc)) from None

    @property
    def config(self) -> S3SourceConfig:
        """The source's S3 settings."""
        assert self.source.s3 is not None
        return self.source.s3

    def uri(self, object_key: str) -> str:
        """``s3://bucket/key``, the name errors use."""
        return f"s3://{self.config.bucket_name}/{object_key}"

    def target(self, target_collection: str | None) -> SyncTarget:
        """Where this source's objects go (``target_collection`` overrides the source's)."""
        return SyncTarget(
            source_id=str(self.source.id),
            database_name=self.source.database_name,
            collection_name=target_collection or self.config.collection_name,
            chunking=to_chunking_options(self.source.chunking, self.source.embedding_model.model),
            embedding_model=self.source.embedding_model.model,
        )

    def fetch(
        self,
        object_key: str,
        *,
        custom_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        target_collection: str | None = None,
        max_object_bytes: int,
        log: Callable[[str], None] | None = None,
    ) -> FetchedDocument:
        """Download one object, checking the path prefix and size cap first.

        Args:
            object_key: Full object key.
            custom_id: Custom chunk-id prefix, if any.
            metadata: Extra chunk metadata.
            target_collection: Collection override.
            max_object_bytes: Larger objects fail before download.
            log: Where to report progress (``None``: silent).

        Returns:
            The document; ``data`` is ``None`` when the object no longer exists.

        Raises:
            dg.Failure: Not retryable, naming the object: outside the path prefix, or too big.
            botocore.exceptions.ClientError: Any other S3 error (retryable or not).
        """
        head = self.head(object_key, max_object_bytes=max_object_bytes)
        return self.fetch_head(
            object_key,
            head,
            custom_id=custom_id,
            metadata=metadata,
            target_collection=target_collection,
            log=log,
        )

    def head(self, object_key: str, *, max_object_bytes: int) -> ObjectHead | None:
        """HEAD one object, checking the path prefix and the size cap.

        Returns:
            Its size and ETag, or ``None`` when S3 says it does not exist.

        Raises:
            dg.Failure: Not retryable, naming the object: outside the path prefix, too big, or
                the endpoint is refused by the outbound policy.
            botocore.exceptions.ClientError: Any S3 error other than "no such key".
        """
        config = self.config
        uri = self.uri(object_key)
        if config.path_prefix and not object_key.startswith(config.path_prefix):
            raise failure(
                uri, f"object key is outside the source's path prefix {config.path_prefix!r}"
            )
        try:
            head = self.client.head_object(Bucket=config.bucket_name, Key=object_key)
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
        except BotoCoreError as exc:
            refusal = refusal_in(exc)
            if refusal is not None:
                raise failure(uri, f"refused by the outbound policy: {refusal}") from None
            raise
        size = int(head["ContentLength"])
        if size > max_object_bytes:
            raise failure(uri, f"object is {size} bytes, over the {max_object_bytes}-byte size cap")
        return ObjectHead(object_key, size, str(head["ETag"]), head.get("ContentType"))

    def fetch_head(
        self,
        object_key: str,
        head: ObjectHead | None,
        *,
        custom_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        target_collection: str | None = None,
        log: Callable[[str], None] | None = None,
    ) -> FetchedDocument:
        """Download an object :meth:`head` described into memory (``None``: it is gone)."""
        uri = self.uri(object_key)
        common: dict[str, Any] = {
            "target": self.target(target_collection),
            "uri": uri,
            "document_key": object_key,
            "custom_id": custom_id,
            "extra_metadata": dict(metadata or {}),
        }
        if head is None:
            if log is not None:
                log(f"{uri} no longer exists: its chunks will be removed")
            return FetchedDocument(version_key=None, data=None, **common)
        body = self.client.get_object(
            Bucket=self.config.bucket_name, Key=object_key, IfMatch=head.etag
        )
        data: bytes = body["Body"].read()
        etag = str(body["ETag"]).strip('"')
        if log is not None:
            log(f"{uri}: {len(data)} bytes, ETag {etag}")
        return FetchedDocument(
            version_key=etag, data=data, content_type=body.get("ContentType"), **common
        )

    def download(self, head: ObjectHead, path: Path) -> ObjectHead:
        """Stream the object HEAD described into ``path`` (never whole in memory).

        Returns:
            What the GET answered: size written, ETag and content type.

        Raises:
            botocore.exceptions.ClientError: Any S3 error (``PreconditionFailed``: the object
                changed since the HEAD).
        """
        body = self.client.get_object(
            Bucket=self.config.bucket_name, Key=head.key, IfMatch=head.etag
        )
        size = 0
        with path.open("wb") as file:
            for block in body["Body"].iter_chunks(DOWNLOAD_BLOCK):
                file.write(block)
                size += len(block)
        return ObjectHead(head.key, size, str(body["ETag"]), body.get("ContentType"))
