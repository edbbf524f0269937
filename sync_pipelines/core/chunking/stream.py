"""Chunk a document from a stream of its lines, holding a bounded window in memory.

:func:`stream_chunks` gives exactly the chunks :func:`~sync_pipelines.core.chunking.chunk_document`
gives on the whole text, for ``lines`` chunking and plain text always and for markdown as long as
no stretch between two ATX headings (outside fenced code) exceeds :data:`MAX_HELD_CHARS`.

It reads lines into a window until the window holds :data:`WINDOW_CHARS` and the next line is a
safe cut (an ATX heading outside fenced code for markdown, any line for line windows), chunks the
window, and yields the chunks emitted before the last point where packing started afresh (see
:func:`~sync_pipelines.core.chunking.packing.pack_resumable`): packing is greedy from left to
right, so those chunks are final whatever follows. The rows from that point on are chunked again
with the next window. A window that grows past :data:`MAX_HELD_CHARS` without a safe cut is
chunked as if the document ended there (a valid chunking, possibly cut differently from the
whole-text one at that point). Source code needs its whole syntax tree and is chunked whole.
A markdown window starts with the headings open where the previous one left off, so chunks
keep their heading path across windows.
"""

import sys
from collections.abc import Iterable, Iterator

from sync_pipelines.core.chunking import chunk_document, strategy_used
from sync_pipelines.core.chunking.lines import chunk_lines
from sync_pipelines.core.chunking.markdown import (
    Headings,
    chunk_markdown_resumable,
    fence_after,
    is_atx_heading,
)
from sync_pipelines.core.chunking.packing import Packed
from sync_pipelines.core.types import Chunk, ChunkingOptions, ParsedDocument

WINDOW_CHARS = 1024 * 1024
"""Characters a window holds before it is chunked (at the next safe cut)."""

MAX_HELD_CHARS = 8 * 1024 * 1024
"""Characters a window may grow to without a safe cut before it is chunked regardless."""


class _Chunker:
    """Chunks one window; markdown windows also carry the headings open where they start."""

    def __init__(self, markdown: bool, max_lines: int, options: ChunkingOptions) -> None:
        self.markdown = markdown
        self.max_lines = max_lines
        self.options = options
        self.headings: Headings = ()
        self._opened: list[Headings] = []

    def __call__(self, text: str) -> Packed:
        if not self.markdown:
            return _lines_packed(text, self.max_lines, self.options)
        packed, self._opened = chunk_markdown_resumable(text, self.options, self.headings)
        return packed

    def advance(self, rows: int) -> None:
        """The next window starts ``rows`` rows into the one just chunked."""
        if self.markdown:
            self.headings = self._opened[rows]


def stream_chunks(
    lines: Iterable[str], language: str | None, options: ChunkingOptions
) -> Iterator[Chunk]:
    """Chunk a document given as its lines, in document order.

    Args:
        lines: The document's lines, as splitting its text on LF gives them (no line ends).
        language: The document's language (as for :class:`ParsedDocument`).
        options: Strategy and limits.

    Yields:
        The chunks in document order, line numbers relative to the whole document.
    """
    strategy = strategy_used(ParsedDocument("", language), options)
    if strategy == "lines":
        max_lines = options.max_lines if options.strategy == "lines" else sys.maxsize
        yield from _windows(lines, _Chunker(False, max_lines, options))
    elif language == "markdown":
        yield from _windows(lines, _Chunker(True, sys.maxsize, options))
    else:
        yield from chunk_document(ParsedDocument("\n".join(lines), language), options)


def _lines_packed(text: str, max_lines: int, options: ChunkingOptions) -> Packed:
    chunks = chunk_lines(text, max_lines, options)
    if not chunks:
        return Packed(chunks, text.count("\n") + 1, 0)
    resume = chunks[-1].start_line
    final = sum(1 for chunk in chunks if chunk.start_line < resume)
    return Packed(chunks, resume - 1, final)


def _windows(lines: Iterable[str], chunker: _Chunker) -> Iterator[Chunk]:
    markdown = chunker.markdown
    window: list[str] = []
    base = 0  # document row of window[0]
    size = 0
    fence: str | None = None
    for line in lines:
        safe = not markdown or (fence is None and is_atx_heading(line))
        if window and size >= WINDOW_CHARS and (safe or size >= MAX_HELD_CHARS):
            packed = chunker("\n".join(window))
            keep, done = packed.resume_row, packed.chunks[: packed.final]
            if not safe or (keep == 0 and size >= MAX_HELD_CHARS):
                keep, done = len(window), packed.chunks
                fence = None  # the next window is chunked as a document of its own
            yield from _shifted(done, base)
            chunker.advance(keep)
            window = window[keep:]
            base += keep
            size = sum(len(row) + 1 for row in window)
        if markdown:
            fence = fence_after(fence, line)
        window.append(line)
        size += len(line) + 1
    if window:
        yield from _shifted(chunker("\n".join(window)).chunks, base)


def _shifted(chunks: list[Chunk], base: int) -> Iterator[Chunk]:
    for chunk in chunks:
        yield Chunk(chunk.text, chunk.start_line + base, chunk.end_line + base, chunk.context)
