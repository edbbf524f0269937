"""Writing documents' chunks in groups and summing what the writes did (shared by the ops)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sync_pipelines.core.batch_writer import DocumentWrite, sync_in_groups
from sync_pipelines.core.writer import WriteCounts


@dataclass
class WriteTotals:
    """Chunk counts summed over the documents a step wrote."""

    written: int = 0
    metadata_updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    embed_seconds: float = 0.0

    def add(self, counts: "WriteCounts | WriteTotals") -> None:
        """Add one document's counts, or another step's totals."""
        self.written += counts.written
        self.metadata_updated += counts.metadata_updated
        self.unchanged += counts.unchanged
        self.deleted += counts.deleted
        self.embed_seconds += counts.embed_seconds

    def summary(self) -> dict[str, int]:
        """The counts under the names the steps report."""
        return {
            "chunks_written": self.written,
            "chunks_metadata_updated": self.metadata_updated,
            "chunks_skipped": self.unchanged,
            "chunks_deleted": self.deleted,
        }


def apply_writes(
    collection: Any,
    writes: list[DocumentWrite],
    embed: Any,
    max_batch: int,
    report: Callable[[int, WriteTotals], None] | None = None,
) -> WriteTotals:
    """Write documents in groups (unchanged chunks are not re-embedded), summing the counts.

    Args:
        collection: The target collection.
        writes: The documents (empty records: the document's chunks are deleted).
        embed: The embedding function.
        max_batch: The client's maximum batch size.
        report: Called after each group with the documents written so far and the totals.
    """
    totals = WriteTotals()
    groups = sync_in_groups(collection, writes, embed=embed, max_batch_size=max_batch)
    for done_before, written in groups:
        for counts in written:
            totals.add(counts)
        if report is not None:
            report(done_before + len(written), totals)
    return totals
