"""The git branch sensor: a push to a watched branch of a GitHub source starts a sync.

Each tick fetches the mirror of every GitHub source with ``watch_branches`` and proposes one
``sync_github_job`` run per watched branch whose head moved since the cursor, pinned to the new
commit (run key ``git:<source id>@<sha>``, so a commit is synced once per source). The run
records its own invocation (see ``sync_pipelines.ops.tracking``). A deleted branch or an
unreachable remote is reported, never raised, and keeps its cursor entry.
"""

import json
from typing import Any

import dagster as dg

from sync_pipelines.git import GitError
from sync_pipelines.github_app import GitHubAppError
from sync_pipelines.jobs import sync_github_job
from sync_pipelines.names import (
    BRANCH_TAG,
    DATABASE_TAG,
    FETCH_GITHUB_OP,
    GIT_BRANCH_TRIGGER,
    SOURCE_TAG,
    TRIGGER_TAG,
)
from sync_pipelines.ops.github import GithubSyncConfig
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.git import GitResource
from sync_pipelines.schemas import Source

CURSOR_VERSION = 1
_PAGE = 500

Heads = dict[str, dict[str, str]]
"""Source id to branch name to the last head commit a run was proposed for."""


def load_cursor(raw: str | None) -> Heads:
    """Parse the sensor cursor; anything unreadable or of another version is empty."""
    try:
        data: Any = json.loads(raw) if raw else None
    except ValueError:
        return {}
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        return {}
    heads = data.get("heads")
    if not isinstance(heads, dict):
        return {}
    return {
        source_id: {b: sha for b, sha in branches.items() if isinstance(sha, str)}
        for source_id, branches in heads.items()
        if isinstance(branches, dict)
    }


def dump_cursor(heads: Heads) -> str:
    """Serialise the cursor (stable key order, so an unchanged cursor compares equal)."""
    return json.dumps({"v": CURSOR_VERSION, "heads": heads}, sort_keys=True)


def watched_sources(catalog: CatalogResource) -> list[Source]:
    """Return every GitHub source of every database that watches branches."""
    store = catalog.get_catalog()
    found: list[Source] = []
    offset = 0
    while True:
        page = store.list_sources(source_type="github", limit=_PAGE, offset=offset)
        found += [s for s in page if s.github is not None and s.github.watch_branches]
        if len(page) < _PAGE:
            return found
        offset += _PAGE


def _run_request(source: Source, branch: str, sha: str) -> dg.RunRequest:
    assert source.github is not None
    config = GithubSyncConfig(
        source_id=str(source.id),
        ref={"sha": sha},
        target_collection=source.github.watch_collection_for(branch),
    )
    return dg.RunRequest(
        run_key=f"git:{source.id}@{sha}",
        run_config=dg.RunConfig(ops={FETCH_GITHUB_OP: config}),
        tags={
            SOURCE_TAG: str(source.id),
            DATABASE_TAG: source.database_name,
            TRIGGER_TAG: GIT_BRANCH_TRIGGER,
            BRANCH_TAG: branch,
        },
    )


@dg.sensor(
    job=sync_github_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Fetches GitHub sources with watch_branches and syncs each watched branch whose head "
        "moved into its watch_collection (run key git:<source>@<sha>)."
    ),
)
def git_branch_sensor(
    context: dg.SensorEvaluationContext, catalog: CatalogResource, git: GitResource
) -> dg.SensorResult | dg.SkipReason:
    """Propose a sync of every watched branch whose head moved since the last tick."""
    old = load_cursor(context.cursor)
    heads: Heads = {k: dict(v) for k, v in old.items()}
    requests: list[dg.RunRequest] = []
    problems: list[str] = []
    store = catalog.get_catalog()
    sources = watched_sources(catalog)
    for source in sources:
        github = source.github
        assert github is not None and github.watch_branches
        key = str(source.id)
        try:
            token = git.token_for(source, store.get_git_token(source.id))
            remote = git.mirror_for(source, token).fetch()
        except (GitError, GitHubAppError, ValueError) as exc:
            problems.append(f"{key}: {exc}")
            context.log.warning(f"git branch sensor: source {key} unreachable: {exc}")
            continue
        seen = heads.setdefault(key, {})
        for branch in github.watch_branches:
            sha = remote.get(branch)
            if sha is None:
                problems.append(f"{key}: branch {branch!r} not found")
                context.log.warning(f"git branch sensor: source {key} has no branch {branch!r}")
            elif seen.get(branch) != sha:
                requests.append(_run_request(source, branch, sha))
                seen[branch] = sha
    watched = {str(s.id) for s in sources}
    heads = {k: v for k, v in heads.items() if v and k in watched}
    cursor = dump_cursor(heads)
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=cursor)
    reason = "no watched branch moved" + (f"; {'; '.join(problems)}" if problems else "")
    if heads != old:
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    return dg.SkipReason(reason)
