"""The GitHub fetch op: update the source's mirror, resolve the ref, plan, read changed blobs.

Only files whose blob differs from what the collection holds are read and parsed; the plan
(``sync_pipelines.core.git_sync``) compares the new tree with the tree of the commit recorded
in the collection's metadata, or, when that commit is gone or unrelated (a force-push), with
the blob shas stored in the chunks' ``version_key`` (also when the collection records another
chunker version than the current one, so that every file chunked by it is re-chunked once). A
fetch that fails is transient (:mod:`sync_pipelines.core.deletion_policy`): the run fails naming
the repository and the cause before anything is planned, so the collection is left as it was.
"""

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
from pydantic import Field

from sync_pipelines.core.deletion_policy import TransientSourceError
from sync_pipelines.core.git_sync import (
    GitSyncPlan,
    SkippedFile,
    eligible_files,
    plan_sync,
    stored_versions,
)
from sync_pipelines.core.records import chunked_by_current
from sync_pipelines.core.types import ParsedDocument
from sync_pipelines.core.writer import iter_metadatas
from sync_pipelines.git import GitError, GitMirror, PathFilter
from sync_pipelines.github_app import GitHubAppError
from sync_pipelines.ops.documents import NETWORK_RETRY, SyncTarget, failure
from sync_pipelines.ops.tracking import (
    is_triggered_run,
    record_triggered_invocation,
    start_invocation,
)
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.resources.git import GitResource, related
from sync_pipelines.schemas import IndexJobMetadata, Source, to_chunking_options
from sync_pipelines.settings import DEFAULT_MAX_OBJECT_BYTES

COMMIT_METADATA_KEY = "git_commit"
_METADATA_PAGE = 5000
_REPORTED_SKIPS = 200


class GithubSyncConfig(dg.Config):
    """Which source, ref and collection to sync (the run config of ``sync_github_job``)."""

    source_id: str = Field(description="Id of a GitHub source in the catalog.")
    ref: dict[str, str] | None = Field(
        default=None,
        description='{"branch": name} ("HEAD": the default branch), {"sha": id}, or the default.',
    )
    target_collection: str = Field(description="The Chroma collection to write.")
    max_file_bytes: int = Field(
        default=DEFAULT_MAX_OBJECT_BYTES, description="Larger files are skipped, not read."
    )


@dataclass(frozen=True)
class GitFile:
    """A changed file: its path, blob sha and parsed text (``None``: unparseable, skipped)."""

    path: str
    sha: str
    doc: ParsedDocument | None


@dataclass(frozen=True)
class GithubFetch:
    """What the fetch op hands on.

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


@dg.op(
    description=(
        "Fetch the GitHub source's mirror, resolve the ref, compare the tree with what the "
        "collection holds and read and parse only the changed files."
    ),
    retry_policy=NETWORK_RETRY,
    out=dg.Out(GithubFetch, is_required=False),
)
def fetch_github_op(
    context: dg.OpExecutionContext,
    config: GithubSyncConfig,
    git: GitResource,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> Iterator[dg.Output[GithubFetch]]:
    """Fetch and plan one GitHub sync named by the run config."""
    if not start_invocation(context, catalog):
        return
    source = _source(catalog, config.source_id)
    if is_triggered_run(context.run.tags):
        metadata = IndexJobMetadata.model_validate(
            {
                "github": {"git_ref_identifier": config.ref or {"branch": "HEAD"}},
                "database_name": source.database_name,
                "collection_name": config.target_collection,
            }
        )
        record_triggered_invocation(context, catalog, source.id, metadata)
    fetched = _fetch(context, config, source, git, chroma, embedder, catalog)
    plan = fetched.plan
    yield dg.Output(
        fetched,
        metadata={
            "repository": fetched.repository,
            "commit": fetched.commit,
            "mode": fetched.mode,
            "files_to_chunk": len(plan.to_chunk),
            "files_to_delete": len(plan.to_delete),
            "files_renamed": len(plan.renames),
            "files_unchanged": len(plan.unchanged),
            "files_skipped": len(fetched.skipped),
            "skipped": dg.MetadataValue.json(
                {s.path: s.reason for s in fetched.skipped[:_REPORTED_SKIPS]}
            ),
        },
    )


def _source(catalog: CatalogResource, source_id: str) -> Source:
    try:
        source = catalog.get_catalog().get_source(uuid.UUID(source_id))
    except ValueError as exc:
        raise failure(source_id, f"source_id {source_id!r} is not a UUID") from exc
    if source is None or source.github is None:
        raise failure(source_id, f"no GitHub source {source_id}")
    return source


def _fetch(
    context: dg.OpExecutionContext,
    config: GithubSyncConfig,
    source: Source,
    git: GitResource,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> GithubFetch:
    github = source.github
    assert github is not None
    uri = git.repository_url(source)
    try:
        token = git.token_for(source, catalog.get_catalog().get_git_token(source.id))
    except GitHubAppError as exc:
        raise failure(uri, str(exc)) from exc
    mirror = git.mirror_for(source, token)
    try:
        _update(mirror, uri)
        commit = mirror.resolve(config.ref)
        tree = mirror.list_tree(commit)
        path_filter = PathFilter(github.include_globs, github.exclude_globs)
    except TransientSourceError as exc:
        raise failure(exc.location, exc.cause) from None
    except (GitError, ValueError) as exc:
        raise failure(uri, str(exc)) from exc
    context.log.info(f"{uri}: syncing commit {commit} into {config.target_collection}")
    current, skipped = eligible_files(tree, path_filter, config.max_file_bytes)
    model = source.embedding_model.model
    collection = chroma.get_collection(
        source.database_name,
        config.target_collection,
        embedding_function=embedder.collection_function(model),
    )
    mode, previous = _previous(mirror, collection, commit, path_filter, config.max_file_bytes)
    plan = plan_sync(current, previous)
    files = _read(mirror, plan.to_chunk, skipped)
    target = SyncTarget(
        source_id=str(source.id),
        database_name=source.database_name,
        collection_name=config.target_collection,
        chunking=to_chunking_options(source.chunking, model),
        embedding_model=model,
    )
    return GithubFetch(target, uri, commit, mode, plan, files, skipped)


def _update(mirror: GitMirror, uri: str) -> None:
    """Fetch the mirror; a failure is transient, never evidence that files are gone."""
    try:
        mirror.fetch()
    except GitError as exc:
        raise TransientSourceError(uri, str(exc)) from exc


def _previous(
    mirror: GitMirror, collection: Any, commit: str, path_filter: PathFilter, max_bytes: int
) -> tuple[str, dict[str, str]]:
    """What the collection holds, as path -> blob sha, and how that was found.

    The recorded commit's tree stands for the collection only if the collection also records
    the current chunker version (the upsert op records both).
    """
    metadata = collection.metadata or {}
    recorded = metadata.get(COMMIT_METADATA_KEY)
    if (
        isinstance(recorded, str)
        and chunked_by_current(metadata)
        and mirror.has_commit(recorded)
        and related(mirror, recorded, commit)
    ):
        previous, _ = eligible_files(mirror.list_tree(recorded), path_filter, max_bytes)
        return "diff", previous
    if collection.count() == 0:
        return "full", {}
    return "stored_blobs", stored_versions(iter_metadatas(collection, _METADATA_PAGE))


def _read(
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
