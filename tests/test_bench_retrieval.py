"""bench/retrieval_rules.py: the retrieval metrics and query rules, on hand-made inputs."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest


def load_rules() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "bench" / "retrieval_rules.py"
    spec = importlib.util.spec_from_file_location("retrieval_rules", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("retrieval_rules", module)
    spec.loader.exec_module(module)
    return module


rules = load_rules()


def test_recall_and_mrr_of_a_hand_made_ranking() -> None:
    found = [1, 3, None, 6]
    assert rules.recall_at(found, 1) == 0.25
    assert rules.recall_at(found, 5) == 0.5
    assert rules.recall_at(found, 6) == 0.75
    assert rules.mean_reciprocal_rank(found) == pytest.approx((1 + 1 / 3 + 1 / 6) / 4)
    assert rules.recall_at([], 1) == rules.mean_reciprocal_rank([]) == 0.0


def test_documents_rank_by_their_best_chunk() -> None:
    similarity = np.array([[0.1, 0.7, 0.3, 0.2], [0.9, 0.0, 0.4, 0.4]], dtype=np.float32)
    scores = rules.document_scores(similarity, [0, 0, 2, 2], 3)
    assert scores[0].tolist() == pytest.approx([0.7, -np.inf, 0.3])
    assert rules.ranks(scores, [2, 0]) == [2, 1]
    assert rules.ranks(scores, [1, 2]) == [None, 2]
    tied = np.array([[0.5, 0.5]], dtype=np.float32)
    assert rules.ranks(tied, [1]) == [2]


def test_code_queries_are_public_docstring_summaries() -> None:
    source = (
        "def public():\n"
        '    """Return the answer.\n\n    More text.\n    """\n'
        "    def inner():\n"
        '        """Not a query."""\n'
        "def _private():\n"
        '    """Not a query either."""\n'
        "class Box:\n"
        '    """A box of things."""\n'
        "    def __init__(self):\n"
        '        """Not public."""\n'
        "    def open(self):\n"
        '        """Open the box."""\n'
        "    def close(self):\n"
        "        pass\n"
    )
    queries = rules.code_queries("pkg/mod.py", source)
    assert [(q.text, q.line) for q in queries] == [
        ("Return the answer.", 1),
        ("A box of things.", 10),
        ("Open the box.", 14),
    ]
    assert {q.path for q in queries} == {"pkg/mod.py"}


def test_headings_become_queries_and_leave_the_page() -> None:
    page = (
        "---\ntitle: Tables\n---\n\n"
        "Tables Extension\n================\n\n"
        "Rows and columns.\n\n"
        "```python\n# not a heading\n```\n\n"
        "## Syntax Rules ##\n\n"
        "- item\n---\n\n"
        "Pipes separate cells.\n"
    )
    text, queries = rules.page_text_and_queries("docs/tables.md", page)
    assert [(q.text, q.line) for q in queries] == [("Tables Extension", 5), ("Syntax Rules", 14)]
    assert text == (
        "\n#\n\nRows and columns.\n\n```python\n# not a heading\n```\n\n##\n\n"
        "- item\n---\n\nPipes separate cells.\n"
    )


def test_unambiguous_and_spread() -> None:
    query = rules.Query
    found = [
        query("Usage", "a.md", 3, "prose"),
        query("usage", "b.md", 3, "prose"),
        query("Usage", "a.md", 9, "prose"),
        query("[1.0] - 2020", "a.md", 12, "prose"),
        query("Tables", "b.md", 1, "prose"),
    ]
    assert rules.unambiguous(found) == [found[4]]
    many = [query(f"q{i}", "a.md", i, "code") for i in range(10, 0, -1)]
    assert [q.line for q in rules.spread(many, 4)] == [1, 3, 6, 8]
    assert [q.line for q in rules.spread(many, 20)] == list(range(1, 11))
