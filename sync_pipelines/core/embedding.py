"""Dense embedding functions: the fast local MiniLM and the Chroma Cloud Qwen model.

``MiniLMEmbeddingFunction`` computes the same vectors as chromadb's default embedding function
(``ONNXMiniLM_L6_V2``: truncation at 256 tokens, mean pooling over the attention mask, L2
normalisation) but pads each batch only to its longest text after sorting by length instead of
padding every text to 256 tokens, so its cost follows the texts' real token counts.
Collections get chromadb's stock function as their registered one
(``collection_embedding_function``) so any stock client can query them with ``query_texts``.
"""

import ctypes
import functools
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from chromadb.api.types import (
    DefaultEmbeddingFunction,
    Documents,
    EmbeddingFunction,
    Embeddings,
    Space,
)
from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2
from tokenizers import Tokenizer

from sync_pipelines.core.embedding_cloud import QWEN_MODEL, cloud_qwen_function
from sync_pipelines.core.model_provision import MODEL_NAME, ONNX_SUBDIR, REQUIRED_FILES
from sync_pipelines.settings import get_settings

MINILM_MODEL: Final = MODEL_NAME
SUPPORTED_MODELS: Final = (MINILM_MODEL, QWEN_MODEL)
MAX_TOKENS: Final = 256
MINILM_DIMENSIONS: Final = 384
DEFAULT_BATCH_SIZE: Final = 32
#: Cap on rows x padded width per ONNX run. Measured on 2 cores: texts of ~140 tokens run ~40%
#: faster in batches of ~512 tokens than 32 at a time, while short texts still batch by 32.
DEFAULT_MAX_BATCH_TOKENS: Final = 512
INSTALL_COMMAND: Final = "chroma-sync model install"

FloatMatrix = npt.NDArray[np.float32]


class EmbeddingError(Exception):
    """Base class of the embedding layer's errors."""


class ModelNotFoundError(EmbeddingError):
    """The local model's files are in none of the folders searched."""


class EmbeddingConfigError(EmbeddingError):
    """A source names a model this server cannot embed with."""


def chroma_model_dir() -> Path:
    """Chromadb's own model folder (``ONNXMiniLM_L6_V2.DOWNLOAD_PATH/onnx``), read at call time."""
    return Path(ONNXMiniLM_L6_V2.DOWNLOAD_PATH) / ONNX_SUBDIR


def find_model_dir(configured_root: Path | None) -> Path:
    """Locate the all-MiniLM-L6-v2 files.

    Args:
        configured_root: The configured models folder; ``<root>/all-MiniLM-L6-v2/onnx`` is
            tried first, then chromadb's own cache.

    Returns:
        The first folder holding all six model files.

    Raises:
        ModelNotFoundError: No candidate holds them; the message lists the folders searched
            and the command that provisions the model.
    """
    candidates: list[Path] = []
    if configured_root is not None:
        candidates.append(configured_root.expanduser() / MODEL_NAME / ONNX_SUBDIR)
    candidates.append(chroma_model_dir())
    for folder in candidates:
        if all((folder / name).is_file() for name in REQUIRED_FILES):
            return folder
    searched = ", ".join(str(folder) for folder in candidates)
    raise ModelNotFoundError(
        f"embedding model {MODEL_NAME} not found (searched: {searched}; each needs "
        f"{', '.join(REQUIRED_FILES)}). Install it with `{INSTALL_COMMAND}`."
    )


def release_free_heap() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    Building the ONNX session frees the int8 model and the optimiser's scratch memory (about
    60 MB), and each embedding call frees its activations (tens of MB for long texts): glibc
    would otherwise keep both resident for the life of the process.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """The C library's ``malloc_trim``, looked up once (``None`` without glibc)."""
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def _normalize(vectors: npt.NDArray[Any]) -> npt.NDArray[Any]:
    # Same arithmetic as ONNXMiniLM_L6_V2._normalize (PyTorch's epsilon for zero norms).
    norm = np.linalg.norm(vectors, axis=1)
    norm[norm == 0] = 1e-12
    return cast(npt.NDArray[Any], vectors / norm[:, np.newaxis])


class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 on onnxruntime, vector-identical to chromadb's default function.

    The tokenizer and ONNX session load lazily, once, on first use (thread-safe).

    Args:
        model_dir: Folder holding ``model.onnx`` and ``tokenizer.json``. ``None`` looks the
            model up with ``find_model_dir(models_root)`` on first use.
        models_root: Configured models folder used when ``model_dir`` is ``None``; ``None``
            means the settings' ``resolved_model_dir``.
        batch_size: Most texts per ONNX run.
        max_batch_tokens: Most rows x padded width per ONNX run (a longer text runs alone).
        threads: onnxruntime intra-op threads; ``None`` means one per CPU core.
        cpu_arena: Keep onnxruntime's CPU memory arena. Off by default: the arena keeps the
            largest batch's buffers for the life of the process (~70-110 MB more resident in
            every run worker, for a few percent of speed; ``bench/embed.py`` measures both).
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        models_root: Path | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
        threads: int | None = None,
        cpu_arena: bool = False,
    ) -> None:
        if batch_size < 1 or max_batch_tokens < 1:
            raise ValueError("batch_size and max_batch_tokens must be positive")
        self.max_batch_tokens = max_batch_tokens
        self._model_dir = model_dir
        self._models_root = models_root
        self.batch_size = batch_size
        self.threads = threads
        self.cpu_arena = cpu_arena
        self._lock = threading.Lock()
        self._tokenizer: Tokenizer | None = None
        self._session: ort.InferenceSession | None = None

    @property
    def model_dir(self) -> Path:
        """The folder the model is (or will be) loaded from; resolves it if needed."""
        if self._model_dir is None:
            root = self._models_root
            if root is None:
                root = get_settings().resolved_model_dir
            self._model_dir = find_model_dir(root)
        return self._model_dir

    def _load(self) -> tuple[Tokenizer, ort.InferenceSession]:
        with self._lock:
            if self._tokenizer is None or self._session is None:
                folder = self.model_dir
                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                tokenizer.enable_truncation(max_length=MAX_TOKENS)
                tokenizer.no_padding()
                options = ort.SessionOptions()
                options.log_severity_level = 3
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.intra_op_num_threads = self.threads or max(1, os.cpu_count() or 1)
                options.inter_op_num_threads = 1
                options.enable_cpu_mem_arena = self.cpu_arena
                self._session = ort.InferenceSession(
                    str(folder / "model.onnx"),
                    sess_options=options,
                    providers=["CPUExecutionProvider"],
                )
                self._tokenizer = tokenizer
                release_free_heap()
            return self._tokenizer, self._session

    def _batches(self, lengths: npt.NDArray[np.int64]) -> Iterator[npt.NDArray[np.intp]]:
        """Index groups in ascending length, each within ``batch_size`` and the token cap."""
        order = np.argsort(lengths, kind="stable")
        start = 0
        while start < len(order):
            count = min(self.batch_size, len(order) - start)
            # The last row of a group is its widest, since lengths ascend along ``order``.
            while count > 1 and count * lengths[order[start + count - 1]] > self.max_batch_tokens:
                count -= 1
            yield order[start : start + count]
            start += count

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed texts into an ``(n, 384)`` float32 matrix whose rows follow the input order."""
        if not texts:
            return np.zeros((0, MINILM_DIMENSIONS), dtype=np.float32)
        tokenizer, session = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        out = np.empty((len(texts), MINILM_DIMENSIONS), dtype=np.float32)
        for rows in self._batches(lengths):
            width = int(lengths[rows[-1]])
            input_ids = np.zeros((len(rows), width), dtype=np.int64)
            attention_mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, index in enumerate(rows):
                size = int(lengths[index])
                input_ids[row, :size] = encodings[index].ids
                attention_mask[row, :size] = 1
            hidden = session.run(
                None,
                {
                    "input_ids": input_ids,
                    "attention_mask": attention_mask,
                    "token_type_ids": np.zeros_like(input_ids),
                },
            )[0]
            # Same pooling arithmetic as ONNXMiniLM_L6_V2._forward, for identical floats.
            mask = np.broadcast_to(np.expand_dims(attention_mask, -1), hidden.shape)
            pooled = np.sum(hidden * mask, 1) / np.clip(mask.sum(1), a_min=1e-9, a_max=None)
            out[rows] = _normalize(pooled).astype(np.float32)
        if not self.cpu_arena:
            release_free_heap()  # the batches' activations, freed but kept by glibc otherwise
        return out

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents (chromadb protocol): one float32 vector per document, in order."""
        return list(self.embed(list(input)))

    @staticmethod
    def name() -> str:
        return "chroma_sync_minilm_l6_v2"

    def default_space(self) -> Space:
        return "cosine"

    def max_tokens(self) -> int:
        """Tokens per text kept before truncation."""
        return MAX_TOKENS

    def get_config(self) -> dict[str, Any]:
        return {
            "model_dir": str(self._model_dir) if self._model_dir else None,
            "models_root": str(self._models_root) if self._models_root else None,
            "batch_size": self.batch_size,
            "max_batch_tokens": self.max_batch_tokens,
            "threads": self.threads,
        }

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "MiniLMEmbeddingFunction":
        model_dir = config.get("model_dir")
        models_root = config.get("models_root")
        return MiniLMEmbeddingFunction(
            Path(model_dir) if model_dir else None,
            models_root=Path(models_root) if models_root else None,
            batch_size=int(config.get("batch_size") or DEFAULT_BATCH_SIZE),
            max_batch_tokens=int(config.get("max_batch_tokens") or DEFAULT_MAX_BATCH_TOKENS),
            threads=config.get("threads"),
        )


def _cloud_function(model: str, cloud_api_key: str | None) -> EmbeddingFunction[Documents]:
    if model != QWEN_MODEL:
        raise EmbeddingConfigError(
            f"embedding.dense.model {model!r} is not supported; use one of "
            f"{', '.join(SUPPORTED_MODELS)}"
        )
    if not cloud_api_key:
        raise EmbeddingConfigError(
            f"embedding.dense.model {QWEN_MODEL!r} needs a Chroma Cloud API key "
            "(CHROMA_SYNC_CHROMA_API_KEY) on this server"
        )
    return cloud_qwen_function(cloud_api_key)


def collection_embedding_function(
    model: str, *, cloud_api_key: str | None = None
) -> EmbeddingFunction[Documents]:
    """The stock chromadb function a collection registers for ``model``.

    Stock clients rebuild it from the collection's configuration, so they can query with
    ``query_texts``; writes always carry explicit embeddings.

    Args:
        model: The source's ``embedding.dense.model``.
        cloud_api_key: Chroma Cloud key, needed for the Qwen model.

    Raises:
        EmbeddingConfigError: Unknown model, or Qwen without a key.
    """
    if model == MINILM_MODEL:
        return DefaultEmbeddingFunction()
    return _cloud_function(model, cloud_api_key)


def get_embedding_function(
    model: str,
    *,
    model_dir: Path | None = None,
    cloud_api_key: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> EmbeddingFunction[Documents]:
    """The function that embeds a source's chunks for ``model``.

    Args:
        model: The source's ``embedding.dense.model``.
        model_dir: Configured models folder for the local model (searched with
            ``find_model_dir`` on first use); ``None`` means the settings' folder.
        cloud_api_key: Chroma Cloud key, needed for the Qwen model.
        batch_size: Most texts per ONNX run for the local model.

    Raises:
        EmbeddingConfigError: Unknown model, or Qwen without a key.
    """
    if model == MINILM_MODEL:
        return MiniLMEmbeddingFunction(models_root=model_dir, batch_size=batch_size)
    return _cloud_function(model, cloud_api_key)
