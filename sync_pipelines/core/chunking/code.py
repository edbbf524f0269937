"""Syntax-aware chunking of source code with tree-sitter.

The top-level syntax nodes of a file (with the blank lines and comments before each) are
packed greedily into chunks up to the size cap and token budget. A node too big on its own is
replaced by its children, so a big class becomes its header plus its methods; a leaf that is
still too big is cut into line windows. Chunks are whole-line slices, so line numbers are
exact. With ``context`` on, a chunk starting inside a definition names the definitions that
enclose it (:func:`~sync_pipelines.core.chunking.context.code_contexts`).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import tree_sitter

from sync_pipelines.core.chunking.context import code_contexts
from sync_pipelines.core.chunking.lines import LineIndex
from sync_pipelines.core.chunking.packing import Span, pack
from sync_pipelines.core.types import Chunk, ChunkingOptions

Nodes = tuple[tree_sitter.Node, ...]


def chunk_code(text: str, grammar: tree_sitter.Language, options: ChunkingOptions) -> list[Chunk]:
    """Chunk source code along its syntax tree.

    Args:
        text: The source text.
        grammar: The tree-sitter grammar of the text's language.
        options: Byte cap, token budget and whether chunks get their context.

    Returns:
        The chunks in document order.
    """
    source = text.encode()
    root = tree_sitter.Parser(grammar).parse(source).root_node
    rows = text.count("\n") + 1
    contexts = code_contexts(root, source, rows) if options.context else None
    index = LineIndex(text, options, contexts)
    last_row = len(index) - 1
    return pack(index, _spans(root.children, 0, last_row), _expand)


def _expand(span: Span[Nodes]) -> Sequence[Span[Nodes]]:
    if not span.item:
        return ()
    finer = [child for node in span.item for child in node.children]
    return _spans(finer, span.start, span.end)


@dataclass
class _Group:
    first: int
    last: int
    nodes: list[tree_sitter.Node]
    only_comments: bool


def _spans(nodes: Sequence[tree_sitter.Node], start: int, end: int) -> list[Span[Nodes]]:
    """Group nodes into spans tiling rows ``start..end``.

    Nodes sharing a row go in one span; comments directly above a node join it; the rows
    between two spans belong to the later one and trailing rows to the last. A span keeps
    only its nodes whose children could split it further (multi-line inner nodes), so
    expanding deep, wide trees such as minified code costs each node once.
    """
    groups: list[_Group] = []
    for node in nodes:
        if node.start_byte == node.end_byte:
            continue
        first = min(max(node.start_point.row, start), end)
        last = node.end_point.row
        if node.end_point.column == 0 and last > node.start_point.row:
            last -= 1
        last = min(max(last, first), end)
        if groups:
            prev = groups[-1]
            if first <= prev.last or (prev.only_comments and first == prev.last + 1):
                prev.last = max(prev.last, last)
                prev.nodes.append(node)
                prev.only_comments = prev.only_comments and _is_comment(node)
                continue
        groups.append(_Group(first, last, [node], _is_comment(node)))
    if not groups:
        return [Span(start, end, ())]
    spans: list[Span[Nodes]] = []
    next_start = start
    for number, group in enumerate(groups):
        span_end = end if number == len(groups) - 1 else group.last
        spans.append(Span(next_start, span_end, tuple(filter(_splittable, group.nodes))))
        next_start = span_end + 1
    return spans


def _splittable(node: tree_sitter.Node) -> bool:
    return node.child_count > 0 and node.end_point.row > node.start_point.row


def _is_comment(node: tree_sitter.Node) -> bool:
    return "comment" in node.type
