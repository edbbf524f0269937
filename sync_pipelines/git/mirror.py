"""A bare mirror of one remote repository, fetched incrementally over the git CLI.

The mirror keeps every branch as ``refs/heads/*`` (pruned on fetch), the remote's default
branch as its ``HEAD``, and commits fetched by id as ``refs/pinned/<sha>``. Reusing the same
folder makes repeat fetches transfer only new objects. Objects that a force-push made
unreachable stay until git's garbage collection prunes them (two weeks by default), so a diff
against a force-pushed-away commit works until then and raises ``MissingCommitError`` after.
"""

import fcntl
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from sync_pipelines.git import trees
from sync_pipelines.git.cli import GitError, GitRunner, MissingCommitError, Transport, redact_url
from sync_pipelines.git.trees import Change, TreeEntry

_SCHEMES = ("https", "http", "git", "ssh", "file")
_SHA = re.compile(r"^[0-9a-f]{4,40}$")
_BAD_BRANCH = re.compile(r"(^[-/.])|\.\.|[\x00-\x20\x7f~^:?*\[\\]|@\{|(\.lock|/|\.)$|//|/\.")


class GitMirror:
    """A bare mirror of ``url`` at ``path``.

    Args:
        path: The mirror's folder (created on first fetch).
        url: The remote's URL (``https://``, ``http://``, ``git://``, ``ssh://`` or
            ``file://``), without credentials.
        token: Optional HTTP token, sent as ``Authorization: Basic
            base64(x-access-token:TOKEN)`` through the environment only.
        timeout: Seconds any single git command may take.
        transport: Binds network commands to the outbound policy (see ``GitRunner``).

    Raises:
        ValueError: The URL has an unsupported scheme or carries credentials.
    """

    def __init__(
        self,
        path: Path,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 120,
        transport: Transport | None = None,
    ):
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES or not (parts.netloc or parts.scheme == "file"):
            raise ValueError(f"unsupported repository URL {redact_url(url)!r}")
        if parts.password is not None:
            raise ValueError("the repository URL must not carry a password; pass token=")
        self.path = path
        self.url = url
        self._git = GitRunner(path, url, token=token, timeout=timeout, transport=transport)

    def fetch(self) -> dict[str, str]:
        """Fetch every branch (pruning deleted ones) and the remote's default branch.

        Returns:
            Branch name to head commit id, after the fetch.

        Raises:
            GitError: The remote is unreachable, refused the credentials, or git failed.
        """
        self._ensure()
        with self._locked():
            head = self._remote_head()
            self._git.run(
                [
                    "fetch",
                    "--prune",
                    "--no-tags",
                    "--no-write-fetch-head",
                    self.url,
                    "+refs/heads/*:refs/heads/*",
                ],
                what="fetch failed",
            )
            if head is not None:
                self._git.run(["symbolic-ref", "HEAD", f"refs/heads/{head}"], what="fetch failed")
        return self.branch_heads()

    def branch_heads(self) -> dict[str, str]:
        """Return branch name to head commit id, as of the last fetch."""
        if not self._exists():
            return {}
        out = self._git.run(
            ["for-each-ref", "--format=%(objectname) %(refname:strip=2)", "refs/heads/"],
            what="listing branches failed",
        ).stdout.decode("utf-8", "surrogateescape")
        heads: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, name = line.partition(" ")
            heads[name] = sha
        return heads

    def default_branch(self) -> str:
        """Return the remote's default branch, as of the last fetch.

        Raises:
            GitError: Not fetched yet, or the remote has no default branch (empty repository).
        """
        proc = self._git.run(
            ["symbolic-ref", "--quiet", "HEAD"], what="reading HEAD failed", check=False
        )
        ref = proc.stdout.decode().strip()
        if proc.returncode != 0 or not ref.startswith("refs/heads/"):
            raise self._git.error("no default branch (not fetched yet, or empty repository)")
        name = ref.removeprefix("refs/heads/")
        if name not in self.branch_heads():
            raise self._git.error(f"default branch {name!r} has no commits (empty repository)")
        return name

    def resolve(self, ref: Mapping[str, str] | None) -> str:
        """Return the full commit id that ``ref`` names, as of the last fetch.

        Args:
            ref: ``{"branch": name}`` (``"HEAD"`` is the default branch), ``{"sha": id}``
                (full or an unambiguous prefix; a full id missing locally is fetched by id),
                or ``None`` for the default branch.

        Returns:
            A 40-hex commit id.

        Raises:
            GitError: Unknown branch, or the remote refused to fetch the id.
            MissingCommitError: The commit does not exist locally or on the remote.
            ValueError: ``ref`` has neither ``branch`` nor ``sha``, or an invalid value.
        """
        if ref is None or ref.get("branch") == "HEAD":
            return self._branch_head(self.default_branch())
        if set(ref) == {"branch"}:
            name = ref["branch"]
            if _BAD_BRANCH.search(name):
                raise ValueError(f"invalid branch name {name!r}")
            return self._branch_head(name)
        if set(ref) == {"sha"}:
            return self._resolve_sha(ref["sha"].lower())
        raise ValueError(f"ref must be {{'branch': ...}} or {{'sha': ...}}, got {sorted(ref)}")

    def has_commit(self, commit: str) -> bool:
        """Return whether ``commit`` is present in the mirror."""
        return self._exists() and trees.has_commit(self._git, commit)

    def list_tree(self, commit: str) -> dict[str, TreeEntry]:
        """Return path to entry for every non-directory entry of ``commit`` (see ``trees``)."""
        return trees.list_tree(self._git, commit)

    def read_blobs(self, shas: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """Yield ``(sha, content)`` for each blob id, in order (see ``trees.read_blobs``)."""
        return trees.read_blobs(self._git, shas)

    def diff(self, old_commit: str, new_commit: str, *, renames: bool = True) -> list[Change]:
        """Return the changes between two commits' trees (see ``trees.diff``).

        Raises:
            MissingCommitError: Either commit is not in the mirror.
        """
        return trees.diff(self._git, old_commit, new_commit, renames=renames)

    def _branch_head(self, name: str) -> str:
        proc = self._git.run(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{name}^{{commit}}"],
            what="rev-parse failed",
            check=False,
        )
        if proc.returncode != 0:
            raise self._git.error(f"branch {name!r} not found")
        return proc.stdout.decode().strip()

    def _resolve_sha(self, sha: str) -> str:
        if not _SHA.match(sha):
            raise ValueError(f"invalid commit id {sha!r}")
        found = self._local_commit(sha)
        if found is None and len(sha) == 40:
            self._ensure()
            with self._locked():
                proc = self._git.run(
                    [
                        "fetch",
                        "--no-tags",
                        "--no-write-fetch-head",
                        self.url,
                        f"+{sha}:refs/pinned/{sha}",
                    ],
                    what=f"fetching commit {sha} failed",
                    check=False,
                )
            found = self._local_commit(sha)
            if found is None:
                stderr = proc.stderr.decode("utf-8", "replace")
                raise self._git.error(f"commit {sha} not found", stderr, MissingCommitError)
        if found is None:
            raise self._git.error(f"commit {sha} not found", kind=MissingCommitError)
        return found

    def _local_commit(self, sha: str) -> str | None:
        if not self._exists():
            return None
        proc = self._git.run(
            ["rev-parse", "--verify", "--quiet", f"{sha}^{{commit}}"],
            what="rev-parse failed",
            check=False,
        )
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def _remote_head(self) -> str | None:
        out = self._git.run(
            ["ls-remote", "--symref", self.url, "HEAD"], what="cannot reach the repository"
        ).stdout.decode("utf-8", "surrogateescape")
        for line in out.splitlines():
            target, _, name = line.partition("\t")
            if name == "HEAD" and target.startswith("ref: refs/heads/"):
                return target.removeprefix("ref: refs/heads/")
        return None

    def _exists(self) -> bool:
        return (self.path / "HEAD").is_file() and (self.path / "objects").is_dir()

    def _ensure(self) -> None:
        if self._exists():
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self._git.run(["init", "--bare", "--quiet"], what="cannot create the mirror")

    def _locked(self) -> "_FileLock":
        return _FileLock(self.path / "chroma-sync.lock")


class _FileLock:
    """An exclusive ``flock`` on a file, so two processes never fetch into one mirror at once."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = -1

    def __enter__(self) -> None:
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)  # closing releases the lock


__all__ = ["GitError", "GitMirror", "MissingCommitError"]
