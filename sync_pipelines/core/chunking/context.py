"""What a chunk belongs to: the definitions or headings enclosing the row it starts on.

A chunk that starts inside a function, class or markdown section (past the line that opens
it) carries that scope's path as its context: ``class Client > def send`` for code, the heading
path ``Guide > Install`` for markdown. The context is kept out of the chunk's text, so every
character of the document is still in exactly one chunk; it is stored in the chunk's metadata
(``chunk_context``) and embedded on a line of its own before the text
(:func:`~sync_pipelines.core.types.embedded_text`), so a method split off its class still
matches a query naming the class. The chunker counts it in the token budget of the chunks it
is attached to.
"""

from collections.abc import Sequence

import tree_sitter

SEPARATOR = " > "
MAX_LABEL_CHARS = 60
"""Longest label of one scope (a definition header or a heading), longer ones are cut."""
MAX_CONTEXT_CHARS = 160
"""Longest context; outer scopes are dropped first."""

SCOPE_TYPES = frozenset(
    {
        # python, bash, c
        "class_definition",
        "function_definition",
        # javascript, typescript, tsx, java, go
        "class_declaration",
        "abstract_class_declaration",
        "function_declaration",
        "generator_function_declaration",
        "method_definition",
        "method_declaration",
        "constructor_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "internal_module",
        "type_declaration",
        # rust
        "function_item",
        "impl_item",
        "trait_item",
        "mod_item",
        "struct_item",
        "enum_item",
        # c
        "struct_specifier",
        "union_specifier",
        "enum_specifier",
    }
)
"""Syntax node types that open a scope named in the context, across the known grammars."""


def join_context(labels: Sequence[str]) -> str | None:
    """The context for a path of scope labels, outermost first (``None`` when empty)."""
    kept = [label[:MAX_LABEL_CHARS].strip() for label in labels]
    kept = [label for label in kept if label]
    while len(kept) > 1 and len(SEPARATOR.join(kept)) > MAX_CONTEXT_CHARS:
        kept.pop(0)
    return SEPARATOR.join(kept) or None


def code_contexts(root: tree_sitter.Node, source: bytes, rows: int) -> list[str | None]:
    """The context of every row of a parsed source file.

    A row's context names the scopes (:data:`SCOPE_TYPES`) that contain it and whose header
    (the line with the scope's name, past any annotations) is on an earlier row, outermost
    first.

    Args:
        root: The syntax tree's root.
        source: The UTF-8 source the tree was parsed from.
        rows: The number of rows (lines) of the source.

    Returns:
        One context per row (``None`` outside any scope).
    """
    labels: list[list[str]] = [[] for _ in range(rows)]
    pending = [root]
    while pending:
        node = pending.pop()
        first, last = node.start_point.row, node.end_point.row
        if node.end_point.column == 0 and last > first:
            last -= 1  # the node ends with the line break before ``last``
        if last <= first:
            continue  # a one-line node encloses no later row, nor do its children
        if node.type in SCOPE_TYPES:
            name = node.child_by_field_name("name")
            header = name.start_point.row if name is not None else first
            label = _label(node, name, source)
            for row in range(header + 1, min(last, rows - 1) + 1):
                labels[row].append(label)
        pending.extend(reversed(node.children))
    cache: dict[tuple[str, ...], str | None] = {}
    contexts: list[str | None] = []
    for path in labels:
        key = tuple(path)
        if key not in cache:
            cache[key] = join_context(path)
        contexts.append(cache[key])
    return contexts


def _label(node: tree_sitter.Node, name: tree_sitter.Node | None, source: bytes) -> str:
    """A scope's header up to its name (``def send``), or its first line up to a bracket."""
    if name is not None:
        if name.start_point.row == node.start_point.row:
            start = node.start_byte
        else:  # annotations or modifiers on lines of their own
            start = source.rfind(b"\n", 0, name.start_byte) + 1
        header = source[start : name.end_byte]
    else:
        end = source.find(b"\n", node.start_byte, node.end_byte)
        header = source[node.start_byte : end if end >= 0 else node.end_byte]
        for stop in (b"{", b"(", b"="):
            header = header.split(stop, 1)[0]
    return " ".join(header.decode(errors="replace").split())
