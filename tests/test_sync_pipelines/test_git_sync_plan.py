"""The pure GitHub sync planner (``sync_pipelines.core.git_sync``).

Contract: ``eligible_files`` keeps filtered regular files and skips symlinks, submodules and
files over the size cap (by tree size) with reasons; ``stored_versions`` maps each stored
document to its blob sha and marks documents whose chunks disagree, or were cut by another
chunker version (none recorded: version 1), so they are re-chunked;
``plan_sync`` chunks new and changed paths, deletes vanished ones, pairs renames by blob sha
and leaves unchanged paths alone.
"""

from sync_pipelines.core.git_sync import eligible_files, plan_sync, stored_versions
from sync_pipelines.core.records import CHUNKER_VERSION
from sync_pipelines.git import PathFilter, TreeEntry


def test_eligible_files_filter_and_skip_with_reasons() -> None:
    tree = {
        "a.md": TreeEntry("1" * 40, "100644", 10),
        "big.bin": TreeEntry("2" * 40, "100644", 5000),
        "link": TreeEntry("3" * 40, "120000", 8),
        "vendor/lib": TreeEntry("4" * 40, "160000", None),
        "tests/t.py": TreeEntry("5" * 40, "100644", 10),
    }

    files, skipped = eligible_files(tree, PathFilter(None, ["tests/"]), max_file_bytes=1000)

    assert files == {"a.md": "1" * 40}
    assert {s.path: s.reason for s in skipped} == {
        "big.bin": "5000 bytes, over the 1000-byte size cap",
        "link": "symbolic link",
        "vendor/lib": "submodule",
    }


def test_stored_versions_marks_partly_synced_documents() -> None:
    v = {"chunker_version": CHUNKER_VERSION}
    metadatas = [
        {"document_key": "a.md", "version_key": "x", **v},
        {"document_key": "a.md", "version_key": "x", **v},
        {"document_key": "b.md", "version_key": "y", **v},
        {"document_key": "b.md", "version_key": "z", **v},
        None,
        {"other": 1},
    ]

    assert stored_versions(metadatas) == {"a.md": "x", "b.md": ""}


def test_stored_versions_marks_documents_cut_by_another_chunker_version() -> None:
    assert CHUNKER_VERSION == 2
    metadatas = [
        {"document_key": "current.md", "version_key": "c", "chunker_version": 2},
        {"document_key": "legacy.md", "version_key": "l"},  # written before versions: 1
        {"document_key": "old.md", "version_key": "o", "chunker_version": 1},
        {"document_key": "future.md", "version_key": "f", "chunker_version": 3},
        {"document_key": "mixed.md", "version_key": "m", "chunker_version": 2},
        {"document_key": "mixed.md", "version_key": "m"},
        {"document_key": "odd.md", "version_key": "d", "chunker_version": True},
    ]

    assert stored_versions(metadatas) == {
        "current.md": "c",
        "legacy.md": "",
        "old.md": "",
        "future.md": "",
        "mixed.md": "",
        "odd.md": "",
    }


def test_plan_chunks_changed_deletes_gone_and_pairs_renames() -> None:
    previous = {"keep.md": "k", "edit.py": "e1", "gone.md": "g", "from.md": "r", "half.md": ""}
    current = {"keep.md": "k", "edit.py": "e2", "to/from.md": "r", "new.md": "n", "half.md": "h"}

    plan = plan_sync(current, previous)

    assert plan.unchanged == ["keep.md"]
    assert plan.to_chunk == {"edit.py": "e2", "half.md": "h", "new.md": "n", "to/from.md": "r"}
    assert plan.to_delete == ["from.md", "gone.md"]
    assert plan.renames == [("from.md", "to/from.md")]
    assert plan_sync(current, current).to_chunk == {}
