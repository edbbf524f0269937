"""Benchmark: our MiniLM embedding function against chromadb's DefaultEmbeddingFunction.

Both run in this process on the same model files and the same deterministic chunk-like texts
(20-200 words drawn by a seeded RNG from a fixed word list). Prints texts/s of each, the
speed-up, and how far apart the two outputs are.

    .venv/bin/python bench/embed.py --n 1000
"""

import argparse
import random
import time

import numpy as np
from chromadb.api.types import DefaultEmbeddingFunction
from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

from sync_pipelines.core.embedding import (
    DEFAULT_MAX_BATCH_TOKENS,
    MAX_TOKENS,
    MiniLMEmbeddingFunction,
    find_model_dir,
)
from sync_pipelines.settings import get_settings

WORD_TEXT = (
    "the of and to in is that for it as with was on be by this are from or at an which "
    "data vector embedding collection chroma query document chunk source sync pipeline "
    "function return value error config model token search index metadata server client "
    "python import class def self list dict string number file path bucket object github "
    "repository website page markdown parser schedule run status update delete insert "
    "kitten rug garden river mountain weather coffee morning evening library museum music "
    "performance latency throughput memory storage network request response cache retry"
)
WORDS = tuple(WORD_TEXT.split())


def make_chunks(n: int, seed: int = 1234, min_words: int = 20, max_words: int = 200) -> list[str]:
    """``n`` chunk-like texts of ``min_words``-``max_words`` words, the same for the same args."""
    rng = random.Random(seed)
    chunks = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(min_words, max_words))]
        sentences, start = [], 0
        while start < len(words):
            end = min(len(words), start + rng.randint(6, 18))
            sentence = " ".join(words[start:end])
            sentences.append(sentence[0].upper() + sentence[1:] + ".")
            start = end
        chunks.append(" ".join(sentences))
    return chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of chunks (default 1000)")
    parser.add_argument("--words", type=int, nargs=2, default=(20, 60), metavar=("MIN", "MAX"))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-batch-tokens", type=int, default=DEFAULT_MAX_BATCH_TOKENS)
    args = parser.parse_args()

    model_dir = find_model_dir(get_settings().resolved_model_dir)
    ONNXMiniLM_L6_V2.DOWNLOAD_PATH = model_dir.parent  # chroma reads DOWNLOAD_PATH/onnx
    chunks = make_chunks(args.n, min_words=args.words[0], max_words=args.words[1])
    print(f"model files: {model_dir}")
    print(
        f"{len(chunks)} chunks, {sum(len(c.split()) for c in chunks) / len(chunks):.0f} words avg"
    )

    ours = MiniLMEmbeddingFunction(
        model_dir, batch_size=args.batch_size, max_batch_tokens=args.max_batch_tokens
    )
    ours.embed(chunks[:2])  # load the session outside the timing, as a long-lived worker would
    tokenizer, _ = ours._load()
    tokens = np.array([len(e.ids) for e in tokenizer.encode_batch(chunks)])
    print(
        f"tokens per chunk: mean {tokens.mean():.0f}, max kept {tokens.max()}; chroma pads all "
        f"to {MAX_TOKENS}, so padding alone bounds the speed-up near "
        f"{MAX_TOKENS / tokens.mean():.1f}x"
    )
    start = time.perf_counter()
    ours_vectors = ours.embed(chunks)
    ours_seconds = time.perf_counter() - start

    arena = MiniLMEmbeddingFunction(
        model_dir,
        batch_size=args.batch_size,
        max_batch_tokens=args.max_batch_tokens,
        cpu_arena=True,
    )
    arena.embed(chunks[:2])
    start = time.perf_counter()
    arena.embed(chunks)
    arena_seconds = time.perf_counter() - start

    stock = DefaultEmbeddingFunction()
    stock(chunks[:2])
    start = time.perf_counter()
    stock_vectors = np.asarray(stock(chunks), dtype=np.float32)
    stock_seconds = time.perf_counter() - start

    ours_rate = len(chunks) / ours_seconds
    stock_rate = len(chunks) / stock_seconds
    cosine = np.sum(ours_vectors * stock_vectors, axis=1) / (
        np.linalg.norm(ours_vectors, axis=1) * np.linalg.norm(stock_vectors, axis=1)
    )
    print(f"ours:   {ours_rate:8.1f} texts/s ({ours_seconds:.2f} s)")
    print(
        f"ours with onnxruntime's CPU arena: {len(chunks) / arena_seconds:8.1f} texts/s "
        f"({arena_seconds:.2f} s); the default (no arena) runs at "
        f"{arena_seconds / ours_seconds:.2f}x its speed"
    )
    print(f"chroma: {stock_rate:8.1f} texts/s ({stock_seconds:.2f} s)")
    print(f"speed-up: {ours_rate / stock_rate:.2f}x (target >= 5x)")
    print(f"max abs diff: {np.abs(ours_vectors - stock_vectors).max():.3g}")
    print(f"min cosine:   {cosine.min():.7f}")


if __name__ == "__main__":
    main()
