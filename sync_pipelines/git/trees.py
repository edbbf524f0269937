"""Reading a mirror's content: trees (``ls-tree``), blobs (``cat-file --batch``), diffs.

Paths are repository-relative, ``/``-separated, decoded as UTF-8 with ``surrogateescape`` so a
non-UTF-8 name still round-trips (callers that need clean text check ``path.isprintable()``
or try ``path.encode()``).
"""

import contextlib
import subprocess
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from sync_pipelines.git.cli import GitRunner, MissingCommitError

MODE_SYMLINK = "120000"
MODE_SUBMODULE = "160000"
_ZERO_SHA = "0" * 40

ChangeStatus = Literal["added", "modified", "deleted", "renamed"]
_STATUS: dict[str, ChangeStatus] = {
    "A": "added",
    "M": "modified",
    "T": "modified",
    "D": "deleted",
    "R": "renamed",
}


def _path(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One non-directory entry of a commit's tree.

    Attributes:
        sha: The blob's (or, for a submodule, the commit's) object id.
        mode: git's octal mode: ``100644``, ``100755``, ``120000`` (symlink), ``160000``
            (submodule).
        size: Size in bytes; ``None`` for a submodule.
    """

    sha: str
    mode: str
    size: int | None

    @property
    def is_symlink(self) -> bool:
        """Whether the entry is a symbolic link (its blob is the link's target text)."""
        return self.mode == MODE_SYMLINK

    @property
    def is_submodule(self) -> bool:
        """Whether the entry is a submodule (a commit of another repository, no content)."""
        return self.mode == MODE_SUBMODULE

    @property
    def is_file(self) -> bool:
        """Whether the entry is a regular file whose blob is worth reading."""
        return not (self.is_symlink or self.is_submodule)


@dataclass(frozen=True, slots=True)
class Change:
    """One path's change between two commits.

    Attributes:
        status: ``added``, ``modified`` (content or type), ``deleted`` or ``renamed``.
        path: The path in the new commit (the old path for ``deleted``).
        old_path: The path in the old commit (``None`` for ``added``; differs from ``path``
            only for ``renamed``).
        old_sha: The old blob id (``None`` for ``added``).
        new_sha: The new blob id (``None`` for ``deleted``).
        old_mode: The old mode (``None`` for ``added``).
        new_mode: The new mode (``None`` for ``deleted``).
    """

    status: ChangeStatus
    path: str
    old_path: str | None
    old_sha: str | None
    new_sha: str | None
    old_mode: str | None
    new_mode: str | None


def list_tree(runner: GitRunner, commit: str) -> dict[str, TreeEntry]:
    """Return every non-directory entry of ``commit``'s tree, keyed by path.

    Args:
        runner: The mirror's git runner.
        commit: A full commit id (or any revision git resolves).

    Returns:
        Path to entry, for blobs, symlinks and submodules alike (see ``TreeEntry.is_file``).

    Raises:
        MissingCommitError: ``commit`` is not in the mirror.
    """
    require_commit(runner, commit)
    out = runner.run(
        ["ls-tree", "-r", "-l", "-z", "--full-tree", f"{commit}^{{tree}}"], what="ls-tree failed"
    ).stdout
    entries: dict[str, TreeEntry] = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        mode, _kind, sha, size = meta.decode("ascii").split()
        entries[_path(raw_path)] = TreeEntry(sha, mode, None if size == "-" else int(size))
    return entries


def read_blobs(runner: GitRunner, shas: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(sha, content)`` for each blob id, in order, from one ``cat-file --batch``.

    A thread feeds the ids while this generator reads, so thousands of blobs stream through
    one process without a round trip each. Closing the generator early stops the process.

    Args:
        runner: The mirror's git runner.
        shas: Blob ids (full hex).

    Yields:
        ``(sha, content)`` pairs.

    Raises:
        GitError: A blob is missing or git failed.
    """
    proc = subprocess.Popen(
        ["git", f"--git-dir={runner.git_dir}", "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=runner.env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout
    wanted: list[str] = []

    def feed() -> None:
        try:
            for sha in shas:
                wanted.append(sha)
                stdin.write(sha.encode("ascii") + b"\n")
        except (ValueError, OSError):
            pass  # a non-ASCII id (reported below as a count mismatch) or the reader stopped
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    writer = threading.Thread(target=feed, name="git-cat-file-feed", daemon=True)
    writer.start()
    try:
        count = 0
        while True:
            header = stdout.readline()
            if not header:
                break
            fields = header.split()
            if len(fields) == 2 and fields[1] == b"missing":
                raise runner.error(f"blob {fields[0].decode()} not found", kind=MissingCommitError)
            sha, kind, size = fields[0].decode(), fields[1], int(fields[2])
            if kind != b"blob":
                raise runner.error(f"object {sha} is a {kind.decode()}, not a blob")
            data = stdout.read(size)
            stdout.read(1)
            count += 1
            yield sha, data
        if proc.wait() != 0:
            raise runner.error("cat-file failed")
        writer.join()
        if count != len(wanted):
            raise runner.error(f"cat-file returned {count} of {len(wanted)} blobs")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        stdout.close()
        writer.join(timeout=5)


def has_commit(runner: GitRunner, commit: str) -> bool:
    """Return whether ``commit`` names a commit present in the mirror."""
    proc = runner.run(
        ["cat-file", "-e", f"{commit}^{{commit}}"], what="cat-file failed", check=False
    )
    return proc.returncode == 0


def require_commit(runner: GitRunner, commit: str) -> None:
    """Raise ``MissingCommitError`` unless ``commit`` is in the mirror."""
    if commit.startswith("-") or not has_commit(runner, commit):
        raise runner.error(f"commit {commit} not found in the mirror", kind=MissingCommitError)


def diff(
    runner: GitRunner, old_commit: str, new_commit: str, *, renames: bool = True
) -> list[Change]:
    """Return the changes from ``old_commit``'s tree to ``new_commit``'s tree.

    This compares trees, not history, so it works between unrelated commits (after a
    force-push) as long as both are still in the mirror.

    Args:
        runner: The mirror's git runner.
        old_commit: The commit last synced.
        new_commit: The commit to sync to.
        renames: Detect renames (``-M``); otherwise a rename is a delete plus an add.

    Returns:
        One ``Change`` per changed path, in git's path order.

    Raises:
        MissingCommitError: Either commit is not in the mirror (the caller then compares the
            new tree with what it stored, by blob id).
    """
    require_commit(runner, old_commit)
    require_commit(runner, new_commit)
    args = ["diff-tree", "-r", "-z", "--raw", "--no-commit-id", "--abbrev=40"]
    args.append("-M" if renames else "--no-renames")
    args += [f"{old_commit}^{{tree}}", f"{new_commit}^{{tree}}"]
    return parse_raw_diff(runner.run(args, what="diff-tree failed").stdout)


def parse_raw_diff(out: bytes) -> list[Change]:
    """Parse ``git diff-tree -r -z --raw`` output into changes.

    Args:
        out: The raw ``-z`` output.

    Returns:
        The changes, in output order.
    """
    fields = out.split(b"\0")
    changes: list[Change] = []
    index = 0
    while index < len(fields) and fields[index]:
        meta = fields[index].decode("ascii").lstrip(":").split()
        old_mode, new_mode, old_sha, new_sha, code = meta
        letter = code[0]
        if letter in "RC":
            old_path, path = _path(fields[index + 1]), _path(fields[index + 2])
            index += 3
        else:
            old_path = path = _path(fields[index + 1])
            index += 2
        if letter == "C":
            letter = "A"
        status = _STATUS.get(letter, "modified")
        changes.append(
            Change(
                status=status,
                path=path,
                old_path=None if status == "added" else old_path,
                old_sha=None if old_sha == _ZERO_SHA else old_sha,
                new_sha=None if new_sha == _ZERO_SHA else new_sha,
                old_mode=None if old_mode == "000000" else old_mode,
                new_mode=None if new_mode == "000000" else new_mode,
            )
        )
    return changes
