"""Line bookkeeping shared by every chunker, and the ``lines`` strategy itself.

Rows are 0-based indexes of the text's lines (split on LF only); chunks report them 1-based.
Every chunk is a whole-line slice of the document with whitespace-only lines trimmed from
both ends, except the pieces of a single line longer than the size cap, which are split at
UTF-8 character boundaries (preferring a space) and all carry that line's number.
"""

from itertools import accumulate

from sync_pipelines.core.types import Chunk

MIN_SIZE_BYTES = 4
"""Smallest usable size cap: one UTF-8 character can take four bytes."""


class LineIndex:
    """The lines of one document with O(1) size look-ups over row ranges.

    Args:
        text: The document text.
        max_size_bytes: The chunk size cap; values below :data:`MIN_SIZE_BYTES` are raised to it.
    """

    def __init__(self, text: str, max_size_bytes: int) -> None:
        self.lines = text.split("\n")
        self.cap = max(max_size_bytes, MIN_SIZE_BYTES)
        self._offsets = [0, *accumulate(len(line.encode()) + 1 for line in self.lines)]
        count = len(self.lines)
        blank = [not line.strip() for line in self.lines]
        self._next_content = [count] * (count + 1)
        for row in range(count - 1, -1, -1):
            self._next_content[row] = row if not blank[row] else self._next_content[row + 1]
        self._prev_content = [-1] * count
        last = -1
        for row in range(count):
            last = row if not blank[row] else last
            self._prev_content[row] = last

    def __len__(self) -> int:
        return len(self.lines)

    def trim(self, start: int, end: int) -> tuple[int, int] | None:
        """Drop whitespace-only rows from both ends of ``start..end`` (inclusive).

        Returns:
            The trimmed row range, or ``None`` when every row in it is whitespace.
        """
        first, last = self._next_content[start], self._prev_content[end]
        return (first, last) if first <= last else None

    def size(self, start: int, end: int) -> int:
        """UTF-8 size of rows ``start..end`` joined by newlines, after trimming blank ends."""
        trimmed = self.trim(start, end)
        if trimmed is None:
            return 0
        first, last = trimmed
        return self._offsets[last + 1] - self._offsets[first] - 1

    def chunk(self, start: int, end: int) -> Chunk | None:
        """The chunk for rows ``start..end`` (trimmed), or ``None`` if it is all whitespace."""
        trimmed = self.trim(start, end)
        if trimmed is None:
            return None
        first, last = trimmed
        return Chunk("\n".join(self.lines[first : last + 1]), first + 1, last + 1)

    def emit(self, start: int, end: int) -> list[Chunk]:
        """Chunks for rows ``start..end``: one if it fits the cap, else size-bounded windows."""
        if self.size(start, end) <= self.cap:
            chunk = self.chunk(start, end)
            return [chunk] if chunk is not None else []
        return self.windows(start, end, max_lines=end - start + 1)

    def windows(self, start: int, end: int, max_lines: int) -> list[Chunk]:
        """Greedy windows of whole lines over rows ``start..end``.

        Each window holds at most ``max_lines`` rows and ``cap`` bytes; a row that alone
        exceeds the cap is split into pieces.
        """
        max_lines = max(max_lines, 1)
        chunks: list[Chunk] = []
        row = start
        while row <= end:
            row = self._next_content[row]
            if row > end:
                break
            if self.size(row, row) > self.cap:
                chunks.extend(self.split_line(row))
                row += 1
                continue
            last = row
            limit = min(end, row + max_lines - 1)
            while last < limit and self.size(row, last + 1) <= self.cap:
                last += 1
            chunk = self.chunk(row, last)
            if chunk is not None:
                chunks.append(chunk)
            row = last + 1
        return chunks

    def split_line(self, row: int) -> list[Chunk]:
        """Split one over-long row into pieces of at most ``cap`` bytes."""
        data = self.lines[row].encode()
        chunks: list[Chunk] = []
        pos = 0
        while pos < len(data):
            cut = pos + self.cap
            if cut < len(data):
                while cut > pos and data[cut] & 0xC0 == 0x80:
                    cut -= 1
                space = data.rfind(b" ", pos + self.cap // 2, cut)
                if space >= 0:
                    cut = space + 1
            piece = data[pos:cut].decode()
            if piece.strip():
                chunks.append(Chunk(piece, row + 1, row + 1))
            pos = cut
        return chunks


def chunk_lines(text: str, max_lines: int, max_size_bytes: int) -> list[Chunk]:
    """Chunk a text into windows of whole lines (the ``lines`` strategy).

    Args:
        text: The document text.
        max_lines: Most rows per chunk (at least 1 is used).
        max_size_bytes: Most UTF-8 bytes per chunk (at least :data:`MIN_SIZE_BYTES` is used).

    Returns:
        The chunks in document order; whitespace-only lines at a window's edges are trimmed.
    """
    index = LineIndex(text, max_size_bytes)
    return index.windows(0, len(index) - 1, max_lines)
