"""The git branch sensor as state transitions over a real catalog and a served bare repository.

Contract: the first tick (or a tick with an unreadable cursor) proposes one ``sync_github_job``
run per watched branch, pinned to its head (run key ``git:<source id>@<sha>``, run config valid
for the job, collection from ``watch_collection`` with ``{branch}`` made name-safe, tags naming
source, database, trigger and branch) and records the heads in the cursor; a tick with nothing
new skips and keeps the cursor; a new commit yields exactly one request and advances the
cursor; a deleted branch or an unreachable remote is logged and reported, never raised, and
keeps its cursor entry. A proposed run records its own invocation, found by run id and
``complete`` when the run succeeds. ``watch_branches`` without ``watch_collection``, and
several branches with a template lacking ``{branch}``, are refused on ``watch_collection``.
"""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from pydantic import ValidationError

from sensors.git_branches import git_branch_sensor
from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.git_repos import CommitSpec, fast_import
from sync_pipelines.devtools.git_server import GitDaemon, git_env
from sync_pipelines.devtools.ports import free_port
from sync_pipelines.names import (
    BRANCH_TAG,
    DATABASE_TAG,
    GIT_BRANCH_TRIGGER,
    SOURCE_TAG,
    SYNC_GITHUB_JOB,
    TRIGGER_TAG,
)
from sync_pipelines.resources.catalog import CatalogResource
from sync_pipelines.resources.git import GitResource
from sync_pipelines.schemas import CreateSourcePayload, Source
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.github_helpers import DATABASE, create_github_source, new_repo


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("served")


@pytest.fixture(scope="module")
def daemon(root: Path) -> Iterator[GitDaemon]:
    with GitDaemon(root) as server:
        yield server


def base(daemon: GitDaemon) -> str:
    return f"git://127.0.0.1:{daemon.port}"


class Ticker:
    """Runs the sensor with a carried cursor, like the daemon does."""

    def __init__(self, mirrors: Path) -> None:
        self.mirrors = mirrors
        self.cursor: str | None = None

    def tick(self, cursor: str | None = None) -> Any:
        context = dg.build_sensor_context(
            cursor=cursor if cursor is not None else self.cursor,
            resources={
                "catalog": CatalogResource(url=get_settings().resolved_catalog_url),
                "git": GitResource(mirrors_dir=str(self.mirrors), allow_hosts=["127.0.0.1"]),
            },
        )
        result = git_branch_sensor(context)
        if isinstance(result, dg.SensorResult) and result.cursor is not None:
            self.cursor = result.cursor
        return result


@pytest.fixture
def ticker(tmp_path: Path) -> Ticker:
    return Ticker(tmp_path / "mirrors")


def watched(daemon: GitDaemon, root: Path) -> tuple[Path, Source, dict[str, str]]:
    repo, name = new_repo(root)
    (main,) = fast_import(repo, [CommitSpec({"a.md": "# A\n\nmain\n"})])
    (feat,) = fast_import(repo, [CommitSpec({"b.md": "# B\n\nfeature\n"}, ref="feature/x")])
    source = create_github_source(
        base(daemon),
        name,
        watch_branches=["main", "feature/x"],
        watch_collection="code-{branch}",
    )
    return repo, source, {"main": main, "feature/x": feat}


def requests_of(result: Any) -> list[dg.RunRequest]:
    assert isinstance(result, dg.SensorResult)
    return list(result.run_requests or [])


def heads(cursor: str | None) -> dict[str, dict[str, str]]:
    assert cursor is not None
    data = json.loads(cursor)
    assert data["v"] == 1
    out: dict[str, dict[str, str]] = data["heads"]
    return out


def test_first_tick_proposes_one_run_per_watched_branch(
    root: Path, daemon: GitDaemon, ticker: Ticker
) -> None:
    _, source, shas = watched(daemon, root)

    requests = requests_of(ticker.tick())

    assert {r.run_key for r in requests} == {f"git:{source.id}@{sha}" for sha in shas.values()}
    job_def = build_definitions(get_settings()).resolve_job_def(SYNC_GITHUB_JOB)
    by_branch = {r.tags[BRANCH_TAG]: r for r in requests}
    assert set(by_branch) == {"main", "feature/x"}
    for branch, request in by_branch.items():
        config = dg.validate_run_config(job_def, request.run_config)
        fetch = config["ops"]["fetch_github_op"]["config"]
        assert fetch["source_id"] == str(source.id)
        assert fetch["ref"] == {"sha": shas[branch]}
        assert request.tags[SOURCE_TAG] == str(source.id)
        assert request.tags[DATABASE_TAG] == DATABASE
        assert request.tags[TRIGGER_TAG] == GIT_BRANCH_TRIGGER
    collections = {
        b: r.run_config["ops"]["fetch_github_op"]["config"] for b, r in by_branch.items()
    }
    assert collections["main"]["target_collection"] == "code-main"
    assert collections["feature/x"]["target_collection"] == "code-feature-x"
    assert heads(ticker.cursor) == {str(source.id): shas}


def test_nothing_new_skips_and_keeps_the_cursor(
    root: Path, daemon: GitDaemon, ticker: Ticker
) -> None:
    watched(daemon, root)
    ticker.tick()
    before = ticker.cursor

    result = ticker.tick()

    assert isinstance(result, dg.SkipReason)
    assert ticker.cursor == before


def test_new_commit_yields_one_request_and_advances_the_cursor(
    root: Path, daemon: GitDaemon, ticker: Ticker
) -> None:
    repo, source, shas = watched(daemon, root)
    ticker.tick()
    (new,) = fast_import(repo, [CommitSpec({"c.md": "# C\n"})])

    requests = requests_of(ticker.tick())

    assert [r.run_key for r in requests] == [f"git:{source.id}@{new}"]
    assert requests[0].tags[BRANCH_TAG] == "main"
    assert heads(ticker.cursor)[str(source.id)] == {**shas, "main": new}


def test_deleted_branch_is_reported_not_raised(
    root: Path, daemon: GitDaemon, ticker: Ticker
) -> None:
    repo, source, shas = watched(daemon, root)
    ticker.tick()
    subprocess.run(
        ["git", f"--git-dir={repo}", "update-ref", "-d", "refs/heads/feature/x"],
        check=True,
        env=git_env(),
    )

    result = ticker.tick()

    assert isinstance(result, dg.SkipReason)
    assert "'feature/x' not found" in (result.skip_message or "")
    assert heads(ticker.cursor)[str(source.id)] == shas


def test_unreachable_remote_is_reported_not_raised(
    root: Path, daemon: GitDaemon, ticker: Ticker
) -> None:
    _, source, shas = watched(daemon, root)
    ticker.tick()
    catalog = Catalog(get_settings().resolved_catalog_url)
    dead = create_github_source(
        f"git://127.0.0.1:{free_port()}",
        "octo/gone",
        watch_branches=["main"],
        watch_collection="gone",
    )

    result = ticker.tick()

    assert isinstance(result, dg.SkipReason)
    assert str(dead.id) in (result.skip_message or "")
    assert heads(ticker.cursor) == {str(source.id): shas}
    assert catalog.list_invocations(source_id=dead.id) == []


def test_unreadable_cursor_is_a_first_tick(root: Path, daemon: GitDaemon, ticker: Ticker) -> None:
    _, source, shas = watched(daemon, root)
    for cursor in ("not json", json.dumps({"v": 99, "heads": {}}), "[1, 2]"):
        requests = requests_of(ticker.tick(cursor))
        assert {r.run_key for r in requests} == {f"git:{source.id}@{s}" for s in shas.values()}


def test_proposed_run_records_its_invocation_as_complete(
    root: Path, daemon: GitDaemon, ticker: Ticker
) -> None:
    _, source, shas = watched(daemon, root)
    request = next(r for r in requests_of(ticker.tick()) if r.tags[BRANCH_TAG] == "main")
    job_def = build_definitions(get_settings()).resolve_job_def(SYNC_GITHUB_JOB)

    result = job_def.execute_in_process(run_config=request.run_config, tags=request.tags)

    assert result.success
    catalog = Catalog(get_settings().resolved_catalog_url)
    (job,) = catalog.list_invocations(source_id=source.id)
    assert job.status.word == "complete"
    assert job.metadata.collection_name == "code-main"
    assert job.metadata.github is not None
    assert job.metadata.github.git_ref_identifier.model_dump() == {"sha": shas["main"]}
    record = catalog.get_invocation_by_run_id(result.run_id)
    assert record is not None and record.job.id == job.id


@pytest.mark.parametrize(
    "github",
    [
        {"watch_branches": ["main"]},
        {"watch_branches": ["main", "dev"], "watch_collection": "code"},
        {"watch_branches": ["main"], "watch_collection": "code-{other}"},
    ],
)
def test_watch_collection_is_required_and_checked(github: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        CreateSourcePayload.model_validate(
            {"database_name": DATABASE, "github": {"repository": "o/r", **github}}
        )
    assert [e["loc"] for e in caught.value.errors()] == [("github", "watch_collection")]


def test_failed_triggered_run_fails_its_invocation(
    root: Path, daemon: GitDaemon, ticker: Ticker
) -> None:
    _, source, _ = watched(daemon, root)
    request = requests_of(ticker.tick())[0]
    config = request.run_config
    config["ops"]["fetch_github_op"]["config"]["ref"] = {"sha": "0" * 40}
    job_def = build_definitions(get_settings()).resolve_job_def(SYNC_GITHUB_JOB)

    result = job_def.execute_in_process(run_config=config, tags=request.tags, raise_on_error=False)

    assert not result.success
    (job,) = Catalog(get_settings().resolved_catalog_url).list_invocations(source_id=source.id)
    assert job.status.word == "failed"
    assert "not found" in job.status.error
