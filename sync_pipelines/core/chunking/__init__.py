"""Split a parsed document into chunks (pure core of the chunk step).

``tree_sitter`` chunking is syntax-aware for languages with a grammar (see
:data:`~sync_pipelines.core.chunking.languages.CODE_LANGUAGES`) and heading-aware for markdown;
any other text falls back to line windows bounded by the size cap only. ``lines`` chunking
cuts windows of whole lines bounded by both ``max_lines`` and ``max_size_bytes``.
:func:`strategy_used` names the strategy that actually ran, which is what the ``chunk_strategy``
metadata records: a ``tree_sitter`` request on plain text records ``lines``.

Every strategy returns chunks in document order that never overlap, are whole-line slices
of the document (with whitespace-only lines trimmed from their ends), hold every
non-whitespace character exactly once and are at most ``max_size_bytes`` UTF-8 bytes (values
below 4 are treated as 4, so one character always fits). Under a token budget
(``max_tokens``, see :mod:`~sync_pipelines.core.chunking.budgets`) each chunk's embedded text
(:attr:`~sync_pipelines.core.types.Chunk.embedded_text`: its context, if any, then its text)
also has at most ``max_tokens`` tokens of ``token_model``. A line too big for a chunk is split
into pieces that all carry its line number. Whitespace-only chunks are dropped.

:data:`~sync_pipelines.core.records.CHUNKER_VERSION` labels what this package produces for
the ops' options: bump it whenever their chunks change, so every sync rewrites documents
chunked by another version once.
"""

from sync_pipelines.core.chunking.budgets import default_chunking_options, token_window
from sync_pipelines.core.chunking.code import chunk_code
from sync_pipelines.core.chunking.languages import CODE_LANGUAGES, grammar
from sync_pipelines.core.chunking.lines import chunk_lines
from sync_pipelines.core.chunking.markdown import chunk_markdown
from sync_pipelines.core.types import Chunk, ChunkingOptions, ChunkStrategy, ParsedDocument

__all__ = [
    "CODE_LANGUAGES",
    "chunk_document",
    "default_chunking_options",
    "strategy_used",
    "token_window",
]


def strategy_used(doc: ParsedDocument, options: ChunkingOptions) -> ChunkStrategy:
    """The strategy :func:`chunk_document` applies to a document.

    Args:
        doc: The parsed document.
        options: The requested chunking.

    Returns:
        ``"tree_sitter"`` when syntax- or heading-aware chunking runs, else ``"lines"``
        (also for a ``tree_sitter`` request on text without a grammar).
    """
    if options.strategy == "lines" or doc.language is None:
        return "lines"
    if doc.language == "markdown" or grammar(doc.language) is not None:
        return "tree_sitter"
    return "lines"


def chunk_document(doc: ParsedDocument, options: ChunkingOptions) -> list[Chunk]:
    """Split a document into chunks.

    Args:
        doc: The parsed document.
        options: Strategy and limits; ``max_lines`` applies to the ``lines`` strategy only.

    Returns:
        The chunks in document order; ``[]`` for an empty or whitespace-only document.
    """
    if not doc.text.strip():
        return []
    if options.strategy == "lines":
        return chunk_lines(doc.text, options.max_lines, options)
    if strategy_used(doc, options) == "lines":
        return chunk_lines(doc.text, len(doc.text), options)
    if doc.language == "markdown":
        return chunk_markdown(doc.text, options)
    language = grammar(doc.language or "")
    assert language is not None
    return chunk_code(doc.text, language, options)
