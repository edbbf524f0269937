"""The git mirror against real servers on 127.0.0.1 (git daemon and smart HTTP).

Contract: ``GitMirror.fetch`` mirrors every branch (pruning deleted ones) and the default
branch over git:// and http://; a token travels as GitHub's Basic header and never shows in an
error, argv-visible config or the mirror's files; ``resolve`` maps branch / sha / default
(``None`` or ``"HEAD"``) to full commit ids, fetching an id that no branch reaches, and names
the repository in every error; ``list_tree`` lists blobs with sizes and marks symlinks and
submodules; ``read_blobs`` streams exact contents in order; ``diff`` reports added, modified,
deleted and renamed paths with blob ids and refuses a commit the mirror lacks.
"""

import itertools
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_pipelines.devtools.git_repos import CommitSpec, Submodule, Symlink, fast_import, init_bare
from sync_pipelines.devtools.git_server import GitDaemon, GitHttpServer
from sync_pipelines.git import GitError, GitMirror, MissingCommitError
from sync_pipelines.git.cli import basic_auth_header

TOKEN = "ghs_s3cr3tT0kenValue"
_names = itertools.count()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("served")


@pytest.fixture(scope="module")
def daemon(root: Path) -> Iterator[GitDaemon]:
    with GitDaemon(root) as server:
        yield server


@pytest.fixture(scope="module")
def http(root: Path) -> Iterator[GitHttpServer]:
    with GitHttpServer(root) as server:
        yield server


@pytest.fixture(scope="module")
def private_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("private")


@pytest.fixture(scope="module")
def private_http(private_root: Path) -> Iterator[GitHttpServer]:
    with GitHttpServer(private_root, token=TOKEN) as server:
        yield server


def new_repo(root: Path, default_branch: str = "main") -> tuple[Path, str]:
    name = f"repo{next(_names)}.git"
    return init_bare(root / name, default_branch), name


def test_fetch_over_git_daemon_mirrors_branches_and_default(
    root: Path, daemon: GitDaemon, tmp_path: Path
) -> None:
    repo, name = new_repo(root, default_branch="trunk")
    trunk, dev = fast_import(
        repo, [CommitSpec({"a.txt": "a"}, ref="trunk"), CommitSpec({"b.txt": "b"}, ref="dev")]
    )
    mirror = GitMirror(tmp_path / "m", daemon.url_for(name))
    assert mirror.fetch() == {"trunk": trunk, "dev": dev}
    assert mirror.default_branch() == "trunk"
    assert mirror.resolve(None) == trunk
    assert mirror.resolve({"branch": "HEAD"}) == trunk
    assert mirror.resolve({"branch": "dev"}) == dev
    assert mirror.resolve({"sha": dev}) == dev
    assert mirror.resolve({"sha": dev[:10].upper()}) == dev


def test_fetch_over_http_prunes_deleted_branches_and_follows_new_default(
    root: Path, http: GitHttpServer, tmp_path: Path
) -> None:
    repo, name = new_repo(root)
    main, feature = fast_import(
        repo, [CommitSpec({"a.txt": "a"}), CommitSpec({"f.txt": "f"}, ref="feature")]
    )
    mirror = GitMirror(tmp_path / "m", http.url_for(name))
    assert mirror.fetch() == {"main": main, "feature": feature}
    (repo / "refs" / "heads" / "main").unlink()
    (repo / "HEAD").write_text("ref: refs/heads/feature\n")
    assert mirror.fetch() == {"feature": feature}
    assert mirror.default_branch() == "feature"
    assert mirror.resolve(None) == feature
    with pytest.raises(GitError, match=r"branch 'main' not found \(http://127\.0\.0\.1:\d+/repo"):
        mirror.resolve({"branch": "main"})


def test_token_is_required_sent_and_never_leaked(
    private_root: Path, private_http: GitHttpServer, tmp_path: Path
) -> None:
    repo, name = new_repo(private_root)
    (head,) = fast_import(repo, [CommitSpec({"secret.md": "# private"})])
    url = private_http.url_for(name)

    with pytest.raises(GitError) as no_token:
        GitMirror(tmp_path / "anon", url).fetch()
    assert f"cannot reach the repository ({url}): authentication failed" in str(no_token.value)

    with pytest.raises(GitError) as wrong:
        GitMirror(tmp_path / "wrong", url, token="wrong-" + TOKEN).fetch()
    assert f"({url}): authentication failed" in str(wrong.value)
    header = basic_auth_header("wrong-" + TOKEN)
    assert TOKEN not in str(wrong.value) and header.split()[1] not in str(wrong.value)

    mirror = GitMirror(tmp_path / "ok", url, token=TOKEN)
    assert mirror.fetch() == {"main": head}
    for path in (tmp_path / "ok").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in (tmp_path / "ok" / "config").read_text()
    with pytest.raises(GitError) as echoed:  # git's own messages echo the name back: scrubbed
        mirror.resolve({"branch": TOKEN})
    assert str(echoed.value) == f"branch '***' not found ({url})"


def test_failing_fetch_error_does_not_contain_the_token(
    private_root: Path, private_http: GitHttpServer, tmp_path: Path
) -> None:
    mirror = GitMirror(tmp_path / "m", private_http.url_for("missing.git"), token=TOKEN)
    with pytest.raises(GitError) as caught:
        mirror.fetch()
    message = str(caught.value)
    assert message.startswith(f"cannot reach the repository ({mirror.url}): fatal: repository")
    assert message.endswith("not found")
    assert TOKEN not in message and "x-access-token" not in message


def test_url_with_password_is_refused() -> None:
    with pytest.raises(ValueError, match="must not carry a password") as caught:
        GitMirror(Path("/nonexistent"), f"https://x-access-token:{TOKEN}@example.com/o/r.git")
    assert TOKEN not in str(caught.value)
    with pytest.raises(ValueError, match="unsupported repository URL"):
        GitMirror(Path("/nonexistent"), "ext::sh -c touch% /tmp/pwned")


def test_unreachable_remote_and_timeout_are_git_errors(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/o/r.git"
    with pytest.raises(GitError, match=r"cannot reach the repository \(http://127\.0\.0\.1"):
        GitMirror(tmp_path / "a", url).fetch()

    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/o/r.git"
        started = time.monotonic()
        with pytest.raises(GitError, match="timed out after 1 s"):
            GitMirror(tmp_path / "b", url, timeout=1).fetch()
        assert time.monotonic() - started < 5


def test_resolve_fetches_a_commit_no_branch_reaches(
    root: Path, daemon: GitDaemon, tmp_path: Path
) -> None:
    repo, name = new_repo(root)
    (main,) = fast_import(repo, [CommitSpec({"a.txt": "a"})])
    (pull,) = fast_import(repo, [CommitSpec({"pr.txt": "pr"}, ref="refs/pull/7/head")])
    mirror = GitMirror(tmp_path / "m", daemon.url_for(name))
    assert mirror.fetch() == {"main": main}
    assert not mirror.has_commit(pull)
    assert mirror.resolve({"sha": pull}) == pull
    assert mirror.list_tree(pull)["pr.txt"].size == 2
    assert mirror.fetch() == {"main": main}
    assert mirror.has_commit(pull), "a commit pinned by id survives later fetches"


def test_resolve_errors(root: Path, daemon: GitDaemon, tmp_path: Path) -> None:
    repo, name = new_repo(root)
    fast_import(repo, [CommitSpec({"a.txt": "a"})])
    mirror = GitMirror(tmp_path / "m", daemon.url_for(name))
    mirror.fetch()
    with pytest.raises(GitError, match="branch 'nope' not found"):
        mirror.resolve({"branch": "nope"})
    with pytest.raises(MissingCommitError, match=f"commit {'ab' * 20} not found.*not our ref"):
        mirror.resolve({"sha": "ab" * 20})
    with pytest.raises(MissingCommitError, match="commit abcdef0 not found"):
        mirror.resolve({"sha": "abcdef0"})
    for bad in ({"branch": "--upload-pack=x"}, {"branch": "a..b"}, {"sha": "zz"}, {"tag": "v1"}):
        with pytest.raises(ValueError):
            mirror.resolve(bad)


def test_empty_repository_has_no_branches_and_no_default(
    root: Path, http: GitHttpServer, tmp_path: Path
) -> None:
    _, name = new_repo(root)
    mirror = GitMirror(tmp_path / "m", http.url_for(name))
    assert mirror.fetch() == {}
    with pytest.raises(GitError, match="empty repository"):
        mirror.resolve(None)


def test_list_tree_marks_symlinks_and_submodules(
    root: Path, daemon: GitDaemon, tmp_path: Path
) -> None:
    repo, name = new_repo(root)
    binary = bytes(range(256)) * 4
    (head,) = fast_import(
        repo,
        [
            CommitSpec(
                {
                    "README.md": "# hi\n",
                    "assets/logo.bin": binary,
                    "docs/deep/nested/page.md": "x" * 5000,
                    "escape": Symlink("../../../etc/passwd"),
                    "vendor/lib": Submodule("1234567890" * 4),
                }
            )
        ],
    )
    mirror = GitMirror(tmp_path / "m", daemon.url_for(name))
    mirror.fetch()
    tree = mirror.list_tree(head)
    assert sorted(tree) == [
        "README.md",
        "assets/logo.bin",
        "docs/deep/nested/page.md",
        "escape",
        "vendor/lib",
    ]
    assert (tree["assets/logo.bin"].size, tree["assets/logo.bin"].mode) == (1024, "100644")
    assert tree["docs/deep/nested/page.md"].size == 5000
    assert tree["escape"].is_symlink and not tree["escape"].is_file
    assert tree["vendor/lib"].is_submodule and tree["vendor/lib"].size is None
    assert tree["vendor/lib"].sha == "1234567890" * 4
    assert [p for p, e in tree.items() if e.is_file] == [
        "README.md",
        "assets/logo.bin",
        "docs/deep/nested/page.md",
    ]
    blobs = dict(mirror.read_blobs([tree["assets/logo.bin"].sha, tree["escape"].sha]))
    assert blobs[tree["assets/logo.bin"].sha] == binary
    assert blobs[tree["escape"].sha] == b"../../../etc/passwd"
    with pytest.raises(MissingCommitError, match="not found in the mirror"):
        mirror.list_tree("f" * 40)


def test_read_blobs_streams_many_files_in_order(
    root: Path, http: GitHttpServer, tmp_path: Path
) -> None:
    repo, name = new_repo(root)
    files = {
        f"pkg{i % 20}/mod{i}.py": f"def f{i}():\n    return {i}\n" * (i % 7 + 1)
        for i in range(1500)
    }
    files["empty.txt"] = ""
    (head,) = fast_import(repo, [CommitSpec(files)])
    mirror = GitMirror(tmp_path / "m", http.url_for(name))
    mirror.fetch()
    tree = mirror.list_tree(head)
    paths = sorted(tree)
    got = list(mirror.read_blobs(tree[p].sha for p in paths))
    assert [sha for sha, _ in got] == [tree[p].sha for p in paths]
    assert [data.decode() for _, data in got] == [files[p] for p in paths]

    stream = mirror.read_blobs(tree[p].sha for p in paths)
    assert next(stream)[1] == b""  # empty.txt sorts first
    stream.close()  # stopping early ends the cat-file process cleanly

    with pytest.raises(MissingCommitError, match=r"blob 0123.* not found"):
        list(mirror.read_blobs([tree[paths[0]].sha, "0123456789" * 4]))


def test_diff_reports_add_modify_delete_rename(
    root: Path, daemon: GitDaemon, tmp_path: Path
) -> None:
    repo, name = new_repo(root)
    body = "".join(f"line {i} of a long enough file to detect renames\n" for i in range(40))
    old, new = fast_import(
        repo,
        [
            CommitSpec({"keep.txt": "same", "edit.txt": "v1", "gone.txt": "bye", "old.md": body}),
            CommitSpec(
                {
                    "edit.txt": "v2",
                    "gone.txt": None,
                    "old.md": None,
                    "moved/new.md": body + "one more line\n",
                    "added.txt": "hello",
                }
            ),
        ],
    )
    mirror = GitMirror(tmp_path / "m", daemon.url_for(name))
    mirror.fetch()
    before, after = mirror.list_tree(old), mirror.list_tree(new)
    changes = {c.path: c for c in mirror.diff(old, new)}
    assert {p: c.status for p, c in changes.items()} == {
        "added.txt": "added",
        "edit.txt": "modified",
        "gone.txt": "deleted",
        "moved/new.md": "renamed",
    }
    assert changes["moved/new.md"].old_path == "old.md"
    assert changes["moved/new.md"].old_sha == before["old.md"].sha
    assert changes["moved/new.md"].new_sha == after["moved/new.md"].sha
    assert changes["edit.txt"].old_sha == before["edit.txt"].sha
    assert changes["edit.txt"].new_sha == after["edit.txt"].sha
    assert (changes["gone.txt"].new_sha, changes["gone.txt"].new_mode) == (None, None)
    assert (changes["added.txt"].old_sha, changes["added.txt"].old_path) == (None, None)

    plain = {c.path: c.status for c in mirror.diff(old, new, renames=False)}
    assert plain["old.md"] == "deleted" and plain["moved/new.md"] == "added"
    assert mirror.diff(new, new) == []
    with pytest.raises(MissingCommitError, match=f"commit {'e' * 40} not found in the mirror"):
        mirror.diff("e" * 40, new)
