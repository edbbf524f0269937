"""The S3 auto-sync sensor's cursor: versioned JSON that never raises when read.

Contract: ``dump_cursor`` then ``parse_cursor`` round-trips; a missing, unreadable or
other-version cursor reads as empty (every source starts a fresh pass); a malformed entry is
dropped on its own while the others are kept.
"""

import json

import pytest

from sync_pipelines.core.s3_cursor import SourceCursor, dump_cursor, parse_cursor


def test_round_trip() -> None:
    cursors = {"a": SourceCursor(after="docs/k-0999", pass_no=3), "b": SourceCursor(None, 1)}

    raw = dump_cursor(cursors)

    assert json.loads(raw) == {
        "v": 1,
        "sources": {"a": {"after": "docs/k-0999", "pass": 3}, "b": {"after": None, "pass": 1}},
    }
    assert parse_cursor(raw) == cursors


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "garbage{",
        "[]",
        "null",
        '{"v": 2, "sources": {"a": {"after": null, "pass": 1}}}',
        '{"v": true, "sources": {"a": {"after": null, "pass": 1}}}',
        '{"v": "1", "sources": {"a": {"after": null, "pass": 1}}}',
        '{"v": 1, "sources": []}',
        '{"v": 1}',
        "[" * 100_000,
    ],
)
def test_unreadable_cursor_is_empty(raw: str | None) -> None:
    assert parse_cursor(raw) == {}


def test_malformed_entries_are_dropped_one_by_one() -> None:
    raw = json.dumps(
        {
            "v": 1,
            "sources": {
                "ok": {"after": "k", "pass": 2},
                "no-pass": {"after": "k"},
                "bool-pass": {"after": None, "pass": True},
                "zero-pass": {"after": None, "pass": 0},
                "float-pass": {"after": None, "pass": 1.5},
                "int-after": {"after": 5, "pass": 1},
                "empty-after": {"after": "", "pass": 1},
                "not-a-dict": "x",
            },
        }
    )

    assert parse_cursor(raw) == {"ok": SourceCursor(after="k", pass_no=2)}
