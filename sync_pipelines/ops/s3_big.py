"""Sync one big S3 object with bounded memory (objects over ``stream_object_bytes``).

The batch job's path for big objects: the object is downloaded to a temporary file, never
held in memory; text, markdown and other UTF-8 objects are chunked from the file line by line
(:func:`~sync_pipelines.core.chunking.stream.stream_chunks`), PDF and HTML are parsed whole
(they are under the size cap); the records then go through
:func:`~sync_pipelines.core.staged_writer.sync_document_staged`, which embeds them in groups
before writing anything, within the object's time and chunk budget.
"""

import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync_pipelines.core.chunking import chunk_document, strategy_used
from sync_pipelines.core.chunking.stream import stream_chunks
from sync_pipelines.core.parsing import (
    ParseError,
    check_text_file,
    detect_language,
    is_plain_text,
    parse_object,
    text_lines,
)
from sync_pipelines.core.records import (
    ChunkRecord,
    MetadataValue,
    ReservedMetadataKeyError,
    build_records,
    check_extra_metadata,
    chunk_id_prefix,
)
from sync_pipelines.core.staged_writer import Budget, OverBudgetError, sync_document_staged
from sync_pipelines.core.types import Chunk, ParsedDocument
from sync_pipelines.core.writer import WriteCounts
from sync_pipelines.ops.documents import SyncTarget, failure
from sync_pipelines.ops.s3_reader import S3SourceReader
from sync_pipelines.ops.transient import is_transient, is_transient_write, retrying


@dataclass(frozen=True)
class BigObject:
    """One big object to sync: where it goes and how its chunks are named."""

    key: str
    target: SyncTarget
    custom_id: str | None
    metadata: dict[str, MetadataValue]


class _RetryingCollection:
    """A collection whose reads and writes are retried on transient Chroma errors."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return retrying(lambda: self.collection.get(*args, **kwargs), transient=is_transient_write)

    def upsert(self, *args: Any, **kwargs: Any) -> Any:
        return retrying(
            lambda: self.collection.upsert(*args, **kwargs), transient=is_transient_write
        )

    def update(self, *args: Any, **kwargs: Any) -> Any:
        return retrying(
            lambda: self.collection.update(*args, **kwargs), transient=is_transient_write
        )

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return retrying(
            lambda: self.collection.delete(*args, **kwargs), transient=is_transient_write
        )


def sync_big_object(
    reader: S3SourceReader,
    big: BigObject,
    *,
    collection: Any,
    embed: Any,
    max_batch_size: int,
    max_object_bytes: int,
    budget: Budget,
) -> WriteCounts:
    """Download, chunk, embed and write one object in bounded memory.

    Returns:
        What was written; an object that is gone has its chunks deleted.

    Raises:
        dg.Failure: Not retryable, naming ``s3://bucket/key``: over the size cap or budget, not
            text, or reserved metadata keys.
        Exception: S3 and Chroma errors that retries did not cure.
    """
    uri = reader.uri(big.key)
    budget = Budget(budget.seconds, budget.max_chunks, time.monotonic())
    try:
        check_extra_metadata(big.metadata)
    except ReservedMetadataKeyError as exc:
        raise failure(uri, str(exc)) from exc
    with tempfile.TemporaryDirectory(prefix="chroma-sync-object-") as scratch:
        path = Path(scratch) / "object"

        def download() -> Any:
            head = reader.head(big.key, max_object_bytes=max_object_bytes)
            return None if head is None else reader.download(head, path)

        got = retrying(download, transient=is_transient)
        records: Iterator[ChunkRecord] = (
            iter(()) if got is None else _records(big, path, got.etag, got.content_type)
        )
        try:
            counts = sync_document_staged(
                _RetryingCollection(collection),
                records,
                document_key=big.key,
                custom_id=big.custom_id,
                embed=embed,
                max_batch_size=max_batch_size,
                budget=budget,
                scratch_dir=Path(scratch),
            )
        except OverBudgetError as exc:
            raise failure(uri, exc.reason) from exc
        except ParseError as exc:
            raise failure(uri, exc.reason) from exc
    if got is None and counts.deleted == 0:
        raise failure(uri, "object not found")
    return counts


def _records(
    big: BigObject, path: Path, etag: str, content_type: str | None
) -> Iterator[ChunkRecord]:
    """The object's records, chunked from the file as they are consumed."""
    with path.open("rb") as file:
        head = file.read(512)
    chunks: Iterator[Chunk]
    if not is_plain_text(big.key, head, content_type):
        doc = parse_object(big.key, path.read_bytes(), content_type)
        yield from build_records(
            chunk_document(doc, big.target.chunking),
            document_key=big.key,
            version_key=etag.strip('"'),
            chunk_strategy=strategy_used(doc, big.target.chunking),
            language=doc.language,
            custom_id=big.custom_id,
            extra_metadata=big.metadata,
            locations=doc.locations,
        )
        return
    check_text_file(big.key, path)
    language = detect_language(big.key)
    chunks = stream_chunks(text_lines(path), language, big.target.chunking)
    prefix = chunk_id_prefix(big.key, big.custom_id)
    strategy = strategy_used(ParsedDocument("", language), big.target.chunking)
    for i, chunk in enumerate(chunks):
        record = build_records(
            [chunk],
            document_key=big.key,
            version_key=etag.strip('"'),
            chunk_strategy=strategy,
            language=language,
            custom_id=big.custom_id,
            extra_metadata=big.metadata,
        )[0]
        yield ChunkRecord(f"{prefix}-{i}", record.document, record.metadata)
