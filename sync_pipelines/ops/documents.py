"""Source-independent steps: chunk a fetched document, then write it to Chroma.

Every source type's fetch op produces :class:`FetchedDocument`; the chunk and upsert ops here
are shared by all of them.
"""

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from sync_pipelines.core.records import (
    ChunkRecord,
    MetadataValue,
    ReservedMetadataKeyError,
    build_records,
)
from sync_pipelines.core.types import ChunkingOptions
from sync_pipelines.ops.progress import ProgressReporter
from sync_pipelines.ops.tracking import finish_invocation
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.schemas import InvocationProgress

NETWORK_RETRY = dg.RetryPolicy(
    max_retries=3, delay=0.5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


@dataclass(frozen=True)
class SyncTarget:
    """Where a document goes and how it is chunked and embedded."""

    source_id: str
    database_name: str
    collection_name: str
    chunking: ChunkingOptions
    embedding_model: str | None = None


@dataclass(frozen=True)
class FetchedDocument:
    """A document as fetched from its source.

    Attributes:
        target: Destination and chunking settings.
        uri: Human-readable location used in errors (``s3://bucket/key``).
        document_key: The key chunk ids derive from (object key, path or URL).
        version_key: ETag, blob sha or text hash; ``None`` when the document is gone.
        data: The raw bytes, or ``None`` when the document no longer exists.
        content_type: Content type reported by the source, if any.
        custom_id: S3 custom id, if any.
        extra_metadata: Invocation metadata merged into every chunk.
    """

    target: SyncTarget
    uri: str
    document_key: str
    version_key: str | None
    data: bytes | None
    content_type: str | None = None
    custom_id: str | None = None
    extra_metadata: dict[str, MetadataValue] = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkedDocument:
    """A document's chunk records, ready to write (``missing`` when the document is gone).

    ``language`` is the parsed document's language and ``size`` its byte count (for metadata).
    """

    target: SyncTarget
    uri: str
    document_key: str
    custom_id: str | None
    records: list[ChunkRecord]
    missing: bool
    language: str | None = None
    size: int = 0


def failure(uri: str, reason: str, **metadata: Any) -> dg.Failure:
    """A non-retryable failure whose description names the document and the reason."""
    return dg.Failure(
        description=f"{uri}: {reason}",
        metadata={"document": uri, **metadata},
        allow_retries=False,
    )


def chunk_fetched(fetched: FetchedDocument) -> ChunkedDocument:
    """Parse and chunk one fetched document, building chunk ids and metadata.

    Args:
        fetched: The document (``data`` ``None`` when it no longer exists).

    Returns:
        Its records, or an empty ``missing`` result for a document that is gone.

    Raises:
        dg.Failure: Not retryable, naming the document: it cannot be parsed, or its metadata
            would overwrite a standard key.
    """
    # Parsers and grammars load here, not at import: every Dagster process imports this module.
    from sync_pipelines.core.chunking import chunk_document, strategy_used
    from sync_pipelines.core.parsing import ParseError, parse_object

    if fetched.data is None:
        return ChunkedDocument(
            fetched.target, fetched.uri, fetched.document_key, fetched.custom_id, [], True
        )
    try:
        doc = parse_object(fetched.document_key, fetched.data, fetched.content_type)
        chunks = chunk_document(doc, fetched.target.chunking)
        records = build_records(
            chunks,
            document_key=fetched.document_key,
            version_key=fetched.version_key or "",
            chunk_strategy=strategy_used(doc, fetched.target.chunking),
            language=doc.language,
            custom_id=fetched.custom_id,
            extra_metadata=fetched.extra_metadata,
            locations=doc.locations,
        )
    except ParseError as exc:
        raise failure(fetched.uri, exc.reason) from exc
    except ReservedMetadataKeyError as exc:
        raise failure(fetched.uri, str(exc)) from exc
    return ChunkedDocument(
        fetched.target,
        fetched.uri,
        fetched.document_key,
        fetched.custom_id,
        records,
        False,
        language=doc.language,
        size=len(fetched.data),
    )


@dg.op(description="Parse the fetched document (PDF, HTML, text, code) and split it into chunks.")
def chunk_op(context: dg.OpExecutionContext, fetched: FetchedDocument) -> ChunkedDocument:
    """Parse and chunk one document, building chunk ids and metadata."""
    chunked = chunk_fetched(fetched)
    if not chunked.missing:
        context.add_output_metadata(
            {
                "document": chunked.uri,
                "bytes": chunked.size,
                "chunks": len(chunked.records),
                "language": chunked.language or "text",
            }
        )
    return chunked


def open_target(
    target: SyncTarget, uri: str, chroma: ChromaResource, embedder: EmbeddingResource
) -> tuple[Any, Any, int]:
    """Open a sync's collection and embedding function.

    Returns:
        The collection, the embedding function and the client's maximum batch size.

    Raises:
        dg.Failure: Not retryable, naming ``uri``: an unknown embedding model, a missing local
            model, or a name Chroma refuses.
    """
    from chromadb.errors import InvalidArgumentError

    from sync_pipelines.core.embedding import EmbeddingError

    try:
        embed = embedder.get_function(target.embedding_model)
        collection = chroma.get_collection(
            target.database_name,
            target.collection_name,
            embedding_function=embedder.collection_function(target.embedding_model),
        )
    except (EmbeddingError, InvalidArgumentError) as exc:
        raise failure(uri, str(exc)) from exc
    return collection, embed, chroma.get_client(target.database_name).get_max_batch_size()


@dg.op(
    description=(
        "Embed new or changed chunks and write them to the Chroma collection; delete chunks "
        "the document no longer has. Unchanged chunks are neither re-embedded nor rewritten."
    ),
    retry_policy=NETWORK_RETRY,
)
def upsert_op(
    context: dg.OpExecutionContext,
    chunked: ChunkedDocument,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> dict[str, int]:
    """Write one document's chunks into its collection, replacing what it held before."""
    from sync_pipelines.core.writer import sync_document

    target = chunked.target
    collection, embed, max_batch = open_target(target, chunked.uri, chroma, embedder)
    counts = sync_document(
        collection,
        chunked.records,
        document_key=chunked.document_key,
        custom_id=chunked.custom_id,
        embed=embed,
        max_batch_size=max_batch,
    )
    if chunked.missing and counts.deleted == 0:
        raise failure(chunked.uri, "object not found")
    collection.modify(metadata={**(collection.metadata or {}), "finished_ingest": True})
    ProgressReporter(context, catalog).report(
        InvocationProgress(unit="objects", done=1, total=1, chunks_written=counts.written),
        force=True,
    )
    finish_invocation(context, catalog)
    summary = {
        "chunks": counts.chunks,
        "chunks_written": counts.written,
        "chunks_metadata_updated": counts.metadata_updated,
        "chunks_skipped": counts.unchanged,
        "chunks_deleted": counts.deleted,
    }
    context.add_output_metadata(
        {
            **summary,
            "collection": f"{target.database_name}/{target.collection_name}",
            "embed_seconds": round(counts.embed_seconds, 3),
            "document_missing": chunked.missing,
        }
    )
    return summary
