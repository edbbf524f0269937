"""Pure pieces of bench/retrieval.py: the query rules and the ranking metrics.

Code queries: the summary line (first docstring line) of every public function, class and
method of a Python file (no name on its path starts with ``_``); the relevant document is that
file. Prose queries: every markdown heading (ATX ``#``, or setext with a 3+ character
``===``/``---`` underline; outside fenced code and YAML front matter; a trailing ``{: #id}``
attribute list cut off); the relevant document is its page. Only queries with a word of 3+
letters whose text (case-folded) occurs in one document are kept, so each has one right
answer; past the cap, every (n/cap)-th in (path, line) order is used. Pages are indexed with
their front matter dropped and every heading's text removed: its line becomes a bare ``#``
marker of its level, so the page keeps its sections but no query matches it literally.
"""

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

Kind = Literal["code", "prose"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(={3,}|-{3,})[ \t]*$")
_NOT_PARAGRAPH = re.compile(r"^ {0,3}(?:[-+*>|]|\d+[.)])(?:[ \t]|$)|^(?: {4}|\t)")
_WORD = re.compile(r"[^\W\d_]{3,}")
_ATTR_LIST = re.compile(r"[ \t]*\{:?[^{}]*\}[ \t]*$")


@dataclass(frozen=True)
class Query:
    """A query, the document it must find, and where it comes from (for a stable order)."""

    text: str
    path: str
    line: int
    kind: Kind


@dataclass(frozen=True)
class Heading:
    """A markdown heading: its text, level and rows (two rows for setext)."""

    text: str
    level: int
    first: int
    last: int


def code_queries(path: str, source: str) -> list[Query]:
    """Docstring summary lines of the public functions, classes and methods of a module."""
    found: list[Query] = []

    def visit(nodes: Iterable[ast.stmt]) -> None:
        for node in nodes:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            if node.name.startswith("_"):
                continue
            doc = ast.get_docstring(node)
            if doc and doc.strip():
                summary = doc.strip().splitlines()[0].strip()
                found.append(Query(summary, path, node.lineno, "code"))
            if isinstance(node, ast.ClassDef):
                visit(node.body)

    visit(ast.parse(source).body)
    return found


def front_matter_rows(lines: Sequence[str]) -> int:
    """Rows taken by a leading YAML front matter block (``---`` ... ``---``), else 0."""
    if not lines or lines[0].strip() != "---":
        return 0
    for row in range(1, len(lines)):
        if lines[row].strip() in {"---", "..."}:
            return row + 1
    return 0


def headings(lines: Sequence[str]) -> list[Heading]:
    """The headings of markdown lines, outside fenced code and front matter."""
    found: list[Heading] = []
    fence: str | None = None
    previous_is_text = False
    for row in range(front_matter_rows(lines), len(lines)):
        line = lines[row]
        opener = _FENCE.match(line)
        if fence is not None:
            if opener and opener.group(1)[0] == fence[0] and not line.strip().lstrip(fence[0]):
                fence = None
            previous_is_text = False
            continue
        if opener:
            fence, previous_is_text = opener.group(1), False
            continue
        atx = _ATX.match(line)
        setext = _SETEXT.match(line)
        if atx:
            found.append(Heading((atx.group(2) or "").strip(), len(atx.group(1)), row, row))
        elif setext and previous_is_text:
            level = 1 if setext.group(1)[0] == "=" else 2
            found.append(Heading(lines[row - 1].strip(), level, row - 1, row))
        previous_is_text = bool(
            line.strip() and not atx and not setext and not _NOT_PARAGRAPH.match(line)
        )
    return found


def page_text_and_queries(path: str, text: str) -> tuple[str, list[Query]]:
    """A page as indexed (front matter dropped, headings blanked) and its heading queries."""
    lines = text.split("\n")
    found = headings(lines)
    texts = [(_ATTR_LIST.sub("", h.text), h.first + 1) for h in found]
    queries = [Query(text, path, line, "prose") for text, line in texts if text]
    replaced = {h.first: "#" * h.level for h in found}
    dropped = {h.last for h in found if h.last != h.first}
    start = front_matter_rows(lines)
    kept = [
        replaced.get(row, line)
        for row, line in enumerate(lines)
        if row >= start and row not in dropped
    ]
    return "\n".join(kept), queries


def unambiguous(queries: Iterable[Query]) -> list[Query]:
    """Queries with a 3+ letter word whose text names one document, one per text."""
    paths: dict[str, set[str]] = {}
    first: dict[str, Query] = {}
    for query in queries:
        if not _WORD.search(query.text):
            continue
        key = query.text.casefold()
        paths.setdefault(key, set()).add(query.path)
        first.setdefault(key, query)
    return [first[key] for key, where in paths.items() if len(where) == 1]


def spread(queries: Sequence[Query], cap: int) -> list[Query]:
    """At most ``cap`` queries in (path, line) order, evenly spaced when there are more."""
    ordered = sorted(queries, key=lambda q: (q.path, q.line))
    if len(ordered) <= cap:
        return ordered
    return [ordered[i * len(ordered) // cap] for i in range(cap)]


def document_scores(
    similarity: npt.NDArray[np.float32], chunk_docs: Sequence[int], documents: int
) -> npt.NDArray[np.float32]:
    """Each document's best chunk similarity per query (``-inf`` for a document without chunks).

    Args:
        similarity: Query x chunk cosine similarities.
        chunk_docs: The document index of each chunk.
        documents: Number of documents.
    """
    scores = np.full((similarity.shape[0], documents), -np.inf, dtype=np.float32)
    owners = np.asarray(chunk_docs)
    for doc in np.unique(owners):
        scores[:, doc] = similarity[:, owners == doc].max(axis=1)
    return scores


def ranks(scores: npt.NDArray[np.float32], relevant: Sequence[int]) -> list[int | None]:
    """1-based rank of each query's relevant document (ties count against it; ``None``: absent).

    Args:
        scores: Query x document scores, higher is better.
        relevant: Each query's relevant document index.
    """
    out: list[int | None] = []
    for row, doc in enumerate(relevant):
        own = scores[row, doc]
        if not np.isfinite(own):
            out.append(None)
            continue
        others = np.delete(scores[row], doc)
        out.append(1 + int(np.count_nonzero(others >= own)))
    return out


def recall_at(found: Sequence[int | None], k: int) -> float:
    """Share of queries whose relevant document ranks in the top ``k``."""
    if not found:
        return 0.0
    return sum(1 for rank in found if rank is not None and rank <= k) / len(found)


def mean_reciprocal_rank(found: Sequence[int | None]) -> float:
    """Mean of ``1 / rank`` over the queries (0 for a query whose document is absent)."""
    if not found:
        return 0.0
    return sum(1 / rank for rank in found if rank is not None) / len(found)
