"""Embedding models as a Dagster resource: the local ONNX model by default.

The model runtime is imported on first use: every Dagster process imports this module.
"""

import threading
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

DEFAULT_MODEL = "all-MiniLM-L6-v2"

_lock = threading.Lock()
_functions: dict[tuple[str, str], Any] = {}


class EmbeddingResource(dg.ConfigurableResource):
    """Builds (once per process) the embedding function a source asks for."""

    model_dir: str = Field(description="Folder holding local embedding models.")
    cloud_api_key: str | None = Field(
        default=None, description="Chroma Cloud key, for cloud-hosted embedding models."
    )

    def get_function(self, model: str | None) -> Any:
        """Return the embedding function for ``model`` (the local default when ``None``).

        Raises:
            EmbeddingConfigError: Unknown model, or a cloud model without a key.
        """
        from sync_pipelines.core.embedding import get_embedding_function

        name = model or DEFAULT_MODEL
        key = (name, self.model_dir)
        with _lock:
            function = _functions.get(key)
            if function is None:
                function = get_embedding_function(
                    name, model_dir=Path(self.model_dir), cloud_api_key=self.cloud_api_key
                )
                _functions[key] = function
            return function

    def collection_function(self, model: str | None) -> Any:
        """Return the stock chromadb function recorded in new collections for ``model``."""
        from sync_pipelines.core.embedding import collection_embedding_function

        return collection_embedding_function(model or DEFAULT_MODEL)
