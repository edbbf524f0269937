"""Chunking configuration of a source and its conversion to the core ``ChunkingOptions``."""

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from sync_pipelines.core.types import (
    DEFAULT_MAX_LINES,
    DEFAULT_MAX_SIZE_BYTES,
    ChunkingOptions,
    ChunkStrategy,
)
from sync_pipelines.schemas.common import SpecModel


class TreeSitterChunkingConfig(SpecModel):
    """Syntax-aware chunking (heading-aware for markdown, line fallback otherwise)."""

    type: Literal["tree_sitter"]
    max_size_bytes: int = Field(default=DEFAULT_MAX_SIZE_BYTES, ge=0)


class LinesChunkingConfig(SpecModel):
    """Line-window chunking bounded by a line count and a byte size."""

    type: Literal["lines"]
    max_lines: int = Field(default=DEFAULT_MAX_LINES, ge=0)
    max_size_bytes: int = Field(default=DEFAULT_MAX_SIZE_BYTES, ge=0)


SourceChunkingConfig = Annotated[
    TreeSitterChunkingConfig | LinesChunkingConfig, Field(discriminator="type")
]
"""``{"type": "tree_sitter", ...}`` or ``{"type": "lines", ...}``, told apart by ``type``."""

SOURCE_CHUNKING_ADAPTER: TypeAdapter[TreeSitterChunkingConfig | LinesChunkingConfig] = TypeAdapter(
    SourceChunkingConfig
)


def default_chunking() -> TreeSitterChunkingConfig:
    """Return the chunking used when a source names none: tree-sitter, 1500 bytes."""
    return TreeSitterChunkingConfig(type="tree_sitter", max_size_bytes=DEFAULT_MAX_SIZE_BYTES)


def to_chunking_options(
    cfg: TreeSitterChunkingConfig | LinesChunkingConfig, model: str | None = None
) -> ChunkingOptions:
    """Convert a source's chunking config into the core ``ChunkingOptions``.

    A limit of 0 (allowed by the spec) is raised to 1, the smallest workable bound. The
    config's limits stay caps; the embedding model adds its default token budget and the
    chunks' context (:func:`~sync_pipelines.core.chunking.budgets.default_chunking_options`).

    Args:
        cfg: The source's chunking configuration.
        model: The dense model that embeds the chunks; ``None`` gives the byte-only options
            of chunker version 1 (no token budget, no context).

    Returns:
        The equivalent options for the chunker.

    Raises:
        ValueError: ``model`` is not one the project knows.
    """
    strategy: ChunkStrategy = "tree_sitter"
    max_lines = DEFAULT_MAX_LINES
    if isinstance(cfg, LinesChunkingConfig):
        strategy, max_lines = "lines", max(cfg.max_lines, 1)
    max_size_bytes = max(cfg.max_size_bytes, 1)
    if model is not None:
        # Imported here: the chunking package loads the tree-sitter grammars, which the API
        # server, importing the schemas, never needs.
        from sync_pipelines.core.chunking.budgets import default_chunking_options

        return default_chunking_options(
            model, strategy=strategy, max_size_bytes=max_size_bytes, max_lines=max_lines
        )
    return ChunkingOptions(strategy=strategy, max_size_bytes=max_size_bytes, max_lines=max_lines)
