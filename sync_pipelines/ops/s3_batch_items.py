"""The records a batch run keeps per invocation and for the whole run."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync_pipelines.catalog import InvocationRecord
from sync_pipelines.core.batch_writer import DocumentWrite
from sync_pipelines.ops.documents import ChunkedDocument


@dataclass
class BatchItem:
    """One claimed invocation on its way through the batch."""

    record: InvocationRecord
    uri: str
    started_at: datetime
    chunked: ChunkedDocument | None = None
    error: str | None = None
    big: bool = False


@dataclass
class BatchReport:
    """What a batch did (the op's output metadata)."""

    ok: int = 0
    failed: int = 0
    chunks_written: int = 0
    chunks_skipped: int = 0
    chunks_deleted: int = 0
    embed_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass
class Opened:
    """A target collection opened for the batch (or why it could not be)."""

    collection: Any = None
    embed: Any = None
    max_batch: int = 0
    reason: str | None = None
    ingest_marked: bool = False


def write_of(chunked: ChunkedDocument | None) -> DocumentWrite:
    """The grouped-write input of a chunked document."""
    assert chunked is not None
    return DocumentWrite(chunked.records, chunked.document_key, chunked.custom_id)
