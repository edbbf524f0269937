"""The one code location loads: Dagster validates it, and ``workspace.yaml`` points at it.

Contract: ``sync_pipelines.definitions.defs`` holds the per-source-type jobs with every resource
they need bound; ``dagster definitions validate -w workspace.yaml`` (what ``dagster dev`` loads)
succeeds on a clean instance.
"""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from sync_pipelines.definitions import build_definitions
from sync_pipelines.names import SYNC_S3_OBJECT_JOB
from sync_pipelines.settings import get_settings

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
