"""The sharded path of ``sync_github_job``, in process, against repositories on ``git daemon``.

Contract: a plan with more changed files than ``CHROMA_SYNC_SHARD_MAX_FILES`` is synced as
bounded shards (one step each) and a finish step; the collection then equals what the one-step
path writes for the same commits (ids, documents, metadata, recorded commit), on a first sync
and on a re-sync with changes, deletes and a rename. A shard that fails once is retried alone
(the other shards run once); a shard that keeps failing fails the run, records no commit, and
the next sync converges. Shard progress adds up in the catalog on SQLite and PostgreSQL.
"""

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from sync_pipelines.catalog import Catalog
from sync_pipelines.core.shards import ShardLimits, split_shards
from sync_pipelines.devtools.git_repos import CommitSpec, Symlink, fast_import
from sync_pipelines.devtools.git_server import GitDaemon
from sync_pipelines.ops import github_shards
from sync_pipelines.schemas import (
    CreateSourcePayload,
    IndexJobMetadata,
    InvocationProgress,
    Source,
)
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.github_helpers import (
    collection,
    contents,
    create_github_source,
    fetch_metadata,
    new_repo,
    run_github_sync,
)

SHARD = 6
FILES: dict[str, Any] = {
    f"pkg/mod{i:02d}.py": f"def f{i}(x):\n    '''Function {i}.'''\n    return x * {i}\n"
    for i in range(30)
}
FILES |= {f"docs/page{i}.md": f"# Page {i}\n\nText of page {i}.\n" for i in range(10)}
FILES |= {"logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "link": Symlink("docs")}
CHANGES: dict[str, Any] = {
    **{f"pkg/mod{i:02d}.py": f"def g{i}():\n    return {i}\n" for i in range(5)},
    **{f"docs/page{i}.md": None for i in range(3)},
    "docs/page9.md": None,
    "moved/page9.md": FILES["docs/page9.md"],
    **{f"new/n{i}.md": f"# New {i}\n" for i in range(4)},
}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitDaemon]:
    with GitDaemon(tmp_path_factory.mktemp("served")) as server:
        yield server


def shard_size(monkeypatch: pytest.MonkeyPatch, files: int) -> None:
    monkeypatch.setenv("CHROMA_SYNC_SHARD_MAX_FILES", str(files))
    get_settings.cache_clear()


def step_starts(result: dg.ExecuteInProcessResult) -> Counter[str]:
    """Attempts per step: its first start and each restart after a retry."""
    kinds = {"STEP_START", "STEP_RESTARTED"}
    return Counter(e.step_key or "" for e in result.all_events if e.event_type_value in kinds)


def finish_summary(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    out: dict[str, int] = result.output_for_node("finish_github_op")
    return out


def served_source(daemon: GitDaemon) -> tuple[Path, Source]:
    repo, name = new_repo(daemon.root)
    return repo, create_github_source(f"git://127.0.0.1:{daemon.port}", name)


def test_split_shards_bounds_files_and_bytes_in_path_order() -> None:
    items = {f"f{i}": f"sha{i}" for i in range(7)}
    sizes = {"f0": 10, "f1": 10, "f2": 100, "f3": 1, "f4": 1, "f5": None}
    shards = split_shards(items, sizes, ShardLimits(max_files=3, max_bytes=50))
    assert shards == [
        {"f0": "sha0", "f1": "sha1"},
        {"f2": "sha2"},  # bigger than max_bytes: alone
        {"f3": "sha3", "f4": "sha4", "f5": "sha5"},
        {"f6": "sha6"},
    ]
    assert split_shards({}, {}, ShardLimits()) == []
    with pytest.raises(ValueError):
        ShardLimits(max_files=0)


def test_sharded_sync_equals_the_one_step_sync(
    daemon: GitDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, source = served_source(daemon)
    (first,) = fast_import(repo, [CommitSpec(FILES)])
    assert run_github_sync(source, {"sha": first}, "one_step").success
    shard_size(monkeypatch, SHARD)

    sharded = run_github_sync(source, {"sha": first}, "sharded")

    assert sharded.success
    assert fetch_metadata(sharded)["shards"] == 7  # 40 readable files + logo.png, 6 per shard
    starts = step_starts(sharded)
    assert sum(1 for key in starts if key.startswith("sync_github_shard_op[")) == 7
    assert "upsert_github_op" not in starts
    assert finish_summary(sharded)["files_changed"] == 41
    assert contents("sharded") == contents("one_step") != {}
    assert collection("sharded").metadata["git_commit"] == first

    (second,) = fast_import(repo, [CommitSpec(CHANGES)])
    shard_size(monkeypatch, 1000)
    assert run_github_sync(source, {"sha": second}, "one_step").success
    shard_size(monkeypatch, 4)
    resync = run_github_sync(source, {"sha": second}, "sharded")

    assert resync.success
    meta = fetch_metadata(resync)
    assert meta["mode"] == "diff" and meta["files_to_chunk"] == 10 and meta["shards"] == 3
    done = finish_summary(resync)
    assert done["files_changed"] == 10 and done["files_deleted"] == 4
    assert contents("sharded") == contents("one_step")
    assert collection("sharded").metadata["git_commit"] == second


def test_a_failing_shard_is_retried_alone(
    daemon: GitDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, source = served_source(daemon)
    (commit,) = fast_import(repo, [CommitSpec(FILES)])
    assert run_github_sync(source, {"sha": commit}, "one_step").success
    shard_size(monkeypatch, SHARD)
    real = github_shards.apply_writes
    failed: list[str] = []

    def flaky(collection: Any, writes: list[Any], *args: Any) -> Any:
        if any(w.document_key == "pkg/mod00.py" for w in writes) and not failed:
            failed.append("pkg/mod00.py")
            raise ConnectionError("Chroma server went away")
        return real(collection, writes, *args)

    monkeypatch.setattr(github_shards, "apply_writes", flaky)

    result = run_github_sync(source, {"sha": commit}, "sharded")

    assert result.success and failed
    starts = step_starts(result)
    shard_keys = sorted(k for k in starts if k.startswith("sync_github_shard_op["))
    # docs/page0-5 | docs/page6-9, logo.png, pkg/mod00.py | ...: the second shard failed.
    assert [starts[k] for k in shard_keys] == [1, 2, 1, 1, 1, 1, 1]
    assert contents("sharded") == contents("one_step")


def test_a_shard_failing_for_good_records_no_commit(
    daemon: GitDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, source = served_source(daemon)
    (first,) = fast_import(repo, [CommitSpec(FILES)])
    assert run_github_sync(source, {"sha": first}, "sharded").success
    (second,) = fast_import(repo, [CommitSpec(CHANGES)])
    assert run_github_sync(source, {"sha": second}, "one_step").success
    shard_size(monkeypatch, 4)
    real = github_shards.apply_writes

    def broken(collection: Any, writes: list[Any], *args: Any) -> Any:
        if any(w.document_key == "new/n0.md" for w in writes):
            raise ConnectionError("Chroma server went away")
        return real(collection, writes, *args)

    monkeypatch.setattr(github_shards, "apply_writes", broken)

    failed = run_github_sync(source, {"sha": second}, "sharded")

    assert not failed.success
    assert "finish_github_op" not in step_starts(failed)
    assert collection("sharded").metadata["git_commit"] == first  # nothing recorded
    monkeypatch.setattr(github_shards, "apply_writes", real)
    again = run_github_sync(source, {"sha": second}, "sharded")
    assert again.success and fetch_metadata(again)["mode"] == "diff"
    assert contents("sharded") == contents("one_step")


def test_shard_progress_adds_up(catalog: Catalog) -> None:
    source = catalog.create_source(
        CreateSourcePayload.model_validate(
            {"database_name": "db1", "github": {"repository": "octo/repo"}}
        )
    )
    meta = IndexJobMetadata.model_validate(
        {
            "database_name": "db1",
            "collection_name": "code",
            "github": {"git_ref_identifier": {"branch": "main"}},
        }
    )
    job = catalog.create_invocation(source.id, meta)
    catalog.add_progress(job.id, done=3, chunks_written=5)  # no report yet: nothing
    assert catalog.get_progress(job.id) is None
    catalog.set_progress(job.id, InvocationProgress(unit="files", done=10, total=20))
    for _ in range(2):
        catalog.add_progress(job.id, done=4, chunks_written=7)
    assert catalog.get_progress(job.id) == InvocationProgress(
        unit="files", done=18, total=20, chunks_written=14
    )
    catalog.add_progress(job.id, done=4, chunks_written=1)  # a retried shard: capped
    got = catalog.get_progress(job.id)
    assert got is not None and (got.done, got.chunks_written) == (20, 15)
