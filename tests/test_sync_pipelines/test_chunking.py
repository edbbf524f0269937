"""Contract of `sync_pipelines.core.chunking`: `chunk_document` splits a parsed document into
chunks that are in document order, never overlap, are whole-line slices (`text` equals lines
start_line..end_line joined by "\\n", blank edge lines trimmed) except the pieces of a line
longer than the cap, hold every non-whitespace character exactly once, never exceed
`max_size_bytes` UTF-8 bytes (nor `max_lines` lines under the `lines` strategy), are never
whitespace-only, and are deterministic. Under `tree_sitter`, code is cut along syntax nodes
(top-level definitions apart, a too-big class split into methods), markdown along headings
outside fenced code, and other text falls back to size-bounded line windows, which
`strategy_used` then reports as "lines".
"""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipelines.core.chunking import chunk_document, strategy_used
from sync_pipelines.core.types import Chunk, ChunkingOptions, ParsedDocument


def chunk(text: str, language: str | None, **options: object) -> list[Chunk]:
    return chunk_document(ParsedDocument(text, language), ChunkingOptions(**options))  # type: ignore[arg-type]


def spans(chunks: list[Chunk]) -> list[tuple[int, int]]:
    return [(c.start_line, c.end_line) for c in chunks]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.split("\n"), 1) if needle in line)


def check_invariants(doc: ParsedDocument, options: ChunkingOptions, chunks: list[Chunk]) -> None:
    """Assert every documented invariant of `chunks` for `doc`."""
    lines = doc.text.split("\n")
    cap = max(options.max_size_bytes, 4)
    row, col = 0, 0  # cursor: everything before it is covered or whitespace
    for c in chunks:
        assert c.text.strip(), "whitespace-only chunk"
        assert len(c.text.encode()) <= cap
        assert 1 <= c.start_line <= c.end_line <= len(lines)
        whole = "\n".join(lines[c.start_line - 1 : c.end_line])
        if c.text == whole:
            first = c.start_line - 1
            assert first > row or (first == row and col == 0), "overlap or out of order"
            gap = "\n".join(lines[row:first])[col:]
            assert not gap.strip(), "uncovered content before chunk"
            assert (
                c.text == c.text.strip("\n")
                and lines[first].strip()
                and lines[c.end_line - 1].strip()
            )
            if options.strategy == "lines":
                assert c.end_line - c.start_line + 1 <= max(options.max_lines, 1)
            row, col = c.end_line, 0
        else:
            assert c.start_line == c.end_line, "a piece spans lines"
            target = c.start_line - 1
            if options.max_tokens is None:  # token budgets: see test_chunk_budgets.py
                assert len(lines[target].encode()) > cap, "only over-long lines are split"
            assert target >= row
            if target > row:
                assert not "\n".join(lines[row:target])[col:].strip()
                col = 0
            at = lines[target].find(c.text, col)
            assert at >= 0 and not lines[target][col:at].strip()
            row, col = target, at + len(c.text)
            if col == len(lines[target]):
                row, col = target + 1, 0
    assert not "\n".join(lines[row:])[col:].strip(), "uncovered content at the end"
    stripped = "".join(c.text for c in chunks)
    assert "".join(stripped.split()) == "".join(doc.text.split())


PYTHON_MODULE = '''"""Configuration loading for the worker."""

import json
import os
from pathlib import Path

DEFAULT_PATH = Path("/etc/worker.json")


def load_config(path: Path = DEFAULT_PATH) -> dict[str, object]:
    """Read the JSON configuration file."""
    with path.open() as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object")
    return data


@dataclass
class Settings:
    """Typed view of the configuration."""

    host: str
    port: int
    debug: bool = False

    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


# Environment overrides win over the file.
def from_env(base: Settings) -> Settings:
    host = os.environ.get("WORKER_HOST", base.host)
    port = int(os.environ.get("WORKER_PORT", base.port))
    return Settings(host=host, port=port, debug=base.debug)
'''


def test_python_definitions_land_in_separate_chunks() -> None:
    chunks = chunk(PYTHON_MODULE, "python", max_size_bytes=330)
    src = PYTHON_MODULE
    assert spans(chunks) == [
        (1, line_of(src, "DEFAULT_PATH =")),
        (line_of(src, "def load_config"), line_of(src, "    return data")),
        (line_of(src, "@dataclass"), line_of(src, 'return f"http')),
        (line_of(src, "# Environment"), line_of(src, "return Settings(")),
    ]
    assert chunks[1].text.startswith("def load_config(")
    assert chunks[3].text.startswith("# Environment overrides win over the file.\ndef from_env(")
    check_invariants(ParsedDocument(src, "python"), ChunkingOptions(max_size_bytes=330), chunks)


def test_small_python_module_is_one_chunk() -> None:
    chunks = chunk(PYTHON_MODULE, "python", max_size_bytes=5000)
    assert len(chunks) == 1
    assert chunks[0].text == PYTHON_MODULE.rstrip("\n")
    assert spans(chunks) == [(1, PYTHON_MODULE.count("\n"))]


def method(name: str, body_lines: int) -> str:
    body = "".join(f"        total += {name}_{i}(value)\n" for i in range(body_lines))
    return f"    def {name}(self, value):\n        total = 0\n{body}        return total\n"


def test_big_class_is_split_into_methods() -> None:
    methods = ["alpha", "beta", "gamma", "delta"]
    src = (
        'import math\n\n\nclass Engine:\n    """Does work."""\n\n'
        + "\n".join(method(name, 8) for name in methods)
        + "\n\ndef after():\n    return Engine()\n"
    )
    options = ChunkingOptions(max_size_bytes=400)
    chunks = chunk_document(ParsedDocument(src, "python"), options)
    check_invariants(ParsedDocument(src, "python"), options, chunks)
    assert chunks[0].text == "import math"
    assert chunks[1].text.startswith('class Engine:\n    """Does work."""\n\n    def alpha(')
    assert [c.text.split("\n")[0] for c in chunks[2:5]] == [
        f"    def {name}(self, value):" for name in methods[1:]
    ]
    for c, name in zip(chunks[1:5], methods, strict=True):
        assert c.end_line == line_of(src, f"{name}_7(value)") + 1
        assert c.text.endswith("        return total")
    assert chunks[5].text == "def after():\n    return Engine()"
    assert chunks[5].start_line == line_of(src, "def after")


def test_oversized_leaf_falls_back_to_line_windows() -> None:
    src = "x = 1\n\nBIG = [\n" + "".join(f'    "{i:04d}",\n' for i in range(60)) + "]\n"
    options = ChunkingOptions(max_size_bytes=120)
    chunks = chunk_document(ParsedDocument(src, "python"), options)
    check_invariants(ParsedDocument(src, "python"), options, chunks)
    assert len(chunks) > 5
    assert all(len(c.text.encode()) <= 120 for c in chunks)


@pytest.mark.parametrize(
    ("language", "first", "second"),
    [
        (
            "javascript",
            "function one(a) {\n  return a + 1;\n}",
            "function two(b) {\n  return b * 2;\n}",
        ),
        (
            "typescript",
            "function one(a: number): number {\n  return a + 1;\n}",
            "export const two = (b: number) => {\n  return b * 2;\n};",
        ),
        (
            "tsx",
            "function One() {\n  return <div>one</div>;\n}",
            "function Two() {\n  return <span>two</span>;\n}",
        ),
        (
            "go",
            "func one(a int) int {\n\treturn a + 1\n}",
            "func two(b int) int {\n\treturn b * 2\n}",
        ),
        ("rust", "fn one(a: i32) -> i32 {\n    a + 1\n}", "fn two(b: i32) -> i32 {\n    b * 2\n}"),
        (
            "java",
            "class One {\n  int one(int a) { return a + 1; }\n}",
            "class Two {\n  int two(int b) { return b * 2; }\n}",
        ),
        ("c", "int one(int a) {\n  return a + 1;\n}", "int two(int b) {\n  return b * 2;\n}"),
        ("bash", 'one() {\n  echo "$1"\n}', 'two() {\n  echo "$2"\n}'),
    ],
)
def test_each_grammar_separates_top_level_definitions(
    language: str, first: str, second: str
) -> None:
    src = f"{first}\n\n{second}\n"
    cap = max(len(first.encode()), len(second.encode())) + 2
    chunks = chunk(src, language, max_size_bytes=cap)
    assert [c.text for c in chunks] == [first, second]
    assert chunks[1].start_line == first.count("\n") + 3
    assert strategy_used(ParsedDocument(src, language), ChunkingOptions()) == "tree_sitter"


MARKDOWN = """# Guide

Intro paragraph.

## Install

```bash
# this is a comment, not a heading
pip install thing
```

Setext Section
--------------

Body of the setext section.

## Usage

Use it carefully, and read the whole guide before you start.
"""


def test_markdown_splits_at_headings_but_not_inside_fences() -> None:
    chunks = chunk(MARKDOWN, "markdown", max_size_bytes=90)
    assert [c.text.split("\n")[0] for c in chunks] == [
        "# Guide",
        "## Install",
        "Setext Section",
        "## Usage",
    ]
    assert "# this is a comment, not a heading\npip install thing\n```" in chunks[1].text
    assert spans(chunks)[1] == (5, 10)
    check_invariants(
        ParsedDocument(MARKDOWN, "markdown"), ChunkingOptions(max_size_bytes=90), chunks
    )


def test_markdown_packs_small_sections_together() -> None:
    chunks = chunk(MARKDOWN, "markdown", max_size_bytes=150)
    assert [c.text.split("\n")[0] for c in chunks] == ["# Guide", "Setext Section"]
    assert chunks[0].end_line == 10


def test_big_markdown_section_is_split_by_paragraph() -> None:
    paragraphs = [f"Paragraph {i} " + "words " * 12 for i in range(6)]
    src = "# Intro\n\nShort.\n\n# Long\n\n" + "\n\n".join(p.strip() for p in paragraphs) + "\n"
    chunks = chunk(src, "markdown", max_size_bytes=200)
    assert chunks[0].text == "# Intro\n\nShort."
    assert chunks[1].text.startswith("# Long\n\nParagraph 0 ")
    for c in chunks[1:]:
        assert c.text.split("\n")[-1].startswith("Paragraph ")
    assert sum(c.text.count("Paragraph ") for c in chunks) == 6


def test_lines_strategy_respects_max_lines() -> None:
    src = "\n".join(f"line {i}" for i in range(1, 11))
    chunks = chunk(src, "python", strategy="lines", max_lines=3, max_size_bytes=1000)
    assert spans(chunks) == [(1, 3), (4, 6), (7, 9), (10, 10)]
    assert chunks[1].text == "line 4\nline 5\nline 6"


def test_lines_strategy_respects_max_size_and_trims_blank_lines() -> None:
    src = "\n\naaaaaaaaa\nbbbbbbbbb\n\n\nccccccccc\n   \n"
    chunks = chunk(src, None, strategy="lines", max_lines=50, max_size_bytes=19)
    assert [(c.text, c.start_line, c.end_line) for c in chunks] == [
        ("aaaaaaaaa\nbbbbbbbbb", 3, 4),
        ("ccccccccc", 7, 7),
    ]


def test_multibyte_characters_count_in_bytes() -> None:
    chunks = chunk("éé\néé\néé", None, strategy="lines", max_size_bytes=9)
    assert spans(chunks) == [(1, 2), (3, 3)]
    pieces = chunk("x\n" + "é" * 10, None, strategy="lines", max_size_bytes=7)
    assert [(c.text, c.start_line) for c in pieces] == [
        ("x", 1),
        ("ééé", 2),
        ("ééé", 2),
        ("ééé", 2),
        ("é", 2),
    ]
    emoji = chunk("😀😀😀", "python", max_size_bytes=7)
    assert [c.text for c in emoji] == ["😀", "😀", "😀"]


def test_long_line_splits_after_spaces() -> None:
    words = " ".join(["alpha", "beta", "gamma", "delta"] * 10)
    chunks = chunk(words, "markdown", max_size_bytes=40)
    assert "".join(c.text for c in chunks) == words
    assert all(c.text.endswith(" ") for c in chunks[:-1])
    assert {c.start_line for c in chunks} == {1}


def test_tree_sitter_on_plain_text_uses_size_bounded_lines() -> None:
    src = "\n".join(f"row {i}" for i in range(100))
    doc = ParsedDocument(src, None)
    assert strategy_used(doc, ChunkingOptions(strategy="tree_sitter")) == "lines"
    assert spans(chunk_document(doc, ChunkingOptions(max_size_bytes=5000, max_lines=10))) == [
        (1, 100)
    ]


@pytest.mark.parametrize(
    ("language", "strategy", "used"),
    [
        ("python", "tree_sitter", "tree_sitter"),
        ("markdown", "tree_sitter", "tree_sitter"),
        ("tsx", "tree_sitter", "tree_sitter"),
        ("cpp", "tree_sitter", "lines"),
        ("yaml", "tree_sitter", "lines"),
        (None, "tree_sitter", "lines"),
        ("python", "lines", "lines"),
        ("markdown", "lines", "lines"),
    ],
)
def test_strategy_used(language: str | None, strategy: str, used: str) -> None:
    options = ChunkingOptions(strategy=strategy)  # type: ignore[arg-type]
    assert strategy_used(ParsedDocument("x", language), options) == used


@pytest.mark.parametrize("strategy", ["tree_sitter", "lines"])
@pytest.mark.parametrize("language", ["python", "markdown", None])
def test_empty_and_blank_documents_have_no_chunks(strategy: str, language: str | None) -> None:
    options = ChunkingOptions(strategy=strategy)  # type: ignore[arg-type]
    assert chunk_document(ParsedDocument("", language), options) == []
    assert chunk_document(ParsedDocument(" \n\n\t\n", language), options) == []


FRAGMENTS = [
    "",
    "   ",
    "def f(x):",
    "    return x",
    "class A:",
    "    def m(self):",
    "        pass",
    "# comment",
    "#",
    "## Heading",
    "Title",
    "=====",
    "---",
    "```",
    "~~~~",
    "- item",
    "{",
    "}",
    "function g() { return 1; }",
    "x = 'é😀' * 3",
    "word " * 30,
    "ééééééééééééééééééééééé",
]
LANGUAGES = [None, "python", "markdown", "javascript", "typescript", "go", "rust", "c", "bash"]
texts = st.lists(
    st.sampled_from(FRAGMENTS) | st.text(alphabet=" \t\r#`=-:{}()aé😀\n", max_size=25),
    max_size=40,
).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(
    text=texts,
    language=st.sampled_from(LANGUAGES),
    strategy=st.sampled_from(["tree_sitter", "lines"]),
    max_size=st.integers(min_value=0, max_value=300),
    max_lines=st.integers(min_value=0, max_value=15),
)
def test_chunk_invariants_hold_for_any_text(
    text: str, language: str | None, strategy: str, max_size: int, max_lines: int
) -> None:
    doc = ParsedDocument(text, language)
    options = ChunkingOptions(strategy=strategy, max_size_bytes=max_size, max_lines=max_lines)  # type: ignore[arg-type]
    chunks = chunk_document(doc, options)
    check_invariants(doc, options, chunks)
    assert chunk_document(doc, options) == chunks
    if not text.strip():
        assert chunks == []


def big_python() -> str:
    body = "\n\n".join(
        f'class Model{i}:\n    """Model {i}."""\n\n'
        + "\n\n".join(
            f"    def method_{j}(self, value: int) -> int:\n"
            f"        result = value * {j} + {i}\n"
            f"        return result  # comment {'x' * 20}"
            for j in range(12)
        )
        for i in range(650)
    )
    return body + "\n"


def big_markdown() -> str:
    sections = []
    for i in range(1900):
        sections.append(
            f"## Section {i}\n\n" + "Some prose words here. " * 20 + "\n\n"
            "```python\n# not a heading\nprint('hi')\n```\n\n- a list item\n- another one\n"
        )
    return "# Big document\n\n" + "\n".join(sections)


@pytest.mark.parametrize(("language", "make"), [("python", big_python), ("markdown", big_markdown)])
def test_one_megabyte_chunks_in_well_under_a_second(language: str, make: object) -> None:
    text = make()  # type: ignore[operator]
    assert len(text.encode()) > 1_000_000
    doc = ParsedDocument(text, language)
    options = ChunkingOptions()
    started = time.perf_counter()
    chunks = chunk_document(doc, options)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{language}: {elapsed:.3f}s"
    check_invariants(doc, options, chunks)
