"""Split a sync's planned work into shards of bounded size.

A big sync (many changed files) is processed as several independent steps, one per shard, which
an executor such as Celery can run on different machines. A shard is bounded by a number of
documents and by their total size, so one shard's memory and time stay bounded however big the
source is. The split is a pure function of the plan: the same plan always gives the same
shards, so a retried step processes exactly what the failed attempt was given.
"""

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_SHARD_FILES = 500
DEFAULT_SHARD_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ShardLimits:
    """Most documents and most bytes one shard holds (a bigger single document is alone)."""

    max_files: int = DEFAULT_SHARD_FILES
    max_bytes: int = DEFAULT_SHARD_BYTES

    def __post_init__(self) -> None:
        if self.max_files < 1 or self.max_bytes < 1:
            raise ValueError("shard limits must be positive")


def split_shards(
    items: Mapping[str, str], sizes: Mapping[str, int | None], limits: ShardLimits
) -> list[dict[str, str]]:
    """Split ``items`` (document key -> version) into shards, in key order.

    Args:
        items: The documents to process, e.g. path -> blob sha.
        sizes: Their sizes in bytes (a missing or ``None`` size counts as 0).
        limits: The bounds of one shard.

    Returns:
        Consecutive runs of ``items`` sorted by key; each holds at most ``limits.max_files``
        documents and at most ``limits.max_bytes`` bytes, unless a single document is larger.
        No shard is empty; an empty plan gives no shard.
    """
    shards: list[dict[str, str]] = []
    current: dict[str, str] = {}
    current_bytes = 0
    for key in sorted(items):
        size = sizes.get(key) or 0
        if current and (
            len(current) >= limits.max_files or current_bytes + size > limits.max_bytes
        ):
            shards.append(current)
            current, current_bytes = {}, 0
        current[key] = items[key]
        current_bytes += size
    if current:
        shards.append(current)
    return shards
