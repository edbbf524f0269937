"""Tree-sitter grammars for the languages the syntax-aware chunker understands."""

from collections.abc import Callable
from functools import cache

import tree_sitter
import tree_sitter_bash
import tree_sitter_c
import tree_sitter_go
import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_python
import tree_sitter_rust
import tree_sitter_typescript

_GRAMMARS: dict[str, Callable[[], object]] = {
    "python": tree_sitter_python.language,
    "javascript": tree_sitter_javascript.language,
    "typescript": tree_sitter_typescript.language_typescript,
    "tsx": tree_sitter_typescript.language_tsx,
    "go": tree_sitter_go.language,
    "rust": tree_sitter_rust.language,
    "java": tree_sitter_java.language,
    "c": tree_sitter_c.language,
    "bash": tree_sitter_bash.language,
}

CODE_LANGUAGES = frozenset(_GRAMMARS)
"""Language names (as returned by ``detect_language``) with a tree-sitter grammar."""


@cache
def grammar(language: str) -> tree_sitter.Language | None:
    """The tree-sitter grammar for a language, loaded once per process.

    Args:
        language: A language name such as ``"python"`` or ``"tsx"``.

    Returns:
        The grammar, or ``None`` when no grammar package covers the language.
    """
    loader = _GRAMMARS.get(language)
    return tree_sitter.Language(loader()) if loader is not None else None
