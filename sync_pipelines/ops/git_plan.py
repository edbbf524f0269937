"""What the GitHub sync steps hand each other, and the steps' shared git and chunking helpers.

A sync is planned once (``fetch_github_op``). A plan that fits one shard goes down the fast
path (read, chunk, write in one run of three ops, as :class:`GithubFetch`); a bigger one is
handed on as a :class:`GitShardPlan` plus one :class:`GitShard` per bounded group of changed
files. A shard carries only paths and blob shas: the step that processes it reads the blobs
from its own mirror, so shards can run on any worker that can reach the repository.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sync_pipelines.core.deletion_policy import TransientSourceError
from sync_pipelines.core.git_sync import GitSyncPlan, SkippedFile
from sync_pipelines.core.records import ChunkRecord, build_records
from sync_pipelines.core.types import ChunkingOptions, ParsedDocument
from sync_pipelines.git import GitError, GitMirror
from sync_pipelines.github_app import GitHubAppError
from sync_pipelines.ops.documents import SyncTarget, failure
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.git import GitResource
from sync_pipelines.schemas import Source

COMMIT_METADATA_KEY = "git_commit"


@dataclass(frozen=True)
class GitFile:
    """A changed file: its path, blob sha and parsed text (``None``: unparseable, skipped)."""

    path: str
    sha: str
    doc: ParsedDocument | None


@dataclass(frozen=True)
class GithubFetch:
    """What the fetch op hands on along the fast (one shard) path.

    Attributes:
        target: Destination and chunking settings.
        repository: The repository URL (no credentials), used in errors.
        commit: The commit being synced.
        mode: ``full`` (empty collection), ``diff`` (against the recorded commit) or
            ``stored_blobs`` (against the blob shas in the collection).
        plan: The files to chunk, delete and keep.
        files: The files of ``plan.to_chunk``, read and parsed.
        skipped: Files not synced, with reasons.
    """

    target: SyncTarget
    repository: str
    commit: str
    mode: str
    plan: GitSyncPlan
    files: list[GitFile]
    skipped: list[SkippedFile]


@dataclass(frozen=True)
class GitShard:
    """One bounded group of changed files of a sharded sync.

    Attributes:
        index: Position among the sync's shards (0-based).
        count: How many shards the sync has.
        source_id: The GitHub source (its mirror is opened by the step).
        target: Destination and chunking settings.
        repository: The repository URL, used in errors.
        commit: The commit being synced.
        files: Path to blob sha of the files this shard reads, chunks and writes.
    """

    index: int
    count: int
    source_id: str
    target: SyncTarget
    repository: str
    commit: str
    files: dict[str, str]


@dataclass(frozen=True)
class GitShardPlan:
    """What the finishing step of a sharded sync needs besides the shards' results.

    Attributes:
        target: Destination.
        repository: The repository URL, used in errors.
        commit: The commit being synced (recorded in the collection last).
        mode: How the plan was made (see :class:`GithubFetch`).
        shards: Number of shards.
        deleted: Paths whose chunks to delete.
        unchanged: Number of files left untouched.
        skipped: Number of files not synced by the plan (reasons are on the fetch step).
    """

    target: SyncTarget
    repository: str
    commit: str
    mode: str
    shards: int
    deleted: list[str]
    unchanged: int
    skipped: int


def load_source(catalog: CatalogResource, source_id: str) -> Source:
    """Return the GitHub source ``source_id`` or fail naming it."""
    try:
        source = catalog.get_catalog().get_source(uuid.UUID(source_id))
    except ValueError as exc:
        raise failure(source_id, f"source_id {source_id!r} is not a UUID") from exc
    if source is None or source.github is None:
        raise failure(source_id, f"no GitHub source {source_id}")
    return source


def open_mirror(git: GitResource, catalog: CatalogResource, source: Source) -> GitMirror:
    """Return this worker's mirror of ``source``, with the token it may send (not fetched)."""
    try:
        token = git.token_for(source, catalog.get_catalog().get_git_token(source.id))
    except GitHubAppError as exc:
        raise failure(git.repository_url(source), str(exc)) from exc
    return git.mirror_for(source, token)


def update_mirror(mirror: GitMirror, uri: str) -> None:
    """Fetch the mirror; a failure is transient, never evidence that files are gone."""
    try:
        mirror.fetch()
    except GitError as exc:
        raise TransientSourceError(uri, str(exc)) from exc


def read_files(
    mirror: GitMirror, to_chunk: Mapping[str, str], skipped: list[SkippedFile]
) -> list[GitFile]:
    """Read and parse the changed files; unparseable ones are recorded in ``skipped``."""
    from sync_pipelines.core.parsing import ParseError, parse_object

    paths = list(to_chunk)
    files: list[GitFile] = []
    blobs = mirror.read_blobs(to_chunk[path] for path in paths)
    for path, (sha, data) in zip(paths, blobs, strict=True):
        try:
            doc: ParsedDocument | None = parse_object(path, data, images=False)
        except ParseError as exc:
            skipped.append(SkippedFile(path, exc.reason))
            doc = None
        files.append(GitFile(path, sha, doc))
    return files


def file_records(file: GitFile, options: ChunkingOptions, repository: str) -> list[ChunkRecord]:
    """Chunk one read file into its records (none for an unparseable file).

    Raises:
        dg.Failure: Not retryable, naming the file, when its chunks cannot be built.
    """
    from sync_pipelines.core.chunking import chunk_document, strategy_used

    if file.doc is None:
        return []
    try:
        return build_records(
            chunk_document(file.doc, options),
            document_key=file.path,
            version_key=file.sha,
            chunk_strategy=strategy_used(file.doc, options),
            language=file.doc.language,
            locations=file.doc.locations,
        )
    except ValueError as exc:
        raise failure(f"{repository}/{file.path}", str(exc)) from exc
