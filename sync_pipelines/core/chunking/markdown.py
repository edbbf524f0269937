"""Heading-aware chunking of markdown.

The document is cut into sections at ATX (``#``) and setext (``===``/``---`` underline)
headings, ignoring anything inside fenced code blocks. Sections are packed together up to the
size cap; a section too big on its own is cut into blocks (paragraphs separated by blank
lines, a fenced code block kept whole, a heading line on its own), and a block that is still
too big is cut into line windows. With ``context`` on, a chunk carries the heading path of
the section it starts in (the headings above it that it does not itself begin with).
"""

import re
from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

from sync_pipelines.core.chunking.context import join_context
from sync_pipelines.core.chunking.lines import LineIndex
from sync_pipelines.core.chunking.packing import Packed, Span, pack_resumable
from sync_pipelines.core.types import Chunk, ChunkingOptions

Kind = Literal["section", "block"]
Headings = tuple[tuple[int, str], ...]
"""Open headings as ``(level, title)``, outermost first."""

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]|$)")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_NOT_PARAGRAPH = re.compile(r"^ {0,3}(?:[-+*>|]|\d+[.)])(?:[ \t]|$)|^(?: {4}|\t)")
_ATX_CLOSING = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")


def chunk_markdown(text: str, options: ChunkingOptions) -> list[Chunk]:
    """Chunk markdown along its headings.

    Args:
        text: The markdown text.
        options: Byte cap, token budget and whether chunks get their heading path.

    Returns:
        The chunks in document order.
    """
    return chunk_markdown_resumable(text, options)[0].chunks


def chunk_markdown_resumable(
    text: str, options: ChunkingOptions, headings: Headings = ()
) -> tuple[Packed, list[Headings]]:
    """:func:`chunk_markdown`, also saying from which row chunking may resume (streaming).

    Args:
        text: The markdown text (or a window of it, starting at a heading).
        options: Byte cap, token budget and whether chunks get their heading path.
        headings: The headings open where ``text`` starts.

    Returns:
        The packing, and the headings open before each row (one more entry for the end).
    """
    lines = text.split("\n")
    layout = _Layout(lines)
    opened = layout.open_headings(lines, headings)
    contexts = None
    if options.context:
        paths = {path: join_context([title for _, title in path]) for path in set(opened)}
        contexts = [paths[path] for path in opened[:-1]]
    index = LineIndex(text, options, contexts)
    starts = [row for row in range(len(index)) if layout.heading_start[row]]
    spans = _tile(starts, 0, len(index) - 1, "section")
    return pack_resumable(index, spans, layout.expand), opened


class _Layout:
    """Which rows are fenced code, and where headings and blocks start."""

    def __init__(self, lines: Sequence[str]) -> None:
        count = len(lines)
        self.fenced = [False] * count
        self.fence_open = [False] * count
        self.heading_start = [False] * count
        self.heading_end = [False] * count
        fence: str | None = None
        for row, line in enumerate(lines):
            match = _FENCE.match(line)
            if fence is not None:
                self.fenced[row] = True
                if match and self._closes(fence, match.group(1), line):
                    fence = None
                continue
            if match:
                fence = match.group(1)
                self.fenced[row] = self.fence_open[row] = True
                continue
            if _ATX_HEADING.match(line):
                self.heading_start[row] = self.heading_end[row] = True
            elif row > 0 and _SETEXT_UNDERLINE.match(line) and self._paragraph(lines, row - 1):
                self.heading_start[row - 1] = self.heading_end[row] = True
        self.blank = [not line.strip() for line in lines]

    def open_headings(self, lines: Sequence[str], headings: Headings) -> list[Headings]:
        """The headings open before each row (a heading is open below its own line)."""
        opened: list[Headings] = []
        for row, line in enumerate(lines):
            opened.append(headings)
            if not self.heading_start[row]:
                continue
            if _ATX_HEADING.match(line):
                marks = line.lstrip(" ")
                level = len(marks) - len(marks.lstrip("#"))
                title = _ATX_CLOSING.sub("", marks.lstrip("#")).strip()
            else:
                underline = lines[row + 1].strip()
                level, title = (1 if underline.startswith("=") else 2), line.strip()
            headings = (*(h for h in headings if h[0] < level), (level, title))
        opened.append(headings)
        return opened

    @staticmethod
    def _closes(fence: str, marker: str, line: str) -> bool:
        same_kind = marker[0] == fence[0] and len(marker) >= len(fence)
        return same_kind and not line.strip().lstrip(fence[0])

    def _paragraph(self, lines: Sequence[str], row: int) -> bool:
        line = lines[row]
        return bool(
            line.strip()
            and not self.fenced[row]
            and not self.heading_start[row]
            and not _ATX_HEADING.match(line)
            and not _SETEXT_UNDERLINE.match(line)
            and not _NOT_PARAGRAPH.match(line)
        )

    def expand(self, span: Span[Kind]) -> Sequence[Span[Kind]]:
        if span.item != "section":
            return ()
        starts: list[int] = []
        for row in range(span.start, span.end + 1):
            if self.blank[row] or (self.fenced[row] and not self.fence_open[row]):
                continue
            after_break = row == span.start or self.blank[row - 1] or self.fenced[row - 1]
            after_heading = row > span.start and self.heading_end[row - 1]
            if after_break or after_heading or self.heading_start[row] or self.fence_open[row]:
                starts.append(row)
        return _tile(starts, span.start, span.end, "block")


def _tile(starts: Sequence[int], start: int, end: int, kind: Kind) -> list[Span[Kind]]:
    bounds = [start, *(row for row in starts if start < row <= end), end + 1]
    return [Span(a, b - 1, kind) for a, b in pairwise(bounds) if a < b]


def fence_after(fence: str | None, line: str) -> str | None:
    """The open fence marker after ``line`` given the one before (``None``: not in a fence)."""
    match = _FENCE.match(line)
    if fence is not None:
        return None if match and _Layout._closes(fence, match.group(1), line) else fence
    return match.group(1) if match else None


def is_atx_heading(line: str) -> bool:
    """Whether ``line`` is an ATX heading line (when outside fenced code)."""
    return _ATX_HEADING.match(line) is not None
