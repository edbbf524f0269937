"""Token budgets per embedding model (the context itself: test_chunk_context.py).

Contract: with ``default_chunking_options(model)`` (what every sync uses) no chunk's embedded
text (its context line, then its text) exceeds the window of the model that embeds it, counted
with that model's tokenizer and its special tokens (all-MiniLM-L6-v2: 256 WordPiece tokens;
Qwen3-Embedding: 32,768 tokens, bounded by 8,192 UTF-8 bytes since a byte-level BPE token is at
least one byte), for every strategy and document type; the chunks still hold every
non-whitespace character exactly once, in order, within the byte and line caps, and a line is
cut inside only when it does not fit on its own; the streaming chunker gives the same chunks,
context included. ``ChunkingOptions()`` stays the byte-only chunker of version 1.
"""

import functools
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from sync_pipelines.core.chunking import chunk_document, stream
from sync_pipelines.core.chunking.budgets import (
    MODEL_BUDGETS,
    default_chunking_options,
    token_window,
)
from sync_pipelines.core.chunking.tokens import token_counter, tokenizer_path
from sync_pipelines.core.embedding import SUPPORTED_MODELS
from sync_pipelines.core.parsing import ParseError, parse_object
from sync_pipelines.core.types import Chunk, ChunkingOptions, ParsedDocument, embedded_text
from sync_pipelines.schemas import (
    LinesChunkingConfig,
    TreeSitterChunkingConfig,
    to_chunking_options,
)
from sync_pipelines.schemas.embedding import DenseModelName
from tests.test_sync_pipelines.test_chunking import check_invariants

MINILM = "all-MiniLM-L6-v2"
QWEN = "Qwen/Qwen3-Embedding-0.6B"
MODELS = [MINILM, QWEN]
REPO = Path(__file__).resolve().parents[2]
SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
SITE = SITE / "site-packages"


@functools.cache
def minilm() -> Tokenizer:
    """The model's own tokenizer as the embedding function uses it, without truncation."""
    tokenizer = Tokenizer.from_file(str(tokenizer_path(MINILM)))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def window_tokens(model: str, text: str) -> int:
    """Tokens the model sees for ``text``, special tokens included (Qwen: an upper bound)."""
    if model == MINILM:
        return len(minilm().encode(text).ids)
    return len(text.encode()) + MODEL_BUDGETS[QWEN].special_tokens


def budget_tokens(model: str, text: str) -> int:
    """Tokens of ``text`` as the budget counts them (special tokens excluded)."""
    if model == MINILM:
        return len(minilm().encode(text, add_special_tokens=False).ids)
    return len(text.encode())


def check_budget(doc: ParsedDocument, options: ChunkingOptions, chunks: list[Chunk]) -> None:
    """Every invariant of test_chunking, plus the model's window and budget."""
    model = options.token_model
    assert model is not None and options.max_tokens is not None
    check_invariants(doc, options, chunks)
    lines = doc.text.split("\n")
    cap = max(options.max_size_bytes, 4)
    for c in chunks:
        assert window_tokens(model, c.embedded_text) <= token_window(model), c
        assert budget_tokens(model, c.embedded_text) <= options.max_tokens
        line = lines[c.start_line - 1]
        if c.start_line == c.end_line and c.text != line:
            # a piece of a line: the line cannot have fitted whole
            whole = embedded_text(line, c.context)
            assert len(line.encode()) > cap or budget_tokens(model, whole) > options.max_tokens
    assert chunk_document(doc, options) == chunks


FRAGMENTS = [
    "",
    "   ",
    "# Guide",
    "## Install",
    "### Linux",
    "Setext title",
    "=====",
    "---",
    "```python",
    "```",
    "- item " * 12,
    "> quoted words " * 30,
    "| a | b | c |",
    "class Client:",
    "    def send(self, request, attempt):",
    "        total = compute(request, 'payload', attempt) + 1",
    "        return total",
    "def helper(x):",
    "function g(a) {",
    "}",
    "x = call(" + "argument, " * 60 + ")",
    "(" * 300,
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8" * 40,
    "supercalifragilistic" * 10,
    "a1b2c3d4" * 30,
    "\u00f1and\u00fa caf\u00e9 r\u00e9sum\u00e9 " * 20,
    "\U0001f600 " * 200,
    "word, " * 150,
    "0.1 " * 200,
    "plain prose words that go on " * 8,
]
LANGUAGES = [None, "python", "markdown", "javascript", "typescript", "go", "rust", "c", "java"]
texts = st.lists(
    st.sampled_from(FRAGMENTS)
    | st.text(alphabet=" \t#`=-:{}()a\u00e9\u65e5\U0001f600\n", max_size=40),
    max_size=50,
).map("\n".join)


@settings(max_examples=120, deadline=None)
@given(
    text=texts,
    language=st.sampled_from(LANGUAGES),
    model=st.sampled_from(MODELS),
    strategy=st.sampled_from(["tree_sitter", "lines"]),
    max_size=st.none() | st.integers(min_value=0, max_value=20_000),
    max_lines=st.none() | st.integers(min_value=0, max_value=60),
)
def test_generated_chunks_fit_the_window_of_their_model(
    text: str,
    language: str | None,
    model: str,
    strategy: typing.Literal["tree_sitter", "lines"],
    max_size: int | None,
    max_lines: int | None,
) -> None:
    options = default_chunking_options(
        model, strategy=strategy, max_size_bytes=max_size, max_lines=max_lines
    )
    doc = ParsedDocument(text, language)
    check_budget(doc, options, chunk_document(doc, options))


def real_files() -> list[Path]:
    """Python and markdown files of installed packages and of this repository."""
    files = [p for pkg in ("httpx", "requests") for p in sorted((SITE / pkg).rglob("*.py"))]
    files += [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    files += [REPO / "sync_pipelines" / "spec" / "NOTES.md"]
    return [p for p in files if p.is_file()]


def parsed(path: Path) -> ParsedDocument | None:
    try:
        return parse_object(path.name, path.read_bytes())
    except ParseError:
        return None


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("strategy", ["tree_sitter", "lines"])
def test_real_files_fit_the_window_of_their_model(model: str, strategy: str) -> None:
    files = real_files()
    assert len(files) > 40
    options = default_chunking_options(model, strategy=strategy)  # type: ignore[arg-type]
    big = default_chunking_options(model, strategy=strategy, max_size_bytes=50_000)  # type: ignore[arg-type]
    for path in files:
        doc = parsed(path)
        if doc is None:
            continue
        check_budget(doc, options, chunk_document(doc, options))
        check_budget(doc, big, chunk_document(doc, big))


def test_wordpiece_line_counts_add_up_exactly() -> None:
    counter = token_counter(MINILM)
    assert counter.join_cost == 0
    for path in real_files():
        doc = parsed(path)
        if doc is None:
            continue
        lines = doc.text.split("\n")
        assert sum(counter.count_lines(lines)) == counter.count(doc.text), path


def test_models_windows_and_defaults() -> None:
    assert set(MODEL_BUDGETS) == set(SUPPORTED_MODELS) == set(typing.get_args(DenseModelName))
    assert token_window(MINILM) == 256 and token_window(QWEN) == 32768
    minilm_options = default_chunking_options(MINILM)
    assert minilm_options == ChunkingOptions(
        strategy="tree_sitter",
        max_size_bytes=1500,
        max_lines=50,
        max_tokens=254,
        token_model=MINILM,
        context=True,
    )
    assert minilm_options.max_tokens + 2 == token_window(MINILM)  # [CLS] ... [SEP]
    assert default_chunking_options(QWEN).max_tokens == 8192
    with pytest.raises(ValueError, match="unknown embedding model"):
        default_chunking_options("nomic-embed-text")
    with pytest.raises(ValueError, match="unknown embedding model"):
        token_window("nomic-embed-text")


def test_source_config_keeps_its_caps_and_gets_the_model_budget() -> None:
    tree = TreeSitterChunkingConfig(type="tree_sitter")
    assert to_chunking_options(tree, MINILM) == default_chunking_options(MINILM)
    lines = LinesChunkingConfig(type="lines", max_lines=0, max_size_bytes=900)
    assert to_chunking_options(lines, QWEN) == default_chunking_options(
        QWEN, strategy="lines", max_size_bytes=900, max_lines=1
    )
    assert to_chunking_options(tree) == ChunkingOptions()  # the byte-only chunker


_BLOCKS = st.sampled_from(
    [
        "# Title",
        "## Sub heading ##",
        "### Deeper",
        "Setext heading\n===",
        "Another\n---",
        "```\ncode # not a heading\n\n## nor this\n```",
        "- item\n- item two",
        "",
        "plain words " * 30,
        "(" * 400,
        "caf\u00e9 \u65e5\u672c\u8a9e " * 40,
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    blocks=st.lists(_BLOCKS, max_size=60),
    language=st.sampled_from(["markdown", None]),
    model=st.sampled_from(MODELS),
    strategy=st.sampled_from(["tree_sitter", "lines"]),
    window=st.integers(min_value=1, max_value=3000),
)
def test_streaming_gives_the_same_chunks_and_context(
    blocks: list[str],
    language: str | None,
    model: str,
    strategy: typing.Literal["tree_sitter", "lines"],
    window: int,
) -> None:
    text = "\n".join(blocks)
    options = default_chunking_options(model, strategy=strategy, max_lines=7)
    whole = chunk_document(ParsedDocument(text, language), options)
    saved = stream.WINDOW_CHARS, stream.MAX_HELD_CHARS
    stream.WINDOW_CHARS, stream.MAX_HELD_CHARS = window, 10**9
    try:
        streamed = list(stream.stream_chunks(iter(text.split("\n")), language, options))
    finally:
        stream.WINDOW_CHARS, stream.MAX_HELD_CHARS = saved
    assert streamed == whole


RACE = """
import sys, threading
from sync_pipelines.core.chunking import chunk_document
from sync_pipelines.core.chunking.budgets import default_chunking_options
from sync_pipelines.core.types import ParsedDocument

errors = []
barrier = threading.Barrier(7)
doc = ParsedDocument(text="# Title\\n\\n" + "word " * 400 + "\\n", language="markdown")

def embedder():
    barrier.wait()
    import sync_pipelines.core.embedding  # noqa: F401  (what the embed step imports)

def chunker():
    barrier.wait()
    try:
        chunk_document(doc, default_chunking_options("all-MiniLM-L6-v2"))
    except Exception as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=embedder)] + [threading.Thread(target=chunker) for _ in range(6)]
[t.start() for t in threads]
[t.join() for t in threads]
print(errors[:2])
sys.exit(1 if errors else 0)
"""

ALONE = """
import sys
from sync_pipelines.core.chunking import chunk_document
from sync_pipelines.core.chunking.budgets import default_chunking_options
from sync_pipelines.core.types import ParsedDocument

doc = ParsedDocument(text="# Title\\n\\n" + "word " * 400 + "\\n", language="markdown")
assert len(chunk_document(doc, default_chunking_options("all-MiniLM-L6-v2"))) > 1
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"chromadb", "onnxruntime"})
print(heavy)
sys.exit(1 if heavy else 0)
"""


def test_first_chunking_in_many_threads_beside_the_embedders_import() -> None:
    """A batch run chunks in worker threads while the embed step imports chromadb: the first
    token counting must not import chromadb too (importlib hands one of two importing threads a
    partly initialised module), and the counter is made once."""
    alone = subprocess.run([sys.executable, "-c", ALONE], capture_output=True, text=True)
    assert alone.returncode == 0, alone.stdout + alone.stderr  # counting never loads chromadb
    run = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
