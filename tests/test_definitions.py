"""The one code location loads: Dagster validates it, and ``workspace.yaml`` points at it.

Contract: ``sync_pipelines.definitions.defs`` holds the per-source-type jobs with every resource
they need bound; ``dagster definitions validate -w workspace.yaml`` (what ``dagster dev`` loads)
succeeds on a clean instance. Every job runs its steps in process by default; the executor
setting selects Celery (broker read from the environment by name, never in config), which is
refused without a broker or without step storage every worker can read, and step storage
``s3://bucket/prefix`` hands outputs through S3.
"""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster_aws.s3 import S3PickleIOManager

from sync_pipelines.definitions import build_definitions
from sync_pipelines.names import SYNC_GITHUB_JOB, SYNC_S3_OBJECT_JOB
from sync_pipelines.settings import Settings, get_settings

ROOT = Path(__file__).resolve().parents[1]


def test_definitions_validate_and_name_the_jobs() -> None:
    defs = build_definitions(get_settings())
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def(SYNC_S3_OBJECT_JOB)
    assert [node.name for node in job.nodes_in_topological_order] == [
        "fetch_s3_object_op",
        "chunk_op",
        "upsert_op",
    ]
    assert set(defs.resources or {}) >= {"catalog", "chroma", "embedder", "s3"}


def test_workspace_yaml_loads_with_dagster_cli(tmp_path: Path) -> None:
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == "sync_pipelines.definitions"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-w",
            "workspace.yaml",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr


def test_steps_run_in_process_unless_celery_is_selected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHROMA_SYNC_CELERY_BROKER_URL", raising=False)
    defs = build_definitions(Settings())
    assert defs.resolve_job_def(SYNC_GITHUB_JOB).executor_def is dg.in_process_executor
    broker = "amqp://guest:s3cret@rabbit:5672//"
    with pytest.raises(ValueError, match="CHROMA_SYNC_CELERY_BROKER_URL"):
        build_definitions(Settings(executor="celery"))
    with pytest.raises(ValueError, match="CHROMA_SYNC_STEP_STORAGE"):
        build_definitions(Settings(executor="celery", celery_broker_url=broker))
    celery = build_definitions(
        Settings(executor="celery", celery_broker_url=broker, step_storage="s3://steps/runs")
    )
    job = celery.resolve_job_def(SYNC_GITHUB_JOB)
    assert job.executor_def.name == "chroma_sync_celery"
    # The broker URL (it may hold a password) is read from the environment by name at run time.
    unset = job.executor_def.config_schema.resolve_config({})
    assert not unset.success and "CHROMA_SYNC_CELERY_BROKER_URL" in str(unset.errors)
    monkeypatch.setenv("CHROMA_SYNC_CELERY_BROKER_URL", broker)
    resolved = job.executor_def.config_schema.resolve_config({})
    assert resolved.success and resolved.value["config"]["broker"] == broker
    io_manager = celery.resources["io_manager"]
    assert isinstance(io_manager, S3PickleIOManager)
    assert (io_manager.s3_bucket, io_manager.s3_prefix) == ("steps", "runs")
    dg.Definitions.validate_loadable(celery)
