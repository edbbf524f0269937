"""The GitHub fetch op: update the source's mirror, resolve the ref, plan, read changed blobs.

Only files whose blob differs from what the collection holds are read and parsed; the plan
(``sync_pipelines.core.git_sync``) compares the new tree with the tree of the commit recorded
in the collection's metadata, or, when that commit is gone or unrelated (a force-push), with
the blob shas stored in the chunks' ``version_key`` (also when the collection records another
chunker version than the current one, so that every file chunked by it is re-chunked once). A
fetch that fails is transient (:mod:`sync_pipelines.core.deletion_policy`): the run fails naming
the repository and the cause before anything is planned, so the collection is left as it was.
"""

from collections.abc import Iterator
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
from sync_pipelines.core.shards import split_shards
from sync_pipelines.core.writer import iter_metadatas
from sync_pipelines.git import GitError, GitMirror, PathFilter
from sync_pipelines.ops.documents import NETWORK_RETRY, SyncTarget, failure
from sync_pipelines.ops.git_plan import (
    COMMIT_METADATA_KEY,
    GithubFetch,
    GitShard,
    GitShardPlan,
    load_source,
    open_mirror,
    read_files,
    update_mirror,
)
from sync_pipelines.ops.progress import ProgressReporter
from sync_pipelines.ops.tracking import (
    is_triggered_run,
    record_triggered_invocation,
    start_invocation,
)
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.resources.git import GitResource, related
from sync_pipelines.schemas import (
    IndexJobMetadata,
    InvocationProgress,
    Source,
    to_chunking_options,
)
from sync_pipelines.settings import DEFAULT_MAX_OBJECT_BYTES

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
class _Planned:
    """A planned sync before its files are read."""

    source: Source
    mirror: GitMirror
    target: SyncTarget
    repository: str
    commit: str
    mode: str
    plan: GitSyncPlan
    sizes: dict[str, int | None]
    skipped: list[SkippedFile]


@dg.op(
    description=(
        "Fetch the GitHub source's mirror, resolve the ref and compare the tree with what the "
        "collection holds. A plan that fits one shard reads and parses the changed files here "
        "(output 'whole'); a bigger one is split into shards of bounded size, each synced by "
        "its own step (outputs 'plan' and 'shards')."
    ),
    retry_policy=NETWORK_RETRY,
    out={
        "whole": dg.Out(GithubFetch, is_required=False),
        "plan": dg.Out(GitShardPlan, is_required=False),
        "shards": dg.DynamicOut(GitShard, is_required=False),
    },
)
def fetch_github_op(
    context: dg.OpExecutionContext,
    config: GithubSyncConfig,
    git: GitResource,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> Iterator[dg.Output[Any] | dg.DynamicOutput[GitShard]]:
    """Fetch and plan one GitHub sync named by the run config."""
    if not start_invocation(context, catalog):
        return
    source = load_source(catalog, config.source_id)
    if is_triggered_run(context.run.tags):
        metadata = IndexJobMetadata.model_validate(
            {
                "github": {"git_ref_identifier": config.ref or {"branch": "HEAD"}},
                "database_name": source.database_name,
                "collection_name": config.target_collection,
            }
        )
        record_triggered_invocation(context, catalog, source.id, metadata)
    planned = _plan(context, config, source, git, chroma, embedder, catalog)
    plan = planned.plan
    shards = split_shards(plan.to_chunk, planned.sizes, git.shard_limits())
    if len(shards) <= 1:
        files = read_files(planned.mirror, plan.to_chunk, planned.skipped)
        summary = _summary(planned, 1)
        fetched = GithubFetch(
            planned.target,
            planned.repository,
            planned.commit,
            planned.mode,
            plan,
            files,
            planned.skipped,
        )
        yield dg.Output(fetched, "whole", metadata=summary)
        return
    yield from _shard_outputs(context, catalog, planned, shards, _summary(planned, len(shards)))


def _summary(planned: _Planned, shards: int) -> dict[str, Any]:
    plan = planned.plan
    return {
        "repository": planned.repository,
        "commit": planned.commit,
        "mode": planned.mode,
        "files_to_chunk": len(plan.to_chunk),
        "files_to_delete": len(plan.to_delete),
        "files_renamed": len(plan.renames),
        "files_unchanged": len(plan.unchanged),
        "files_skipped": len(planned.skipped),
        "shards": shards,
        "skipped": dg.MetadataValue.json(
            {s.path: s.reason for s in planned.skipped[:_REPORTED_SKIPS]}
        ),
    }


def _shard_outputs(
    context: dg.OpExecutionContext,
    catalog: CatalogResource,
    planned: _Planned,
    shards: list[dict[str, str]],
    summary: dict[str, Any],
) -> Iterator[dg.Output[Any] | dg.DynamicOutput[GitShard]]:
    plan = planned.plan
    settled = len(plan.unchanged) + len(planned.skipped)
    ProgressReporter(context, catalog).report(
        InvocationProgress(
            unit="files",
            done=settled,
            total=settled + len(plan.to_chunk) + len(plan.to_delete),
            skipped=len(planned.skipped),
        ),
        force=True,
    )
    yield dg.Output(
        GitShardPlan(
            target=planned.target,
            repository=planned.repository,
            commit=planned.commit,
            mode=planned.mode,
            shards=len(shards),
            deleted=list(plan.to_delete),
            unchanged=len(plan.unchanged),
            skipped=len(planned.skipped),
        ),
        "plan",
        metadata=summary,
    )
    width = len(str(len(shards) - 1))
    for index, files in enumerate(shards):
        shard = GitShard(
            index=index,
            count=len(shards),
            source_id=str(planned.source.id),
            target=planned.target,
            repository=planned.repository,
            commit=planned.commit,
            files=files,
        )
        yield dg.DynamicOutput(shard, mapping_key=f"shard_{index:0{width}d}", output_name="shards")


def _plan(
    context: dg.OpExecutionContext,
    config: GithubSyncConfig,
    source: Source,
    git: GitResource,
    chroma: ChromaResource,
    embedder: EmbeddingResource,
    catalog: CatalogResource,
) -> _Planned:
    github = source.github
    assert github is not None
    uri = git.repository_url(source)
    mirror = open_mirror(git, catalog, source)
    try:
        update_mirror(mirror, uri)
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
    target = SyncTarget(
        source_id=str(source.id),
        database_name=source.database_name,
        collection_name=config.target_collection,
        chunking=to_chunking_options(source.chunking, model),
        embedding_model=model,
    )
    sizes = {path: tree[path].size for path in plan.to_chunk}
    return _Planned(source, mirror, target, uri, commit, mode, plan, sizes, skipped)


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
