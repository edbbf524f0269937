"""Assemble a parsed document as markdown blocks, recording pages, slides and sheets."""

from collections.abc import Iterable, Sequence

from sync_pipelines.core.types import Location, ParsedDocument


def markdown_table(rows: Sequence[Sequence[object]]) -> str:
    """Render rows as a GitHub-flavoured markdown table, the first row as its header.

    Cells are stringified (``None`` as empty), pipes escaped and line breaks turned into
    ``<br>`` so each row stays one line; short rows are padded and trailing empty columns
    dropped. Returns ``""`` for a table without any non-empty cell.
    """
    cells = [[_cell(value) for value in row] for row in rows]
    width = max((_last_filled(row) for row in cells), default=0)
    if width == 0:
        return ""
    grid = [row[:width] + [""] * (width - len(row[:width])) for row in cells]
    grid = [row for row in grid if any(row)] or grid[:1]
    lines = ["| " + " | ".join(grid[0]) + " |", "|" + " --- |" * width]
    lines.extend("| " + " | ".join(row) + " |" for row in grid[1:])
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").strip()
    return text.replace("|", "\\|").replace("\n", "<br>")


def _last_filled(row: Sequence[str]) -> int:
    for i in range(len(row), 0, -1):
        if row[i - 1]:
            return i
    return 0


class MarkdownBuilder:
    """Collects markdown blocks separated by blank lines and where each one comes from.

    Example::

        doc = MarkdownBuilder()
        doc.mark(page=1)
        doc.block("# Report")
        doc.block(markdown_table(rows))
        parsed = doc.build()
    """

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._line = 1  # first line of the next block
        self._locations: list[Location] = []
        self._pending: Location | None = None

    def mark(self, *, page: int | None = None, sheet: str | None = None) -> None:
        """Start a new page, slide or sheet: the next block and those after it belong to it."""
        self._pending = Location(0, page=page, sheet=sheet)

    def block(self, text: str) -> None:
        """Append a block of markdown (blank-only blocks are skipped)."""
        text = "\n".join(line.rstrip() for line in text.strip("\n").split("\n")).strip("\n")
        if not text.strip():
            return
        if self._blocks:
            self._line += 1  # the blank line between blocks
        if self._pending is not None:
            pending = self._pending
            self._locations.append(Location(self._line, pending.page, pending.sheet))
            self._pending = None
        self._blocks.append(text)
        self._line += text.count("\n") + 1

    def blocks(self, texts: Iterable[str]) -> None:
        """Append several blocks."""
        for text in texts:
            self.block(text)

    def build(self, language: str | None = "markdown") -> ParsedDocument:
        """The document: its blocks joined by blank lines, and its locations."""
        text = "\n\n".join(self._blocks)
        return ParsedDocument(text, language, tuple(self._locations))
