"""Make a sync chunk and label its chunks as chunker version 1 did (before token budgets)."""

import pytest

from sync_pipelines.core import records
from sync_pipelines.core.chunking import budgets
from sync_pipelines.core.types import ChunkingOptions, ChunkStrategy


def legacy_chunking(
    model: str,
    *,
    strategy: ChunkStrategy = "tree_sitter",
    max_size_bytes: int | None = None,
    max_lines: int | None = None,
) -> ChunkingOptions:
    """The options of chunker version 1: byte caps only, whatever the model."""
    return ChunkingOptions(strategy, max_size_bytes or 1500, max_lines or 50)


def old_chunker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunk with version 1's options and label chunks as version 1 did (no version key)."""
    monkeypatch.setattr(records, "CHUNKER_VERSION", 1)
    monkeypatch.setattr(budgets, "default_chunking_options", legacy_chunking)
