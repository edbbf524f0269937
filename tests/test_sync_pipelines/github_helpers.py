"""Helpers for GitHub job tests: served repositories, sources, runs and collection contents."""

import itertools
from pathlib import Path
from typing import Any

import chromadb
import dagster as dg

from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.git_repos import init_bare
from sync_pipelines.names import FETCH_GITHUB_OP, SYNC_GITHUB_JOB
from sync_pipelines.ops.github import GithubSyncConfig
from sync_pipelines.schemas import CreateSourcePayload, Source
from sync_pipelines.settings import get_settings

DATABASE = "gitdb"
_names = itertools.count()


def new_repo(root: Path, default_branch: str = "main") -> tuple[Path, str]:
    """Create a bare repository under ``root``; return its path and ``owner/repo`` name."""
    name = f"octo/repo{next(_names)}"
    return init_bare(root / name, default_branch), name


def create_github_source(base_url: str, repository: str, **github: Any) -> Source:
    """Store a GitHub source for ``repository`` on ``base_url`` (extensions in ``github``)."""
    payload = CreateSourcePayload.model_validate(
        {
            "database_name": DATABASE,
            "github": {"repository": repository, "base_url": base_url, **github},
        }
    )
    return Catalog(get_settings().resolved_catalog_url).create_source(payload)


def run_github_sync(
    source: Source, ref: dict[str, str] | None, collection: str = "code"
) -> dg.ExecuteInProcessResult:
    """Run ``sync_github_job`` in process."""
    job = build_definitions(get_settings()).resolve_job_def(SYNC_GITHUB_JOB)
    config = GithubSyncConfig(source_id=str(source.id), ref=ref, target_collection=collection)
    return job.execute_in_process(
        run_config=dg.RunConfig(ops={FETCH_GITHUB_OP: config}), raise_on_error=False
    )


def collection(name: str = "code") -> Any:
    """The collection ``name`` of the test database, through a stock chromadb client."""
    client = chromadb.PersistentClient(
        path=str(get_settings().resolved_chroma_path),
        database=DATABASE,
        settings=chromadb.Settings(anonymized_telemetry=False),
    )
    return client.get_collection(name)


def contents(name: str = "code") -> dict[str, tuple[str, dict[str, Any]]]:
    """Chunk id to ``(document, metadata)`` of every chunk in collection ``name``."""
    got = collection(name).get(include=["documents", "metadatas"])
    return {
        cid: (doc, dict(meta))
        for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }


def document_keys(name: str = "code") -> set[str]:
    """The document keys (paths) collection ``name`` holds chunks of."""
    return {meta["document_key"] for _, meta in contents(name).values()}


def summary(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    """The upsert step's counts."""
    out: dict[str, int] = result.output_for_node("upsert_github_op")
    return out


def fetch_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """The fetch step's output metadata (commit, mode, skipped reasons, ...)."""
    for event in result.all_events:
        if event.step_key == "fetch_github_op" and event.event_type_value == "STEP_OUTPUT":
            return {k: v.value for k, v in event.event_specific_data.metadata.items()}
    raise AssertionError("no output from fetch_github_op")
