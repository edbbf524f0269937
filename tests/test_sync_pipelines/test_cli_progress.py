"""The live progress text of ``chroma-sync invocations watch`` from the ``progress`` extension."""

from sync_pipelines.client.invocations import progress_line, progress_text


def test_progress_text_shows_units_done_of_total_chunks_and_problems() -> None:
    job = {
        "id": "0b4c2f7e-0000-4000-8000-000000000000",
        "status": "processing",
        "progress": {
            "unit": "pages",
            "done": 7,
            "total": 12,
            "chunks_written": 30,
            "skipped": 1,
            "failed": 0,
        },
    }
    assert progress_text(job) == "pages 7/12, 30 chunks written, 1 skipped"
    assert progress_line(job, 3.25) == (
        "0b4c2f7e  processing     3.2 s  pages 7/12, 30 chunks written, 1 skipped"
    )


def test_progress_text_tolerates_missing_or_malformed_progress() -> None:
    assert progress_text({"status": "pending"}) == ""
    assert progress_text({"progress": "soon"}) == ""
    assert progress_text({"progress": {"unit": "files", "done": 3}}) == "files 3"
