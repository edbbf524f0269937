"""Token windows and default chunk budgets of the dense embedding models the project knows.

A model embeds at most its *window* of tokens, special tokens included, and silently drops
the rest. Each model gets a default chunk *budget*: the most tokens of a chunk's embedded text
(context, separator and text; special tokens excluded) that :func:`default_chunking_options`
lets the chunker produce, so that no chunk is truncated when embedded.

- ``all-MiniLM-L6-v2`` (local ONNX): window 256 WordPiece tokens, of which [CLS] and [SEP]
  take 2, so the budget is 254 tokens, counted with the model's own ``tokenizer.json``.
- ``Qwen/Qwen3-Embedding-0.6B`` (Chroma Cloud): window 32,768 tokens. Its tokenizer is not
  shipped, so chunks are bounded in UTF-8 bytes instead: it is a byte-level BPE, whose every
  token stands for at least one byte, so a text of N bytes never has more than N tokens. The
  budget is 8,192 tokens (so 8,192 bytes): the input cap of common hosted embedding endpoints,
  chunks of a retrievable size rather than whole files, and the rest of the window (24k
  tokens) left for the end-of-text token the model appends and any document instruction.

The spec's byte cap (``max_size_bytes``, 1,500 by default) still applies on top; with the
defaults it is the tighter bound for Qwen, and the token budget the tighter one for MiniLM.
"""

from dataclasses import dataclass
from typing import Literal

from sync_pipelines.core.types import (
    DEFAULT_MAX_LINES,
    DEFAULT_MAX_SIZE_BYTES,
    ChunkingOptions,
    ChunkStrategy,
)

MINILM_MODEL = "all-MiniLM-L6-v2"
QWEN_MODEL = "Qwen/Qwen3-Embedding-0.6B"

Counting = Literal["wordpiece", "bytes"]


@dataclass(frozen=True)
class ModelBudget:
    """What one embedding model can embed, and how chunks for it are measured.

    Attributes:
        window: Most tokens the model embeds, special tokens included.
        special_tokens: Tokens the model adds to every text.
        default_tokens: Default chunk budget in the model's tokens (specials excluded).
        counting: ``wordpiece`` (the shipped tokenizer counts exactly) or ``bytes`` (UTF-8
            bytes, an upper bound on a byte-level BPE's tokens).
    """

    window: int
    special_tokens: int
    default_tokens: int
    counting: Counting


MODEL_BUDGETS: dict[str, ModelBudget] = {
    MINILM_MODEL: ModelBudget(
        window=256, special_tokens=2, default_tokens=254, counting="wordpiece"
    ),
    QWEN_MODEL: ModelBudget(window=32768, special_tokens=1, default_tokens=8192, counting="bytes"),
}


def model_budget(model: str) -> ModelBudget:
    """The window and default budget of an embedding model.

    Args:
        model: A dense model name (``embedding.dense.model``).

    Raises:
        ValueError: The project does not know the model.
    """
    try:
        return MODEL_BUDGETS[model]
    except KeyError:
        known = ", ".join(MODEL_BUDGETS)
        raise ValueError(f"unknown embedding model {model!r} (known: {known})") from None


def token_window(model: str) -> int:
    """Most tokens ``model`` embeds, special tokens included (256 for MiniLM, 32,768 for Qwen).

    Raises:
        ValueError: The project does not know the model.
    """
    return model_budget(model).window


def default_chunking_options(
    model: str,
    *,
    strategy: ChunkStrategy = "tree_sitter",
    max_size_bytes: int | None = None,
    max_lines: int | None = None,
) -> ChunkingOptions:
    """The chunking a source embedded by ``model`` gets: its byte caps plus the model's budget.

    Args:
        model: The dense model that embeds the chunks.
        strategy: ``tree_sitter`` or ``lines``.
        max_size_bytes: The source's byte cap (``None``: the spec's default, 1,500).
        max_lines: The source's line cap for ``lines`` (``None``: the default, 50).

    Returns:
        Options whose chunks, context included, fit the model's default token budget.

    Raises:
        ValueError: The project does not know the model.
    """
    budget = model_budget(model)
    return ChunkingOptions(
        strategy=strategy,
        max_size_bytes=DEFAULT_MAX_SIZE_BYTES if max_size_bytes is None else max_size_bytes,
        max_lines=DEFAULT_MAX_LINES if max_lines is None else max_lines,
        max_tokens=budget.default_tokens,
        token_model=model,
        context=True,
    )
