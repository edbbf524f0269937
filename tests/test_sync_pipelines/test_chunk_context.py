"""The context a chunk carries: what it starts inside and does not itself begin.

Contract: under ``default_chunking_options`` a chunk that starts inside a function or class
names the enclosing definitions, outermost first (``class Client > def send``, for every
grammar: Go receivers, Rust impls, Java methods past their annotations), a chunk that starts
inside a markdown section names its heading path (``Guide > Install > Linux``), a chunk that
begins with its own definition or heading names only its parents, and top-level chunks name
nothing. The context is embedded on a line before the text and counted in the token budget;
``ChunkingOptions()`` (chunker version 1) gives no context.
"""

import pytest

from sync_pipelines.core.chunking import chunk_document, default_chunking_options
from sync_pipelines.core.types import ChunkingOptions, ParsedDocument
from tests.test_sync_pipelines.test_chunk_budgets import MINILM, check_budget
from tests.test_sync_pipelines.test_chunking import line_of


def method(name: str, lines: int) -> str:
    body = "".join(f"        total += step_{i}(request, attempt)\n" for i in range(lines))
    return (
        f"    def {name}(self, request, attempt):\n        total = 0\n{body}        return total\n"
    )


def test_function_split_in_the_middle_carries_its_class_and_def() -> None:
    src = (
        'import os\n\n\nclass Client:\n    """Sends requests."""\n\n'
        + method("send", 60)
        + "\n"
        + method("close", 3)
        + "\n\ndef after():\n    return Client()\n"
    )
    options = default_chunking_options(MINILM)
    doc = ParsedDocument(src, "python")
    chunks = chunk_document(doc, options)
    check_budget(doc, options, chunks)
    send, close = line_of(src, "def send"), line_of(src, "def close")
    inside_send = [c for c in chunks if send < c.start_line < close]
    assert len(inside_send) >= 2, "the method is split"
    for c in inside_send:
        assert c.context == "class Client > def send"
        assert c.embedded_text == f"class Client > def send\n{c.text}"
    assert {c.context for c in chunks if c.start_line in (send, close)} == {"class Client"}
    assert {c.context for c in chunks if c.start_line < send} <= {None}
    assert chunks[-1].text.startswith("def after") and chunks[-1].context is None
    legacy = chunk_document(doc, ChunkingOptions())
    assert {c.context for c in legacy} == {None}


@pytest.mark.parametrize(
    ("language", "src", "inner", "context"),
    [
        (
            "go",
            "package main\n\nfunc (c *Client) Send(r Request) int {\n"
            + "".join(f"\ttotal += step{i}(r, attempt)\n" for i in range(80))
            + "\treturn total\n}\n",
            "step70",
            "func (c *Client) Send",
        ),
        (
            "rust",
            "impl Display for Point {\n    fn fmt(&self, f: &mut Formatter) -> Result {\n"
            + "".join(f'        write!(f, "{{}}", self.field_{i})?;\n' for i in range(80))
            + "        Ok(())\n    }\n}\n",
            "field_70",
            "impl Display for Point > fn fmt",
        ),
        (
            "java",
            "public class Client {\n    @Override\n    public int send(Request r) {\n"
            + "".join(f"        total += step{i}(r, attempt);\n" for i in range(80))
            + "        return total;\n    }\n}\n",
            "step70",
            "public class Client > public int send",
        ),
    ],
)
def test_other_grammars_name_the_enclosing_definitions(
    language: str, src: str, inner: str, context: str
) -> None:
    options = default_chunking_options(MINILM)
    doc = ParsedDocument(src, language)
    chunks = chunk_document(doc, options)
    check_budget(doc, options, chunks)
    (holder,) = [c for c in chunks if inner in c.text]
    assert holder.context == context


GUIDE = (
    "# Guide\n\nIntro words.\n\n## Install\n\n"
    + "\n\n".join(f"Install step {i}: " + "download unpack configure " * 12 for i in range(8))
    + "\n\n### Linux\n\n"
    + "\n\n".join(f"Linux note {i}: " + "package manager repository " * 12 for i in range(4))
    + "\n\n## Usage\n\nRun it.\n"
)


def test_markdown_section_split_carries_its_heading_path() -> None:
    options = default_chunking_options(MINILM)
    doc = ParsedDocument(GUIDE, "markdown")
    chunks = chunk_document(doc, options)
    check_budget(doc, options, chunks)
    install, linux = line_of(GUIDE, "## Install"), line_of(GUIDE, "### Linux")
    usage = line_of(GUIDE, "## Usage")
    expected = {1: None, install: "Guide", linux: "Guide > Install", usage: "Guide"}
    for c in chunks:
        if c.start_line in expected:
            assert c.context == expected[c.start_line]
        elif install < c.start_line < linux:
            assert c.context == "Guide > Install"
        elif linux < c.start_line < usage:
            assert c.context == "Guide > Install > Linux"
    assert any(install < c.start_line < linux for c in chunks), "the section is split"
