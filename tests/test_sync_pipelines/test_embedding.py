"""Contract of the embedding layer (``sync_pipelines.core.embedding``).

``MiniLMEmbeddingFunction`` returns, for any list of texts, exactly the vectors chromadb's stock
``DefaultEmbeddingFunction`` computes from the same model files (including texts truncated at
256 tokens and the empty string), as float32 rows in input order whatever the length order.
Vectors we write with explicit embeddings into a collection created with
``collection_embedding_function`` are queryable by a stock chromadb client using
``query_texts``. ``find_model_dir`` searches the configured folder, then chromadb's cache, and
says what it searched and how to install the model. ``get_embedding_function`` maps model names
to functions and rejects unknown names and Qwen without a Chroma Cloud key, naming
``embedding.dense.model``. The model is provisioned on the machine beforehand; nothing downloads.
"""

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.api.types import DefaultEmbeddingFunction
from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

from sync_pipelines.core.embedding import (
    MINILM_MODEL,
    EmbeddingConfigError,
    MiniLMEmbeddingFunction,
    ModelNotFoundError,
    collection_embedding_function,
    find_model_dir,
    get_embedding_function,
)
from sync_pipelines.core.embedding_cloud import QWEN_MODEL
from sync_pipelines.settings import get_settings

SENTENCES = [
    "The kitten is sleeping on the rug.",
    "Quarterly revenue grew by twelve percent thanks to cloud sales.",
    "Compile the Rust project with cargo build --release.",
    "The train to Lyon leaves from platform nine at noon.",
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return find_model_dir(get_settings().resolved_model_dir)


@pytest.fixture(scope="module")
def ours(model_dir: Path) -> MiniLMEmbeddingFunction:
    return MiniLMEmbeddingFunction(model_dir, batch_size=4)


@pytest.fixture
def chroma_uses(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point chromadb's stock function at the same model files (it reads DOWNLOAD_PATH/onnx)."""
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "DOWNLOAD_PATH", model_dir.parent)
    return model_dir


def _texts() -> list[str]:
    rng = random.Random(7)
    words = ["data", "river", "kitten", "sync", "vector", "the", "of", "a", "search", "rug"]
    texts = [" ".join(rng.choice(words) for _ in range(n)) for n in (1, 5, 40, 120, 3, 70)]
    texts += ["", "Ünïcode façade — naïve café 東京 🚀", "token " * 600]
    return texts


def test_vectors_equal_chroma_default(ours: MiniLMEmbeddingFunction, chroma_uses: Path) -> None:
    texts = _texts()
    mine = ours.embed(texts)
    stock = np.asarray(DefaultEmbeddingFunction()(texts))
    assert mine.shape == (len(texts), 384)
    assert mine.dtype == np.float32
    np.testing.assert_allclose(mine, stock, rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
    # Truncation at 256 tokens: 600 repetitions embed like 300 (both exceed the limit).
    np.testing.assert_allclose(ours.embed(["token " * 300])[0], mine[-1], atol=1e-6)


def test_call_protocol_returns_float32_arrays(ours: MiniLMEmbeddingFunction) -> None:
    vectors = ours(SENTENCES[:2])
    assert len(vectors) == 2
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in vectors)
    assert ours.embed([]).shape == (0, 384)


def test_order_preserved_with_shuffled_lengths(
    ours: MiniLMEmbeddingFunction, model_dir: Path
) -> None:
    rng = random.Random(3)
    texts = [f"item {i} " + "word " * rng.randint(0, 150) for i in range(23)]
    together = ours.embed(texts)
    one_by_one = np.stack([ours.embed([text])[0] for text in texts])
    np.testing.assert_allclose(together, one_by_one, rtol=0, atol=1e-6)
    wide = MiniLMEmbeddingFunction(model_dir, batch_size=32, max_batch_tokens=10**6)
    np.testing.assert_allclose(wide.embed(texts), one_by_one, rtol=0, atol=1e-6)
    assert len({row.tobytes() for row in together}) == len(texts)


def test_stock_client_queries_our_vectors(
    ours: MiniLMEmbeddingFunction, chroma_uses: Path, tmp_path: Path
) -> None:
    writer = chromadb.PersistentClient(path=str(tmp_path))
    collection = writer.create_collection(
        "docs",
        embedding_function=collection_embedding_function(MINILM_MODEL),  # type: ignore[arg-type]
    )
    collection.add(
        ids=[f"s{i}" for i in range(len(SENTENCES))],
        documents=SENTENCES,
        embeddings=ours.embed(SENTENCES),
    )
    assert collection.configuration["embedding_function"].name() == "default"  # type: ignore[union-attr]
    del writer, collection

    # A separate process that imports chromadb only, with its default embedding function.
    reader = textwrap.dedent(
        f"""
        import json, chromadb
        from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2
        ONNXMiniLM_L6_V2.DOWNLOAD_PATH = {str(chroma_uses.parent)!r}
        client = chromadb.PersistentClient(path={str(tmp_path)!r})
        result = client.get_collection("docs").query(
            query_texts=["feline on carpet"], n_results=4
        )
        print(json.dumps({{"ids": result["ids"][0], "documents": result["documents"][0]}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", reader], capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ids"][0] == "s0"
    assert result["documents"][0] == SENTENCES[0]
    assert sorted(result["ids"]) == ["s0", "s1", "s2", "s3"]


def test_find_model_dir_prefers_configured_root(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "DOWNLOAD_PATH", tmp_path / "chroma-cache")
    assert find_model_dir(model_dir.parent.parent) == model_dir
    (tmp_path / "chroma-cache").symlink_to(model_dir.parent)
    assert find_model_dir(tmp_path / "empty") == tmp_path / "chroma-cache" / "onnx"


def test_find_model_dir_error_names_folders_and_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "DOWNLOAD_PATH", tmp_path / "cache")
    with pytest.raises(ModelNotFoundError) as caught:
        find_model_dir(tmp_path / "models")
    message = str(caught.value)
    assert str(tmp_path / "models" / "all-MiniLM-L6-v2" / "onnx") in message
    assert str(tmp_path / "cache" / "onnx") in message
    assert "chroma-sync model install" in message


def test_registry_maps_names(model_dir: Path) -> None:
    local = get_embedding_function(MINILM_MODEL, model_dir=model_dir.parent.parent)
    assert isinstance(local, MiniLMEmbeddingFunction)
    assert local.model_dir == model_dir
    rebuilt = MiniLMEmbeddingFunction.build_from_config(local.get_config())
    assert rebuilt.model_dir == model_dir
    assert isinstance(collection_embedding_function(MINILM_MODEL), DefaultEmbeddingFunction)
    for bad in ("text-embedding-3-small", ""):
        with pytest.raises(EmbeddingConfigError, match=r"embedding\.dense\.model"):
            get_embedding_function(bad, model_dir=None, cloud_api_key=None)


def test_qwen_needs_cloud_key() -> None:
    with pytest.raises(EmbeddingConfigError, match=r"embedding\.dense\.model"):
        get_embedding_function(QWEN_MODEL, model_dir=None, cloud_api_key=None)
    with pytest.raises(EmbeddingConfigError, match=r"embedding\.dense\.model"):
        collection_embedding_function(QWEN_MODEL)


def test_qwen_with_key_is_chroma_cloud_function(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHROMA_API_KEY", raising=False)
    function = get_embedding_function(QWEN_MODEL, model_dir=None, cloud_api_key="ck-test-key")
    assert function.name() == "chroma-cloud-qwen"
    config = function.get_config()
    assert config["model"] == QWEN_MODEL
    assert config["task"] == "nl_to_code"
    assert function._session.headers["x-chroma-token"] == "ck-test-key"  # type: ignore[attr-defined]
    assert "CHROMA_API_KEY" not in os.environ
