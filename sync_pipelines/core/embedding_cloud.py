"""Chroma Cloud's hosted Qwen embedding model, for sources that ask for it.

chromadb's ``ChromaCloudQwenEmbeddingFunction`` reads its key only from an environment
variable, so the key is set there just while the function is built (under a lock), never left
in the environment.
"""

import os
import threading
from typing import Final

from chromadb.api.types import Documents, EmbeddingFunction

QWEN_MODEL: Final = "Qwen/Qwen3-Embedding-0.6B"
#: The Qwen task whose instructions chromadb ships (documents get none, queries a code prompt).
QWEN_TASK: Final = "nl_to_code"
_CLOUD_KEY_ENV: Final = "CHROMA_API_KEY"
_env_lock = threading.Lock()


def cloud_qwen_function(api_key: str) -> EmbeddingFunction[Documents]:
    """Chroma Cloud's Qwen3-Embedding-0.6B function, authenticated with ``api_key``."""
    from chromadb.utils.embedding_functions.chroma_cloud_qwen_embedding_function import (
        ChromaCloudQwenEmbeddingFunction,
        ChromaCloudQwenEmbeddingModel,
    )

    with _env_lock:
        previous = os.environ.get(_CLOUD_KEY_ENV)
        os.environ[_CLOUD_KEY_ENV] = api_key
        try:
            return ChromaCloudQwenEmbeddingFunction(
                model=ChromaCloudQwenEmbeddingModel.QWEN3_EMBEDDING_0p6B,
                task=QWEN_TASK,
                api_key_env_var=_CLOUD_KEY_ENV,
            )
        finally:
            if previous is None:
                del os.environ[_CLOUD_KEY_ENV]
            else:
                os.environ[_CLOUD_KEY_ENV] = previous
