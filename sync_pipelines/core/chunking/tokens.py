"""Count a chunk's tokens the way the embedding model will, without special tokens.

``all-MiniLM-L6-v2`` is counted with its own ``tokenizer.json`` (loaded once per process from
the model folder, truncation and padding off). Its WordPiece pre-tokenizer splits on
whitespace, so no token spans a newline: the tokens of lines joined by newlines are exactly the
sum of each line's tokens (``join_cost`` 0), which lets the packer add per-line counts. Models
whose tokenizer is not shipped (Qwen, a byte-level BPE) are counted in UTF-8 bytes, an upper
bound on their tokens; a newline is then one more byte (``join_cost`` 1).
"""

import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

from tokenizers import Tokenizer

from sync_pipelines.core.chunking.budgets import model_budget


class TokenCounter(Protocol):
    """Counts tokens of texts for one model (special tokens excluded)."""

    join_cost: int
    """Tokens one newline between two texts adds to the sum of their counts."""

    def count(self, text: str) -> int:
        """Tokens of ``text``."""
        ...

    def count_lines(self, lines: Sequence[str]) -> list[int]:
        """Tokens of each line, in order."""
        ...

    def fit(self, text: str, limit: int) -> int:
        """Characters of a prefix of ``text`` with at most ``limit`` tokens on its own.

        ``len(text)`` when it all fits, else a cut at a token boundary, moved back after
        whitespace in the prefix's second half when there is any. At least 1 for a non-empty
        text when ``limit`` is at least 4.
        """
        ...


def _space_cut(text: str, low: int, cut: int) -> int:
    """``cut``, moved back to just after the last whitespace in ``text[low:cut]`` if any."""
    for at in range(cut - 1, max(low, 0) - 1, -1):
        if text[at].isspace():
            return at + 1
    return cut


class ByteCounter:
    """UTF-8 bytes as tokens: an upper bound on the tokens of any byte-level BPE."""

    join_cost = 1

    def count(self, text: str) -> int:
        """Bytes of ``text``."""
        return len(text.encode())

    def count_lines(self, lines: Sequence[str]) -> list[int]:
        """Bytes of each line."""
        return [len(line.encode()) for line in lines]

    def fit(self, text: str, limit: int) -> int:
        """Characters of the longest prefix of at most ``limit`` bytes (see TokenCounter)."""
        data = text.encode()
        if len(data) <= limit:
            return len(text)
        cut = limit
        while cut > 0 and data[cut] & 0xC0 == 0x80:
            cut -= 1
        chars = len(data[:cut].decode())
        return max(1, _space_cut(text, len(data[: limit // 2].decode(errors="ignore")), chars))


class WordPieceCounter:
    """Exact counts from a ``tokenizers`` tokenizer whose tokens never span whitespace."""

    join_cost = 0

    def __init__(self, tokenizer: Tokenizer) -> None:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self.tokenizer = tokenizer

    def count(self, text: str) -> int:
        """Tokens of ``text``."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def count_lines(self, lines: Sequence[str]) -> list[int]:
        """Tokens of each line (none for whitespace; each distinct line is encoded once)."""
        distinct = list(dict.fromkeys(line for line in lines if line.strip()))
        # ``encode_batch_fast`` (tokenizers >= 0.21) skips the offsets, which counting ignores.
        encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        encoded = encode(distinct, add_special_tokens=False)
        counts = {line: len(encoding.ids) for line, encoding in zip(distinct, encoded, strict=True)}
        return [counts.get(line, 0) for line in lines]

    def fit(self, text: str, limit: int) -> int:
        """Characters of the longest prefix of at most ``limit`` tokens (see TokenCounter)."""
        end = len(text)
        while True:
            offsets = self.tokenizer.encode(text[:end], add_special_tokens=False).offsets
            if len(offsets) <= limit:
                return end
            # Cut before the first token over the limit, re-counting the prefix on its own:
            # a word cut between its pieces may tokenize differently.
            end = max(1, _space_cut(text, offsets[limit // 2][0], offsets[limit][0]))


class TokenizerNotFoundError(FileNotFoundError):
    """A local model's ``tokenizer.json`` is not installed (the message says how to install)."""


def tokenizer_path(model: str) -> Path:
    """The ``tokenizer.json`` of a local model, where the embedding function finds its files.

    Looked up in ``<model_dir>/all-MiniLM-L6-v2/onnx`` and then chromadb's own cache, spelled
    out rather than read from chromadb: chunking runs in worker threads, and importing chromadb
    there races with the embedder's import of it (importlib then hands one thread a partly
    initialised module).

    Raises:
        ValueError: The model has no local tokenizer (or is unknown).
        TokenizerNotFoundError: The model's files are not installed.
    """
    from sync_pipelines.settings import get_settings

    if model_budget(model).counting != "wordpiece":
        raise ValueError(f"embedding model {model!r} has no local tokenizer")
    candidates = [
        get_settings().resolved_model_dir.expanduser() / model / "onnx" / "tokenizer.json",
        Path.home() / ".cache" / "chroma" / "onnx_models" / model / "onnx" / "tokenizer.json",
    ]
    for path in candidates:
        if path.is_file():
            return path
    searched = ", ".join(str(path.parent) for path in candidates)
    raise TokenizerNotFoundError(
        f"tokenizer of embedding model {model} not found (searched: {searched}). "
        "Install it with `chroma-sync model install`."
    )


_counter_lock = threading.Lock()


def token_counter(model: str | None) -> TokenCounter:
    """The counter of ``model``'s tokens, one per model and process (made once, thread-safe).

    Args:
        model: A dense model name; ``None`` counts UTF-8 bytes.

    Raises:
        ValueError: The project does not know the model.
        TokenizerNotFoundError: A local model whose files are not installed.
    """
    with _counter_lock:
        return _token_counter(model)


@cache
def _token_counter(model: str | None) -> TokenCounter:
    if model is None or model_budget(model).counting == "bytes":
        return ByteCounter()
    return WordPieceCounter(Tokenizer.from_file(str(tokenizer_path(model))))
