"""Plain data types shared by the parsing, chunking and upsert steps."""

from dataclasses import dataclass
from typing import Literal

ChunkStrategy = Literal["tree_sitter", "lines"]

DEFAULT_MAX_SIZE_BYTES = 1500
DEFAULT_MAX_LINES = 50

CONTEXT_SEPARATOR = "\n"
"""Joins a chunk's context to its text in the embedded text (no WordPiece token, one BPE byte)."""


@dataclass(frozen=True)
class Location:
    """Where in the original document a run of lines of its parsed text comes from.

    Attributes:
        line: 1-based first line of the parsed text this location applies to; it holds until
            the next location's line.
        page: 1-based page of a PDF, or slide of a presentation.
        sheet: Sheet name of a spreadsheet.
    """

    line: int
    page: int | None = None
    sheet: str | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """Text extracted from one source object, ready to chunk.

    Attributes:
        text: The document text (UTF-8 decoded; HTML and office documents already turned
            into markdown).
        language: Language name used to pick a chunker (``"python"``, ``"markdown"``, ...),
            or ``None`` for plain text.
        locations: Pages, slides or sheets of the original, in line order (empty for
            documents without any).
    """

    text: str
    language: str | None
    locations: tuple[Location, ...] = ()


@dataclass(frozen=True)
class ChunkingOptions:
    """How to chunk a document (the core form of the spec's ``SourceChunkingConfig``).

    The defaults are the byte-only chunker of chunker version 1; the ops build their options
    with :func:`~sync_pipelines.core.chunking.budgets.default_chunking_options`, which adds
    the embedding model's token budget and the context.

    Attributes:
        strategy: ``tree_sitter`` (syntax-aware) or ``lines``.
        max_size_bytes: Upper bound on a chunk's UTF-8 size.
        max_lines: Upper bound on a chunk's line count (``lines`` strategy only).
        max_tokens: Upper bound on the tokens of a chunk's embedded text (its context, the
            separator and its text), special tokens excluded; ``None``: no token bound.
        token_model: The embedding model whose tokenizer counts ``max_tokens`` (see
            :func:`~sync_pipelines.core.chunking.tokens.token_counter`); ``None`` counts
            UTF-8 bytes, a bound on any byte-level BPE.
        context: Give each ``tree_sitter`` chunk of code or markdown the enclosing
            definitions or heading path it starts inside (:attr:`Chunk.context`).
    """

    strategy: ChunkStrategy = "tree_sitter"
    max_size_bytes: int = DEFAULT_MAX_SIZE_BYTES
    max_lines: int = DEFAULT_MAX_LINES
    max_tokens: int | None = None
    token_model: str | None = None
    context: bool = False


def embedded_text(text: str, context: str | None) -> str:
    """The text embedded for a chunk: its context, a newline and its text (or the text alone)."""
    return f"{context}{CONTEXT_SEPARATOR}{text}" if context else text


@dataclass(frozen=True)
class Chunk:
    """One chunk of a document.

    Attributes:
        text: The chunk's text, a contiguous slice of whole lines of the document
            (a single over-long line may be split inside the line).
        start_line: 1-based first line of the chunk in the document.
        end_line: 1-based last line of the chunk, inclusive.
        context: What the chunk starts inside and does not itself begin: enclosing
            definitions (``class Client > def send``) or the heading path of a markdown
            section (``Guide > Install``); ``None`` at top level or without context.
    """

    text: str
    start_line: int
    end_line: int
    context: str | None = None

    @property
    def embedded_text(self) -> str:
        """The text to embed: the context (when any) on its own line, then the text."""
        return embedded_text(self.text, self.context)
