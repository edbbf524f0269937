"""Embedding configuration of a source: the dense model and an optional sparse one."""

from enum import StrEnum
from typing import Literal

from sync_pipelines.schemas.common import SpecModel, omitted_if_none

DenseModelName = Literal["all-MiniLM-L6-v2", "Qwen/Qwen3-Embedding-0.6B"]
DEFAULT_DENSE_MODEL: DenseModelName = "all-MiniLM-L6-v2"
"""The local model used when a source names none (NOTES.md)."""
QWEN_DENSE_MODEL: DenseModelName = "Qwen/Qwen3-Embedding-0.6B"


class SparseEmbeddingModel(StrEnum):
    """Sparse embedding models the spec names."""

    CHROMA_BM25 = "Chroma/BM25"
    SPLADE_PP_EN_V1 = "prithivida/Splade_PP_en_v1"


class Qwen3EmbeddingTask(SpecModel):
    """Task instruction for the Qwen3 embedding model."""

    task_name: str
    document_prompt: str | None = None
    query_prompt: str | None = None


class DenseEmbeddingModel(SpecModel):
    """A dense embedding model and, for Qwen3, its task."""

    model: DenseModelName
    task: Qwen3EmbeddingTask | None = None


class DenseEmbeddingConfig(DenseEmbeddingModel):
    """The ``embedding.dense`` part of a source (same shape as :class:`DenseEmbeddingModel`)."""


class SparseEmbeddingConfig(SpecModel):
    """Optional sparse embedding: which model, stored under which metadata key."""

    key: str | None = omitted_if_none()
    model: SparseEmbeddingModel | None = omitted_if_none()


class SourceEmbeddingConfig(SpecModel):
    """The ``embedding`` part of a source."""

    dense: DenseEmbeddingConfig | None = omitted_if_none()
    sparse: SparseEmbeddingConfig | None = None


def default_dense_model() -> DenseEmbeddingModel:
    """Return the dense model used when a source names none (``all-MiniLM-L6-v2``)."""
    return DenseEmbeddingModel(model=DEFAULT_DENSE_MODEL)
