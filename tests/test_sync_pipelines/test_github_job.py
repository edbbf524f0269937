"""``sync_github_job`` end to end against bare repositories served on 127.0.0.1.

Contract: a sync at a branch, a sha or the default branch writes one chunk set per synced file
with ids ``sha256(path)-i`` and metadata ``document_key`` = path, ``version_key`` = blob sha,
and records the commit in the collection's metadata; include/exclude globs select paths;
binary files and symlinks are skipped with reasons; a re-sync reads and re-embeds only files
whose blob changed and deletes chunks of deleted and renamed-away files (against the recorded
commit, or against the stored blob shas after a force-push to unrelated history); and the
result always equals a fresh full sync of the new commit into a new collection. After a chunker
upgrade the next sync compares stored blob shas (not the diff from the recorded commit) and
re-chunks every file once, whatever changed in git; the one after is incremental again and
writes nothing. A token stored
on a source authenticates over HTTP and is never shown; an API-created invocation of a GitHub
source runs to ``complete``.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipelines.catalog import Catalog
from sync_pipelines.core.records import sha256_hex
from sync_pipelines.devtools.git_repos import CommitSpec, Symlink, fast_import
from sync_pipelines.devtools.git_server import GitDaemon, GitHttpServer
from sync_pipelines.git import GitMirror
from sync_pipelines.names import INVOCATION_TAG, SYNC_GITHUB_JOB
from sync_pipelines.run_requests import run_request_for
from sync_pipelines.schemas import IndexJobMetadata, Source
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.chunker_helpers import old_chunker
from tests.test_sync_pipelines.github_helpers import (
    DATABASE,
    collection,
    contents,
    create_github_source,
    document_keys,
    fetch_metadata,
    new_repo,
    run_github_sync,
    summary,
)

TOKEN = "ghs_privateRepoToken123"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
FILES = {
    "README.md": "# Demo\n\nA demo repository.\n",
    "src/app.py": "def main():\n    return 'app'\n",
    "src/util.py": "def helper(x):\n    return x + 1\n",
    "docs/guide.md": "# Guide\n\nHow to use it.\n",
    "docs/internal/notes.md": "# Notes\n\nInternal.\n",
    "old.md": "# Old\n\nGoing away.\n",
    "moved.md": "# Moved\n\nThis file is renamed.\n",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("served")


@pytest.fixture(scope="module")
def daemon(root: Path) -> Iterator[GitDaemon]:
    with GitDaemon(root) as server:
        yield server


def base(daemon: GitDaemon) -> str:
    return f"git://127.0.0.1:{daemon.port}"


def blob_shas(repo: Path, commit: str) -> dict[str, str]:
    mirror = GitMirror(repo, "file:///unused")
    return {path: entry.sha for path, entry in mirror.list_tree(commit).items()}


def test_full_sync_at_a_branch_writes_ids_metadata_and_skips_with_reasons(
    root: Path, daemon: GitDaemon
) -> None:
    repo, name = new_repo(root)
    files = {**FILES, "logo.png": PNG, "escape": Symlink("../../../etc/passwd")}
    (commit,) = fast_import(repo, [CommitSpec(files)])
    source = create_github_source(base(daemon), name)

    result = run_github_sync(source, {"branch": "main"})

    assert result.success
    shas = blob_shas(repo, commit)
    stored = contents()
    assert document_keys() == set(FILES)
    for cid, (_doc, meta) in stored.items():
        path = meta["document_key"]
        assert cid.rpartition("-")[0] == sha256_hex(path)
        assert meta["version_key"] == shas[path]
        assert meta["document_key_sha256"] == sha256_hex(path)
    assert {cid for cid in stored if cid.startswith(sha256_hex("src/app.py"))} == {
        f"{sha256_hex('src/app.py')}-0"
    }
    meta = fetch_metadata(result)
    assert meta["commit"] == commit and meta["mode"] == "full"
    assert meta["skipped"]["escape"] == "symbolic link"
    assert "binary" in meta["skipped"]["logo.png"] or "UTF-8" in meta["skipped"]["logo.png"]
    counts = summary(result)
    assert counts["files_changed"] == len(FILES) + 1  # the PNG was read, then skipped
    assert counts["files_skipped"] == 2
    assert counts["chunks_written"] == len(stored)
    assert collection().metadata["git_commit"] == commit
    assert collection().metadata["finished_ingest"] is True


def test_sync_at_a_sha_and_at_the_default_branch(root: Path, daemon: GitDaemon) -> None:
    repo, name = new_repo(root, default_branch="trunk")
    first, second = fast_import(
        repo,
        [
            CommitSpec({"a.md": "# A\n\nfirst\n"}, ref="trunk"),
            CommitSpec({"b.md": "# B\n\nsecond\n"}, ref="trunk"),
        ],
    )
    (dev,) = fast_import(repo, [CommitSpec({"dev.md": "# Dev\n"}, ref="dev")])
    source = create_github_source(base(daemon), name)

    assert run_github_sync(source, {"sha": first}, "at_sha").success
    assert document_keys("at_sha") == {"a.md"}
    assert collection("at_sha").metadata["git_commit"] == first

    for ref, target in ((None, "default"), ({"branch": "HEAD"}, "head")):
        assert run_github_sync(source, ref, target).success
        assert document_keys(target) == {"a.md", "b.md"}
        assert collection(target).metadata["git_commit"] == second

    assert run_github_sync(source, {"branch": "dev"}, "dev").success
    assert document_keys("dev") == {"dev.md"}  # a new ref starts a new history
    assert collection("dev").metadata["git_commit"] == dev


def test_include_and_exclude_globs(root: Path, daemon: GitDaemon) -> None:
    repo, name = new_repo(root)
    fast_import(repo, [CommitSpec(FILES)])
    source = create_github_source(
        base(daemon), name, include_globs=["*.md", "src/**"], exclude_globs=["docs/internal/"]
    )

    assert run_github_sync(source, {"branch": "main"}).success

    assert document_keys() == set(FILES) - {"docs/internal/notes.md"}


def test_unknown_branch_fails_naming_the_repository(root: Path, daemon: GitDaemon) -> None:
    repo, name = new_repo(root)
    fast_import(repo, [CommitSpec({"a.md": "# A\n"})])
    source = create_github_source(base(daemon), name)

    result = run_github_sync(source, {"branch": "nope"})

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data
    assert failure.user_failure_data is not None
    description = failure.user_failure_data.description or ""
    assert description.startswith(f"{base(daemon)}/{name}: ") and "nope" in description


def fresh_equals_incremental(source_collection: str, source: Source, commit: str) -> None:
    assert run_github_sync(source, {"sha": commit}, "fresh").success
    assert contents(source_collection) == contents("fresh")


def test_incremental_sync_rechunks_only_changed_files(root: Path, daemon: GitDaemon) -> None:
    repo, name = new_repo(root)
    (first,) = fast_import(repo, [CommitSpec(FILES)])
    source = create_github_source(base(daemon), name)
    assert run_github_sync(source, {"branch": "main"}).success
    before = contents()
    (second,) = fast_import(
        repo,
        [
            CommitSpec(
                {
                    "src/app.py": "def main():\n    return 'changed'\n",
                    "new.md": "# New\n\nAdded.\n",
                    "old.md": None,
                    "moved.md": None,
                    "renamed/moved.md": FILES["moved.md"],
                }
            )
        ],
    )

    result = run_github_sync(source, {"branch": "main"})

    assert result.success
    meta = fetch_metadata(result)
    assert meta["mode"] == "diff" and meta["commit"] == second
    assert meta["files_renamed"] == 1
    counts = summary(result)
    assert counts["files_changed"] == 3  # src/app.py, new.md, renamed/moved.md
    assert counts["files_deleted"] == 2  # old.md, moved.md
    assert counts["files_unchanged"] == len(FILES) - 3
    assert counts["chunks_written"] == 3 and counts["chunks_deleted"] == 2
    after = contents()
    assert document_keys() == set(FILES) - {"old.md", "moved.md"} | {"new.md", "renamed/moved.md"}
    unchanged = {cid: v for cid, v in before.items() if v[1]["document_key"] in {"README.md"}}
    assert all(after[cid] == value for cid, value in unchanged.items())
    assert collection().metadata["git_commit"] == second != first
    fresh_equals_incremental("code", source, second)

    again = run_github_sync(source, {"branch": "main"})
    assert summary(again)["files_changed"] == 0 and summary(again)["chunks_written"] == 0


def test_force_push_to_unrelated_history_compares_stored_blobs(
    root: Path, daemon: GitDaemon
) -> None:
    repo, name = new_repo(root)
    fast_import(repo, [CommitSpec(FILES)])
    source = create_github_source(base(daemon), name)
    assert run_github_sync(source, {"branch": "main"}).success
    kept = {"README.md": FILES["README.md"], "src/util.py": FILES["src/util.py"]}
    (orphan,) = fast_import(
        repo, [CommitSpec({**kept, "src/app.py": "def main():\n    return 2\n"}, orphan=True)]
    )

    result = run_github_sync(source, {"branch": "main"})

    assert result.success
    assert fetch_metadata(result)["mode"] == "stored_blobs"
    counts = summary(result)
    assert counts["files_unchanged"] == 2
    assert counts["files_changed"] == 1 and counts["chunks_written"] == 1
    assert counts["files_deleted"] == len(FILES) - 3
    assert document_keys() == {"README.md", "src/util.py", "src/app.py"}
    fresh_equals_incremental("code", source, orphan)


def test_missing_recorded_commit_compares_stored_blobs(root: Path, daemon: GitDaemon) -> None:
    repo, name = new_repo(root)
    fast_import(repo, [CommitSpec(FILES)])
    first = create_github_source(base(daemon), name)
    assert run_github_sync(first, {"branch": "main"}).success
    (second,) = fast_import(repo, [CommitSpec({"old.md": None})])
    # A second source has its own, fresh mirror; make the recorded commit unknown to it.
    collection().modify(metadata={"git_commit": "f" * 40, "finished_ingest": True})
    other = create_github_source(base(daemon), name)

    result = run_github_sync(other, {"branch": "main"})

    assert result.success
    assert fetch_metadata(result)["mode"] == "stored_blobs"
    counts = summary(result)
    assert counts == {**counts, "files_changed": 0, "files_deleted": 1, "chunks_written": 0}
    fresh_equals_incremental("code", other, second)


BIG_PY = "\n\n".join(
    f"def function_{i}(x):\n    '''Function {i}.'''\n" + "    y = x * 2\n" * 30 + "    return y\n"
    for i in range(6)
)


def test_chunker_upgrade_rechunks_every_file_once(
    root: Path, daemon: GitDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, name = new_repo(root)
    files = {**FILES, "src/big.py": BIG_PY}
    fast_import(repo, [CommitSpec(files)])
    source = create_github_source(base(daemon), name)
    with monkeypatch.context() as patch:
        old_chunker(patch)
        assert run_github_sync(source, {"branch": "main"}).success
    old = contents()
    assert all("chunker_version" not in meta for _, meta in old.values())
    assert collection().metadata.get("chunker_version", 1) == 1
    # A commit lands too: the recorded commit's diff alone would re-chunk only src/app.py.
    (second,) = fast_import(repo, [CommitSpec({"src/app.py": "def main():\n    return 3\n"})])

    result = run_github_sync(source, {"branch": "main"})

    assert result.success
    assert fetch_metadata(result)["mode"] == "stored_blobs"
    counts = summary(result)
    assert counts["files_changed"] == len(files) and counts["files_unchanged"] == 0
    assert counts["chunks_skipped"] == 0
    stored = contents()
    assert counts["chunks_written"] + counts["chunks_metadata_updated"] == len(stored)
    assert {meta["chunker_version"] for _, meta in stored.values()} == {2}
    for path in files:
        ids = {cid for cid, (_, meta) in stored.items() if meta["document_key"] == path}
        assert ids == {f"{sha256_hex(path)}-{i}" for i in range(len(ids))}, path
    assert len(stored) > len(old)  # src/big.py is cut to the 256-token window now
    assert collection().metadata["chunker_version"] == 2
    assert collection().metadata["git_commit"] == second
    fresh_equals_incremental("code", source, second)

    again = run_github_sync(source, {"branch": "main"})

    assert fetch_metadata(again)["mode"] == "diff"
    counts = summary(again)
    assert counts["files_changed"] == 0 and counts["chunks_written"] == 0
    assert counts["chunks_metadata_updated"] == 0
    assert contents() == stored


def test_token_on_the_source_authenticates_over_http_and_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = tmp_path / "private"
    repo, name = new_repo(served)
    (commit,) = fast_import(repo, [CommitSpec({"secret.md": "# Private\n\nHidden.\n"})])
    with GitHttpServer(served, token=TOKEN) as server:
        base_url = f"http://127.0.0.1:{server.port}"
        with_token = create_github_source(base_url, name, token=TOKEN)
        without = create_github_source(base_url, name)

        assert run_github_sync(with_token, {"branch": "main"}).success
        failed = run_github_sync(without, {"branch": "main"}, "other")
        # The server-wide token goes only to the configured git host over https: this plain
        # http host on another port never sees it (test_server_credentials has the positive).
        monkeypatch.setenv("CHROMA_SYNC_GITHUB_TOKEN", TOKEN)
        get_settings.cache_clear()
        seen = len(server.authorizations)
        assert not run_github_sync(without, {"branch": "main"}, "other").success
        assert server.authorizations[seen:] and not any(server.authorizations[seen:])

    assert document_keys() == {"secret.md"}
    assert collection().metadata["git_commit"] == commit
    assert not failed.success
    failure = next(e for e in failed.all_events if e.is_step_failure).step_failure_data
    description = (failure.user_failure_data.description or "") if failure.user_failure_data else ""
    assert description.startswith(f"{base_url}/{name}: ") and TOKEN not in description
    store = Catalog(get_settings().resolved_catalog_url)
    assert store.get_git_token(with_token.id) == TOKEN
    assert store.get_git_token(without.id) is None
    shown = store.get_source(with_token.id)
    assert shown is not None and TOKEN not in json.dumps(shown.model_dump(mode="json"))
    assert store.delete_source(with_token.id)
    assert store.get_git_token(with_token.id) is None


def test_api_invocation_of_a_github_source_runs_to_complete(root: Path, daemon: GitDaemon) -> None:
    from sync_pipelines.definitions import build_definitions

    repo, name = new_repo(root)
    (commit,) = fast_import(repo, [CommitSpec({"a.md": "# A\n\nAlpha.\n"})])
    source = create_github_source(base(daemon), name)
    store = Catalog(get_settings().resolved_catalog_url)
    metadata = IndexJobMetadata.model_validate(
        {
            "github": {"git_ref_identifier": {"sha": commit}},
            "database_name": DATABASE,
            "collection_name": "api",
        }
    )
    job = store.create_invocation(source.id, metadata)
    record = store.get_invocation_record(job.id)
    assert record is not None

    request = run_request_for(record, source, max_object_bytes=1_000_000)
    assert request.job_name == SYNC_GITHUB_JOB and request.tags[INVOCATION_TAG] == str(job.id)
    definition = build_definitions(get_settings()).resolve_job_def(SYNC_GITHUB_JOB)
    result = definition.execute_in_process(
        run_config=request.run_config, tags=request.tags, raise_on_error=False
    )

    assert result.success
    found = store.get_invocation(job.id)
    assert found is not None and found.status.word == "complete"
    assert document_keys("api") == {"a.md"}
    assert collection("api").metadata["git_commit"] == commit
