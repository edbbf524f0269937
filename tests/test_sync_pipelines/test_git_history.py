"""Mirrors over longer histories: incremental fetches, far-apart diffs, force-pushes.

Contract: a 1,000-commit history mirrors in one fetch and ``diff`` between far-apart commits
equals the difference of their trees; a second fetch into the same mirror transfers only the
new objects (a handful of loose objects, one upload-pack exchange); after a force-push to
unrelated history the branch points at the new history and ``diff`` from the old commit still
works (a tree diff) while git keeps the unreachable objects, then raises ``MissingCommitError``
once they are pruned, which is the caller's cue to compare trees by blob id. Like GitHub, the
server serves an unreachable commit by id until its own gc prunes it.
"""

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipelines.devtools.git_repos import CommitSpec, fast_import, init_bare
from sync_pipelines.devtools.git_server import GitHttpServer
from sync_pipelines.git import GitMirror, MissingCommitError


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHttpServer]:
    with GitHttpServer(tmp_path_factory.mktemp("served")) as server:
        yield server


def loose_objects(mirror: Path) -> int:
    out = subprocess.run(
        ["git", f"--git-dir={mirror}", "count-objects", "-v"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(dict(line.split(": ") for line in out.splitlines())["count"])


def history(commits: int, files: int) -> Iterator[CommitSpec]:
    yield CommitSpec({f"src/f{i}.txt": f"file {i} version 0\n" for i in range(files)})
    for n in range(1, commits):
        change: dict[str, str | None] = {f"src/f{n % files}.txt": f"file {n % files} v{n}\n"}
        if n % 100 == 0:
            change[f"extra/e{n}.txt"] = "new\n"
        if n % 250 == 0:
            change["extra/e100.txt"] = None
        yield CommitSpec(change, message=f"commit {n}")


def test_thousand_commit_history_and_far_apart_diff(http: GitHttpServer, tmp_path: Path) -> None:
    repo = init_bare(http.root / "long.git")
    started = time.monotonic()
    shas = fast_import(repo, history(1000, 300))
    assert len(set(shas)) == 1000
    assert time.monotonic() - started < 5
    mirror = GitMirror(tmp_path / "m", http.url_for("long.git"))
    assert mirror.fetch() == {"main": shas[-1]}

    old, new = mirror.list_tree(shas[10]), mirror.list_tree(shas[990])
    expected = {p for p in old.keys() | new.keys() if old.get(p) != new.get(p)}
    changes = mirror.diff(shas[10], shas[990], renames=False)
    assert {c.path for c in changes} == expected
    statuses = {c.path: c.status for c in changes}
    assert statuses["extra/e900.txt"] == "added"
    assert "extra/e100.txt" not in statuses  # added at 100, deleted at 250: absent in both
    assert sum(s == "modified" for s in statuses.values()) == 300  # every file touched since


def test_second_fetch_transfers_only_new_objects(http: GitHttpServer, tmp_path: Path) -> None:
    repo = init_bare(http.root / "incremental.git")
    fast_import(repo, [CommitSpec({f"d{i % 40}/f{i}.md": f"# {i}\n" * 20 for i in range(2000)})])
    mirror_path = tmp_path / "m"
    mirror = GitMirror(mirror_path, http.url_for("incremental.git"))
    mirror.fetch()
    assert loose_objects(mirror_path) == 0  # the first fetch arrives as one pack

    (new,) = fast_import(repo, [CommitSpec({"d7/f7.md": "changed\n"})])
    before = len(http.requests)
    started = time.monotonic()
    assert mirror.fetch() == {"main": new}
    elapsed = time.monotonic() - started
    # commit + root tree + d7 tree + blob: only the new objects crossed the wire
    assert loose_objects(mirror_path) == 4
    assert [r[:2] for r in http.requests[before:]] == [
        ("GET", "/incremental.git/info/refs?service=git-upload-pack"),
        ("POST", "/incremental.git/git-upload-pack"),  # ls-remote HEAD
        ("GET", "/incremental.git/info/refs?service=git-upload-pack"),
        ("POST", "/incremental.git/git-upload-pack"),  # ls-refs
        ("POST", "/incremental.git/git-upload-pack"),  # fetch
    ]
    assert elapsed < 2, f"incremental fetch took {elapsed:.2f} s"
    assert [c.path for c in mirror.diff(mirror.resolve({"sha": new[:12]}) + "~1", new)] == [
        "d7/f7.md"
    ]


def test_force_push_to_unrelated_history(http: GitHttpServer, tmp_path: Path) -> None:
    repo = init_bare(http.root / "forced.git")
    old = fast_import(repo, [CommitSpec({"a.txt": "a", "b.txt": "b"}), CommitSpec({"c": "c"})])
    mirror_path = tmp_path / "m"
    mirror = GitMirror(mirror_path, http.url_for("forced.git"))
    mirror.fetch()
    (rewritten,) = fast_import(
        repo, [CommitSpec({"a.txt": "a", "z.txt": "z"}, orphan=True, message="rewrite")]
    )
    assert mirror.fetch() == {"main": rewritten}
    assert mirror.resolve(None) == rewritten

    # The bare mirror still holds the old objects: a tree diff needs no shared history.
    changes = {c.path: c.status for c in mirror.diff(old[-1], rewritten)}
    assert changes == {"b.txt": "deleted", "c": "deleted", "z.txt": "added"}

    # Like GitHub, the server still serves a force-pushed-away commit by id until its gc.
    assert mirror.resolve({"sha": old[-1]}) == old[-1]

    # Fetched by id it is pinned in the mirror; unpin it, then let both sides' gc prune it.
    pin = ["update-ref", "-d", f"refs/pinned/{old[-1]}"]
    subprocess.run(["git", f"--git-dir={mirror_path}", *pin], check=True)
    for git_dir in (repo, mirror_path):
        subprocess.run(["git", f"--git-dir={git_dir}", "gc", "--quiet", "--prune=now"], check=True)
    assert not mirror.has_commit(old[-1])
    with pytest.raises(MissingCommitError, match=f"commit {old[-1]} not found in the mirror"):
        mirror.diff(old[-1], rewritten)
    with pytest.raises(MissingCommitError, match="not our ref"):
        mirror.resolve({"sha": old[-1]})
