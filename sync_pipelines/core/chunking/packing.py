"""Greedy packing of consecutive row ranges into size-bounded chunks.

Syntax-aware chunkers describe a document as a sequence of :class:`Span` (row ranges that
should stay together, e.g. one function or one markdown section) that tile the document.
:func:`pack` merges neighbouring spans while they fit a chunk (byte cap and token budget,
:meth:`~sync_pipelines.core.chunking.lines.LineIndex.fits`); a span too big on its own is
replaced by the finer spans its ``expand`` callback returns (a class by its methods, a section
by its paragraphs) or, when there is nothing finer, cut into line windows. The
pieces of an expanded span are packed among themselves only, so a chunk never mixes part of
a big class with the code around it; inside an expanded span, the rows before an expanded
child (a class's header line) may join the child's first piece.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sync_pipelines.core.chunking.lines import LineIndex
from sync_pipelines.core.types import Chunk

T = TypeVar("T")


@dataclass(frozen=True)
class Span(Generic[T]):
    """A range of rows that should stay in one chunk if it fits.

    Attributes:
        start: First row (0-based).
        end: Last row, inclusive.
        item: What the span covers, handed back to the ``expand`` callback.
    """

    start: int
    end: int
    item: T


Expand = Callable[[Span[T]], Sequence[Span[T]]]


def pack(index: LineIndex, spans: Sequence[Span[T]], expand: Expand[T]) -> list[Chunk]:
    """Pack spans that tile a row range into chunks that fit ``index``'s bounds.

    Args:
        index: The document's lines.
        spans: Consecutive, non-overlapping spans in document order.
        expand: Returns the finer spans tiling an over-sized span, or an empty sequence
            when it has none; the finer spans must cover exactly the span's rows.

    Returns:
        The chunks in document order.
    """
    return pack_resumable(index, spans, expand).chunks


@dataclass(frozen=True)
class Packed:
    """The chunks of :func:`pack_resumable` and where packing last started afresh.

    Attributes:
        chunks: The chunks in document order.
        resume_row: First row of the last top-level span at which packing held nothing
            (nothing before it could still merge with what follows).
        final: How many chunks were emitted before ``resume_row``: packing more rows after
            the last span would emit exactly these first, then what packing from
            ``resume_row`` alone gives.
    """

    chunks: list[Chunk]
    resume_row: int
    final: int


def pack_resumable(index: LineIndex, spans: Sequence[Span[T]], expand: Expand[T]) -> Packed:
    """:func:`pack`, also reporting the last top-level point where packing started afresh."""
    chunks: list[Chunk] = []
    current: tuple[int, int] | None = None
    pending: list[Span[T] | None] = list(reversed(spans))
    depth = 0
    resume_row, final = (spans[0].start if spans else 0), 0
    while pending:
        span = pending.pop()
        if span is None:
            depth -= 1
            if current is not None:
                chunks.extend(index.emit(*current))
            current = None
            continue
        if index.fits(span.start, span.end):
            if current is not None and index.fits(current[0], span.end):
                current = (current[0], span.end)
                continue
            if current is not None:
                chunks.extend(index.emit(*current))
            current = (span.start, span.end)
            if depth == 0:
                resume_row, final = span.start, len(chunks)
            continue
        finer = expand(span) if span.start < span.end else ()
        if current is not None and (depth == 0 or not finer):
            chunks.extend(index.emit(*current))
            current = None
        if depth == 0:
            resume_row, final = span.start, len(chunks)
        if finer:
            depth += 1
            pending.append(None)
            pending.extend(reversed(finer))
        else:
            chunks.extend(index.emit(span.start, span.end))
    if current is not None:
        chunks.extend(index.emit(*current))
    return Packed(chunks, resume_row, final)
