"""Chunk identity and metadata rules (NOTES.md, "Chunk identity and metadata").

A chunk id is ``{prefix}-{i}`` where the prefix is the lowercase sha256 hex of the document key
(the S3 object key, the file path, or the normalised URL) or, for S3 invocations that give one,
the ``custom_id``. Every chunk carries the standard metadata keys; the invocation's own metadata
is merged on top and may not overwrite a standard key.

Chunks record the version of the chunker that cut them (``chunker_version``; chunks written
before the key existed were cut by version 1), so that a sync treats a document chunked by
another version as changed and rewrites it once, and its context (``chunk_context``, see
:mod:`~sync_pipelines.core.chunking.context`), which is embedded before the text but not part
of the stored document.
"""

import bisect
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from sync_pipelines.core.types import Chunk, Location, embedded_text

MetadataScalar: TypeAlias = str | int | float | bool
MetadataValue: TypeAlias = MetadataScalar | list[str] | list[int] | list[float] | list[bool]
Metadata: TypeAlias = dict[str, MetadataValue]

CHUNKER_VERSION_KEY = "chunker_version"
CONTEXT_KEY = "chunk_context"

CHUNKER_VERSION = 2
"""Version of the chunker whose chunks :func:`build_records` labels.

Version 2 bounds chunks by the embedding model's token budget and gives them their context
(:func:`~sync_pipelines.core.chunking.budgets.default_chunking_options`). Bump it whenever the
chunks the ops produce change: every sync then rewrites each document chunked by another
version once (read at call time, so tests may patch it).
"""

STANDARD_METADATA_KEYS: frozenset[str] = frozenset(
    {
        "document_key",
        "document_key_sha256",
        "version_key",
        "version_key_sha256",
        "start_line",
        "end_line",
        "language",
        "chunk_strategy",
        "custom_id",
        CHUNKER_VERSION_KEY,
        CONTEXT_KEY,
        "start_page",
        "end_page",
        "sheet",
        "end_sheet",
    }
)


class ReservedMetadataKeyError(ValueError):
    """Invocation metadata tried to overwrite standard chunk metadata."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = sorted(keys)
        super().__init__(
            "metadata keys are reserved for standard chunk metadata: " + ", ".join(self.keys)
        )


def chunker_version(metadata: Mapping[str, object] | None) -> int:
    """The chunker version a stored chunk's metadata records (1 when it records none)."""
    value = (metadata or {}).get(CHUNKER_VERSION_KEY)
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def chunked_by_current(metadata: Mapping[str, object] | None) -> bool:
    """Whether a stored chunk was cut by the current :data:`CHUNKER_VERSION`."""
    return chunker_version(metadata) == CHUNKER_VERSION


def version_metadata() -> Metadata:
    """The ``chunker_version`` entry of new chunks (none for version 1, as version 1 wrote)."""
    return {CHUNKER_VERSION_KEY: CHUNKER_VERSION} if CHUNKER_VERSION != 1 else {}


def sha256_hex(text: str) -> str:
    """Return the lowercase hex sha256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_id_prefix(document_key: str, custom_id: str | None = None) -> str:
    """Return the id prefix shared by every chunk of one document.

    Args:
        document_key: Object key, file path or normalised URL.
        custom_id: Optional S3 custom id; replaces the hashed key when given.

    Returns:
        ``custom_id`` when given, else ``sha256_hex(document_key)``.
    """
    return custom_id if custom_id else sha256_hex(document_key)


def check_extra_metadata(extra: Mapping[str, object] | None) -> None:
    """Refuse invocation metadata that would overwrite a standard key.

    Raises:
        ReservedMetadataKeyError: Naming every offending key.
    """
    if not extra:
        return
    clash = [key for key in extra if key in STANDARD_METADATA_KEYS]
    if clash:
        raise ReservedMetadataKeyError(clash)


@dataclass(frozen=True)
class ChunkRecord:
    """One row to write to Chroma: id, document text and metadata."""

    id: str
    document: str
    metadata: Metadata = field(default_factory=dict)

    @property
    def context(self) -> str | None:
        """The chunk's context (metadata ``chunk_context``), if any."""
        value = self.metadata.get(CONTEXT_KEY)
        return value if isinstance(value, str) else None

    @property
    def embedded_text(self) -> str:
        """The text to embed: the context (when any) on its own line, then the document."""
        return embedded_text(self.document, self.context)


def build_records(
    chunks: Sequence[Chunk],
    *,
    document_key: str,
    version_key: str,
    chunk_strategy: str,
    language: str | None = None,
    custom_id: str | None = None,
    extra_metadata: Mapping[str, MetadataValue] | None = None,
    locations: Sequence[Location] = (),
) -> list[ChunkRecord]:
    """Turn a document's chunks into Chroma records with ids and standard metadata.

    Args:
        chunks: The document's chunks in order.
        document_key: Object key, file path or normalised URL.
        version_key: ETag, git blob sha, or sha256 of the page text.
        chunk_strategy: ``tree_sitter`` or ``lines`` (the strategy actually used).
        language: Language of the document, when known.
        custom_id: S3 custom id; becomes the id prefix and a metadata key.
        extra_metadata: Invocation metadata merged on top of the standard keys.
        locations: The document's pages, slides or sheets
            (:attr:`~sync_pipelines.core.types.ParsedDocument.locations`).

    Returns:
        One record per chunk, ids ``{prefix}-{i}`` from 0, labelled with
        :data:`CHUNKER_VERSION`, each chunk's context and where it lies
        (:meth:`Locator.metadata`).

    Raises:
        ReservedMetadataKeyError: When ``extra_metadata`` names a standard key.
    """
    check_extra_metadata(extra_metadata)
    prefix = chunk_id_prefix(document_key, custom_id)
    base: Metadata = {
        "document_key": document_key,
        "document_key_sha256": sha256_hex(document_key),
        "version_key": version_key,
        "version_key_sha256": sha256_hex(version_key),
        "chunk_strategy": chunk_strategy,
        **version_metadata(),
    }
    if language:
        base["language"] = language
    if custom_id:
        base["custom_id"] = custom_id
    if extra_metadata:
        base.update(extra_metadata)
    where = Locator(locations)
    return [
        ChunkRecord(
            id=f"{prefix}-{i}",
            document=chunk.text,
            metadata={
                **base,
                "start_line": chunk.start_line,
                "end_line": chunk.end_line,
                **({CONTEXT_KEY: chunk.context} if chunk.context else {}),
                **where.metadata(chunk.start_line, chunk.end_line),
            },
        )
        for i, chunk in enumerate(chunks)
    ]


class Locator:
    """Finds where chunks lie among a document's pages, slides or sheets."""

    def __init__(self, locations: Sequence[Location]) -> None:
        self._locations = list(locations)
        self._lines = [location.line for location in self._locations]

    def at(self, line: int) -> Location | None:
        """The last location starting at or before ``line`` (the first, for earlier lines)."""
        if not self._locations:
            return None
        index = bisect.bisect_right(self._lines, line) - 1
        return self._locations[max(index, 0)]

    def metadata(self, start_line: int, end_line: int) -> Metadata:
        """Location metadata of a chunk of lines ``start_line..end_line``.

        Returns:
            ``start_page``/``end_page`` (PDF pages, slides) and ``sheet`` (the sheet the
            chunk starts in) with ``end_sheet`` when it ends in another; empty without
            locations.
        """
        first, last = self.at(start_line), self.at(end_line)
        metadata: Metadata = {}
        if first is None or last is None:
            return metadata
        if first.page is not None and last.page is not None:
            metadata["start_page"] = first.page
            metadata["end_page"] = last.page
        if first.sheet is not None:
            metadata["sheet"] = first.sheet
            if last.sheet is not None and last.sheet != first.sheet:
                metadata["end_sheet"] = last.sheet
        return metadata


def owned_by(chunk_id: str, prefix: str) -> bool:
    """Tell whether ``chunk_id`` is one of the ``{prefix}-{i}`` ids of a document."""
    head, sep, tail = chunk_id.rpartition("-")
    return bool(sep) and head == prefix and tail.isdigit()
