"""The S3 auto-sync sensor's cursor: where each source's listing pass stands.

The cursor is small, versioned JSON::

    {"v": 1, "sources": {"<source id>": {"after": "<last listed key>" | null, "pass": 3}}}

``after`` is the ListObjectsV2 ``StartAfter`` of the next page (``null``: the pass starts at the
beginning of the prefix), ``pass`` numbers the source's listing passes. Reading never raises:
an unreadable cursor, another version or a malformed entry simply starts a fresh pass for the
sources concerned (the catalog's per-object state prevents duplicate invocations).
"""

import json
from dataclasses import dataclass
from typing import Any

CURSOR_VERSION = 1


@dataclass(frozen=True)
class SourceCursor:
    """Where one source's listing stands.

    Attributes:
        after: The last key listed in the current pass (``None``: the pass starts over).
        pass_no: The current pass number (>= 1).
    """

    after: str | None
    pass_no: int


def _entry(value: Any) -> SourceCursor | None:
    if not isinstance(value, dict):
        return None
    after = value.get("after")
    pass_no = value.get("pass")
    if after is not None and (not isinstance(after, str) or not after):
        return None
    if isinstance(pass_no, bool) or not isinstance(pass_no, int) or pass_no < 1:
        return None
    return SourceCursor(after=after, pass_no=pass_no)


def parse_cursor(raw: str | None) -> dict[str, SourceCursor]:
    """Read the cursor; anything unreadable is left out (those sources start a fresh pass).

    Args:
        raw: The stored cursor string, or ``None`` on the first tick.

    Returns:
        Source id (as text) to its listing position; empty for a missing, unreadable or
        other-version cursor. Malformed entries are dropped one by one.
    """
    try:
        data: Any = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    version = data.get("v")
    if type(version) is not int or version != CURSOR_VERSION:
        return {}
    sources = data.get("sources")
    if not isinstance(sources, dict):
        return {}
    parsed: dict[str, SourceCursor] = {}
    for source_id, value in sources.items():
        entry = _entry(value)
        if entry is not None:
            parsed[str(source_id)] = entry
    return parsed


def dump_cursor(cursors: dict[str, SourceCursor]) -> str:
    """Serialise the cursor (sorted keys, so an unchanged cursor compares equal).

    Args:
        cursors: Source id (as text) to its listing position.

    Returns:
        The cursor string.
    """
    sources = {
        source_id: {"after": entry.after, "pass": entry.pass_no}
        for source_id, entry in cursors.items()
    }
    return json.dumps({"v": CURSOR_VERSION, "sources": sources}, sort_keys=True)
