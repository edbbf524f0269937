"""Plain data types shared by the parsing, chunking and upsert steps."""

from dataclasses import dataclass
from typing import Literal

ChunkStrategy = Literal["tree_sitter", "lines"]

DEFAULT_MAX_SIZE_BYTES = 1500
DEFAULT_MAX_LINES = 50


@dataclass(frozen=True)
class ParsedDocument:
    """Text extracted from one source object, ready to chunk.

    Attributes:
        text: The document text (UTF-8 decoded; HTML already turned into markdown).
        language: Language name used to pick a chunker (``"python"``, ``"markdown"``, ...),
            or ``None`` for plain text.
    """

    text: str
    language: str | None


@dataclass(frozen=True)
class ChunkingOptions:
    """How to chunk a document (the core form of the spec's ``SourceChunkingConfig``).

    Attributes:
        strategy: ``tree_sitter`` (syntax-aware) or ``lines``.
        max_size_bytes: Upper bound on a chunk's UTF-8 size.
        max_lines: Upper bound on a chunk's line count (``lines`` strategy only).
    """

    strategy: ChunkStrategy = "tree_sitter"
    max_size_bytes: int = DEFAULT_MAX_SIZE_BYTES
    max_lines: int = DEFAULT_MAX_LINES


@dataclass(frozen=True)
class Chunk:
    """One chunk of a document.

    Attributes:
        text: The chunk's text, a contiguous slice of whole lines of the document
            (a single over-long line may be split inside the line).
        start_line: 1-based first line of the chunk in the document.
        end_line: 1-based last line of the chunk, inclusive.
    """

    text: str
    start_line: int
    end_line: int
