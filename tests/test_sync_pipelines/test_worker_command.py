"""``chroma-sync worker`` refuses settings it could not run steps with.

Contract: a worker starts only with ``CHROMA_SYNC_EXECUTOR=celery``, a broker URL and shared
step storage; otherwise it exits 1 with one ``error:`` line naming the missing setting, before
it connects anywhere. (A running worker is tested in tests/test_deploy/test_celery_shards.py.)
"""

import pytest
from typer.testing import CliRunner

from sync_pipelines.cli import app
from sync_pipelines.settings import get_settings


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "CHROMA_SYNC_EXECUTOR=celery"),
        ({"CHROMA_SYNC_EXECUTOR": "celery"}, "CHROMA_SYNC_CELERY_BROKER_URL"),
        (
            {"CHROMA_SYNC_EXECUTOR": "celery", "CHROMA_SYNC_CELERY_BROKER_URL": "amqp://h//"},
            "CHROMA_SYNC_STEP_STORAGE",
        ),
    ],
)
def test_worker_names_the_missing_setting(
    env: dict[str, str], named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("EXECUTOR", "CELERY_BROKER_URL", "STEP_STORAGE"):
        monkeypatch.delenv(f"CHROMA_SYNC_{key}", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["worker", "--name", "w1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and named in result.output, result.output
