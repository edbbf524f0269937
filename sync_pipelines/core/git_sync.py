"""Plan a GitHub sync: which files to (re)chunk, which files' chunks to delete, which to keep.

The new commit's tree (path -> blob sha) is compared with what the collection holds: either the
tree of the commit recorded in the collection's metadata (when it is still in the mirror and
shares history with the new one), or the blob shas stored in the chunks' ``version_key``
metadata (also when the collection's chunks were cut by another chunker version: the stored
comparison then sees every such file as changed). A file whose blob is unchanged and already
chunked by the current chunker is neither read nor re-embedded. A collection is
assumed to hold one repository: in the stored-blob comparison every document it holds that
the new tree lacks is deleted.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sync_pipelines.core.records import chunked_by_current
from sync_pipelines.git import PathFilter, TreeEntry


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A path of the tree that is not synced, and why."""

    path: str
    reason: str


@dataclass
class GitSyncPlan:
    """What one sync does.

    Attributes:
        to_chunk: Path to blob sha of files to read and (re)chunk (new, changed, renamed-to).
        to_delete: Paths whose chunks to delete (deleted, renamed-from, no longer eligible).
        renames: ``(old_path, new_path)`` pairs with the same blob (old deleted, new chunked).
        unchanged: Paths whose blob is already synced: not read, not re-embedded.
    """

    to_chunk: dict[str, str] = field(default_factory=dict)
    to_delete: list[str] = field(default_factory=list)
    renames: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _valid_path(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def eligible_files(
    tree: Mapping[str, TreeEntry], path_filter: PathFilter, max_file_bytes: int
) -> tuple[dict[str, str], list[SkippedFile]]:
    """Select the files of a tree that a source syncs.

    Args:
        tree: Path to entry, from ``GitMirror.list_tree``.
        path_filter: The source's include and exclude globs.
        max_file_bytes: Files larger than this are skipped (by the size in the tree).

    Returns:
        Path to blob sha of the files to sync (sorted by path), and the paths the filter
        selected but that cannot be synced (symlinks, submodules, oversize files, paths that
        are not UTF-8), with reasons.
    """
    files: dict[str, str] = {}
    skipped: list[SkippedFile] = []
    for path in sorted(tree):
        if not path_filter.matches(path):
            continue
        entry = tree[path]
        if entry.is_symlink:
            skipped.append(SkippedFile(path, "symbolic link"))
        elif entry.is_submodule:
            skipped.append(SkippedFile(path, "submodule"))
        elif not _valid_path(path):
            skipped.append(
                SkippedFile(path.encode("utf-8", "replace").decode(), "path is not UTF-8")
            )
        elif entry.size is not None and entry.size > max_file_bytes:
            skipped.append(
                SkippedFile(path, f"{entry.size} bytes, over the {max_file_bytes}-byte size cap")
            )
        else:
            files[path] = entry.sha
    return files, skipped


def stored_versions(metadatas: Iterable[Mapping[str, object] | None]) -> dict[str, str]:
    """Return document key to version key from the chunk metadata a collection holds.

    A document whose chunks disagree on the version (a partly applied sync), or any of whose
    chunks was cut by another chunker version
    (:data:`~sync_pipelines.core.records.CHUNKER_VERSION`), maps to ``""``, which no blob sha,
    ETag or text hash equals, so it is re-chunked. Git, web and S3 reconciles all compare
    against this mapping.

    Args:
        metadatas: Chunk metadata with ``document_key``, ``version_key`` and
            ``chunker_version``.

    Returns:
        Document key to version key.
    """
    versions: dict[str, str] = {}
    for metadata in metadatas:
        if not metadata:
            continue
        key, version = metadata.get("document_key"), metadata.get("version_key")
        if not isinstance(key, str):
            continue
        version = version if isinstance(version, str) and chunked_by_current(metadata) else ""
        if versions.setdefault(key, version) != version:
            versions[key] = ""
    return versions


def plan_sync(current: Mapping[str, str], previous: Mapping[str, str]) -> GitSyncPlan:
    """Compare the files to sync with what the collection holds.

    Args:
        current: Path to blob sha of the new commit's eligible files.
        previous: Path to blob sha the collection holds (from the recorded commit's eligible
            files, or from stored chunk metadata; empty for a first sync).

    Returns:
        The plan; paths in each list are sorted.
    """
    plan = GitSyncPlan()
    for path in sorted(current):
        sha = current[path]
        if previous.get(path) == sha:
            plan.unchanged.append(path)
        else:
            plan.to_chunk[path] = sha
    plan.to_delete = sorted(path for path in previous if path not in current)
    added_by_sha: dict[str, list[str]] = {}
    for path, sha in plan.to_chunk.items():
        if path not in previous:
            added_by_sha.setdefault(sha, []).append(path)
    for old_path in plan.to_delete:
        candidates = added_by_sha.get(previous[old_path])
        if candidates:
            plan.renames.append((old_path, candidates.pop(0)))
    return plan
