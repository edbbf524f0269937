"""Chunking configuration of a source and its conversion to the core ``ChunkingOptions``."""

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from sync_pipelines.core.types import DEFAULT_MAX_LINES, DEFAULT_MAX_SIZE_BYTES, ChunkingOptions
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


def to_chunking_options(cfg: TreeSitterChunkingConfig | LinesChunkingConfig) -> ChunkingOptions:
    """Convert a source's chunking config into the core ``ChunkingOptions``.

    A limit of 0 (allowed by the spec) is raised to 1, the smallest workable bound.

    Args:
        cfg: The source's chunking configuration.

    Returns:
        The equivalent options for the chunker.
    """
    if isinstance(cfg, LinesChunkingConfig):
        return ChunkingOptions(
            strategy="lines",
            max_size_bytes=max(cfg.max_size_bytes, 1),
            max_lines=max(cfg.max_lines, 1),
        )
    return ChunkingOptions(strategy="tree_sitter", max_size_bytes=max(cfg.max_size_bytes, 1))
