"""Contract of the client's output rules: one duration per invocation (the server's), narrow
tables with errors on their own line, and API errors in the words of the command line.

`in_flags` names the flag that set a body field (`object_key` -> `--object-key`) and leaves
other fields alone; `print_table` cuts the columns it may cut so a table fits 100 columns and
prints each row's note (an error) on its own line; `status_text` and the watch line both show
the server's `duration_ms`.
"""

import time

import pytest

from sync_pipelines.client.flags import INVOKE_FLAGS, SOURCE_FLAGS, in_flags
from sync_pipelines.client.invocations import _elapsed, progress_line
from sync_pipelines.client.output import print_table, status_text


def test_api_fields_become_the_flags_that_set_them() -> None:
    assert in_flags("object_key: is required", INVOKE_FLAGS) == "--object-key: is required"
    message = "s3.bucket_name: too short; s3.bogus: unknown field; chunking.max_size_bytes: > 0"
    assert in_flags(message, SOURCE_FLAGS) == (
        "--s3-bucket: too short; s3.bogus: unknown field; --chunking: > 0"
    )
    assert in_flags("invocation exists for kb", INVOKE_FLAGS) == "invocation exists for kb"


def test_tables_fit_100_columns_and_errors_go_on_their_own_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = [
        ["0" * 36, "failed", "-", "c" * 40, "deep/" * 20 + "report.pdf", "12-06 06:30"],
        ["1" * 36, "complete in 2.0 s", "12", "kb", "a.md", "12-06 06:31"],
    ]
    print_table(
        rows,
        ["ID", "STATUS", "CHUNKS", "COLLECTION", "TARGET", "CREATED"],
        shrink=(3, 4),
        notes=["error: s3://b/deep/report.pdf: " + "corrupt PDF (x) " * 20, None],
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and max(map(len, lines)) <= 100
    cells = lines[1].split()
    assert cells[0] == "0" * 36 and cells[4].startswith("\u2026") and cells[4].endswith(".pdf")
    assert lines[2].startswith("  error: s3://b/deep/report.pdf: corrupt PDF")
    assert lines[3].startswith("1" * 36) and "complete in 2.0 s" in lines[3]


def test_one_duration_the_servers() -> None:
    job = {
        "id": "abcdef12-0000",
        "created_at": "2020-01-01T00:00:00Z",
        "status": {"complete": {"duration_ms": 6600, "finished_at": "2020-01-01T00:00:07Z"}},
    }
    assert status_text(job) == "complete in 6.6 s"
    assert _elapsed(job, time.monotonic() - 100) == 6.6
    assert "6.6 s" in progress_line(job, _elapsed(job, 0.0))
    failed = {"status": {"failed": {"error": "s3://b/k: boom"}}}
    assert status_text(failed) == "failed: s3://b/k: boom"
    assert status_text(failed, with_error=False) == "failed"
