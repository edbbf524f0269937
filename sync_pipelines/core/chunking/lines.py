"""Line bookkeeping shared by every chunker, and the ``lines`` strategy itself.

Rows are 0-based indexes of the text's lines (split on LF only); chunks report them 1-based.
Every chunk is a whole-line slice of the document with whitespace-only lines trimmed from
both ends, except the pieces of a single line too big for a chunk, which are split at UTF-8
character boundaries (preferring whitespace; at token boundaries when tokens are the bound)
and all carry that line's number.

A row range fits in a chunk when its UTF-8 size is at most the byte cap and, under a token
budget, its embedded text (context, separator, text) has at most ``max_tokens`` tokens. Token
counts are summed per line: exact for WordPiece, whose tokens never span a newline, and an
upper bound for bytes (see :mod:`~sync_pipelines.core.chunking.tokens`).
"""

from collections.abc import Sequence
from itertools import accumulate

from sync_pipelines.core.chunking.tokens import TokenCounter, token_counter
from sync_pipelines.core.types import Chunk, ChunkingOptions

MIN_SIZE_BYTES = 4
"""Smallest usable size cap: one UTF-8 character can take four bytes."""

MIN_TOKENS = 4
"""Smallest usable token budget: one character is at most four byte tokens."""


class LineIndex:
    """The lines of one document with O(1) size look-ups over row ranges.

    Args:
        text: The document text.
        options: The byte cap (values below :data:`MIN_SIZE_BYTES` are raised to it) and the
            token budget, if any (values below :data:`MIN_TOKENS` are raised to it).
        contexts: Each row's context (see :mod:`~sync_pipelines.core.chunking.context`),
            given to the chunks starting on it; a context that would take more than half the
            token budget is left out.
    """

    def __init__(
        self,
        text: str,
        options: ChunkingOptions,
        contexts: Sequence[str | None] | None = None,
    ) -> None:
        self.lines = text.split("\n")
        self.cap = max(options.max_size_bytes, MIN_SIZE_BYTES)
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
        self.contexts: Sequence[str | None] = contexts or [None] * count
        self.counter: TokenCounter | None = None
        self.max_tokens = 0
        self._tokens: list[int] = []
        self._reserve: dict[str, int] = {}
        if options.max_tokens is not None:
            self.counter = token_counter(options.token_model)
            self.max_tokens = max(options.max_tokens, MIN_TOKENS)
            self._tokens = [0, *accumulate(self.counter.count_lines(self.lines))]
            self._reserve_contexts()

    def _reserve_contexts(self) -> None:
        """Price each distinct context; drop those that would leave too little room."""
        assert self.counter is not None
        room = max(MIN_TOKENS, self.max_tokens // 2)
        distinct = [c for c in set(self.contexts) if c is not None]
        costs = self.counter.count_lines(distinct)
        join = self.counter.join_cost
        self._reserve = {c: cost + join for c, cost in zip(distinct, costs, strict=True)}
        if any(self.max_tokens - cost < room for cost in self._reserve.values()):
            self.contexts = [
                c if c is None or self.max_tokens - self._reserve[c] >= room else None
                for c in self.contexts
            ]

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

    def fits(self, start: int, end: int) -> bool:
        """Whether rows ``start..end`` (trimmed) fit in one chunk: byte cap and token budget."""
        trimmed = self.trim(start, end)
        if trimmed is None:
            return True
        first, last = trimmed
        if self._offsets[last + 1] - self._offsets[first] - 1 > self.cap:
            return False
        if self.counter is None:
            return True
        tokens = self._tokens[last + 1] - self._tokens[first]
        tokens += (last - first) * self.counter.join_cost
        return tokens <= self._room(first)

    def _room(self, row: int) -> int:
        """Tokens left for the text of a chunk starting on ``row``, after its context."""
        context = self.contexts[row]
        return self.max_tokens - (self._reserve[context] if context is not None else 0)

    def chunk(self, start: int, end: int) -> Chunk | None:
        """The chunk for rows ``start..end`` (trimmed), or ``None`` if it is all whitespace."""
        trimmed = self.trim(start, end)
        if trimmed is None:
            return None
        first, last = trimmed
        text = "\n".join(self.lines[first : last + 1])
        return Chunk(text, first + 1, last + 1, self.contexts[first])

    def emit(self, start: int, end: int) -> list[Chunk]:
        """Chunks for rows ``start..end``: one if it fits, else bounded windows."""
        if self.fits(start, end):
            chunk = self.chunk(start, end)
            return [chunk] if chunk is not None else []
        return self.windows(start, end, max_lines=end - start + 1)

    def windows(self, start: int, end: int, max_lines: int) -> list[Chunk]:
        """Greedy windows of whole lines over rows ``start..end``.

        Each window holds at most ``max_lines`` rows and fits a chunk; a row that alone does
        not fit is split into pieces.
        """
        max_lines = max(max_lines, 1)
        chunks: list[Chunk] = []
        row = start
        while row <= end:
            row = self._next_content[row]
            if row > end:
                break
            if not self.fits(row, row):
                chunks.extend(self.split_line(row))
                row += 1
                continue
            last = row
            limit = min(end, row + max_lines - 1)
            while last < limit and self.fits(row, last + 1):
                last += 1
            chunk = self.chunk(row, last)
            if chunk is not None:
                chunks.append(chunk)
            row = last + 1
        return chunks

    def split_line(self, row: int) -> list[Chunk]:
        """Split one row too big for a chunk into pieces that fit (bytes, then tokens)."""
        data = self.lines[row].encode()
        context = self.contexts[row]
        room = self._room(row) if self.counter is not None else 0
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
            if self.counter is not None:
                piece = piece[: self.counter.fit(piece, room)]
                cut = pos + len(piece.encode())
            if piece.strip():
                chunks.append(Chunk(piece, row + 1, row + 1, context))
            pos = cut
        return chunks


def chunk_lines(text: str, max_lines: int, options: ChunkingOptions) -> list[Chunk]:
    """Chunk a text into windows of whole lines (the ``lines`` strategy).

    Args:
        text: The document text.
        max_lines: Most rows per chunk (at least 1 is used).
        options: The byte cap (at least :data:`MIN_SIZE_BYTES` is used) and token budget.

    Returns:
        The chunks in document order; whitespace-only lines at a window's edges are trimmed.
    """
    index = LineIndex(text, options)
    return index.windows(0, len(index) - 1, max_lines)
