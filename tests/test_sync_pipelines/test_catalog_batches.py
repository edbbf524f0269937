"""Batch-run methods of ``Catalog`` on SQLite and PostgreSQL.

Contract: ``mark_processing_many`` claims only ``pending`` invocations (compare-and-set, in the
order given, idempotent for the same run; two racing runs never claim the same invocation);
``finish_many`` records each invocation's own status, error and timing and touches only
invocations still processing for that run; a dead run's invocations are found and failed by
its run id; ``fail_pending_many`` fails only what is still pending; ``count_pending`` counts one
source's pending invocations.
"""

import threading
import uuid
from datetime import timedelta

from sync_pipelines.catalog import Catalog
from sync_pipelines.catalog.base import utcnow
from sync_pipelines.catalog.invocation_batches import InvocationOutcome
from sync_pipelines.schemas import CreateSourcePayload, IndexJobMetadata, Job, Source
from tests.test_sync_pipelines.conftest import S3


def source(catalog: Catalog) -> Source:
    return catalog.create_source(
        CreateSourcePayload.model_validate({"database_name": "db1", "s3": S3})
    )


def invocations(catalog: Catalog, src: Source, n: int) -> list[Job]:
    jobs = []
    for i in range(n):
        metadata = IndexJobMetadata.model_validate(
            {
                "s3": {"bucket_name": "docs", "object_key": f"k{i}.md"},
                "database_name": "db1",
                "collection_name": "kb1",
            }
        )
        jobs.append(catalog.create_invocation(src.id, metadata))
    return jobs


def word(catalog: Catalog, job: Job) -> str:
    found = catalog.get_invocation(job.id)
    assert found is not None
    return found.status.word


def test_claim_skips_cancelled_and_taken_and_is_idempotent(catalog: Catalog) -> None:
    jobs = invocations(catalog, source(catalog), 5)
    ids = [j.id for j in jobs]
    assert catalog.cancel_if_pending(ids[1])
    assert catalog.mark_processing(ids[3], "other-run")

    claimed = catalog.mark_processing_many(list(reversed(ids)), "run-1")

    assert claimed == [ids[4], ids[2], ids[0]]
    assert catalog.mark_processing_many(ids, "run-1") == [ids[0], ids[2], ids[4]]
    assert catalog.mark_processing_many(ids, "run-2") == []
    for i in (0, 2, 4):
        record = catalog.get_invocation_record(ids[i])
        assert record is not None
        assert record.run_id == "run-1" and record.started_at is not None
        assert record.job.status.word == "processing"
    assert [word(catalog, jobs[i]) for i in (1, 3)] == ["cancelled", "processing"]
    other = catalog.get_invocation_record(ids[3])
    assert other is not None and other.run_id == "other-run"


def test_racing_runs_claim_disjoint_sets(catalog: Catalog) -> None:
    ids = [j.id for j in invocations(catalog, source(catalog), 40)]
    results: dict[str, list[uuid.UUID]] = {}
    barrier = threading.Barrier(2)

    def claim(run: str) -> None:
        barrier.wait()
        results[run] = catalog.mark_processing_many(ids, run)

    threads = [threading.Thread(target=claim, args=(run,)) for run in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not set(results["a"]) & set(results["b"])
    assert sorted(results["a"] + results["b"]) == sorted(ids)


def test_finish_many_records_each_outcome_and_timing(catalog: Catalog) -> None:
    jobs = invocations(catalog, source(catalog), 4)
    ids = [j.id for j in jobs]
    assert catalog.mark_processing_many(ids[:3], "run-1") == ids[:3]
    start = utcnow()
    outcomes = [
        InvocationOutcome(ids[0], start, start + timedelta(milliseconds=300)),
        InvocationOutcome(
            ids[1],
            start + timedelta(seconds=1),
            start + timedelta(seconds=2),
            "s3://docs/k1.md: boom",
        ),
        InvocationOutcome(ids[2], start, start, None),
        InvocationOutcome(ids[3], start, start, None),  # never claimed: untouched
    ]
    assert catalog.mark_processing(ids[3], "run-2")

    changed = catalog.finish_many("run-1", outcomes)

    assert changed == ids[:3]
    first = catalog.get_invocation(ids[0])
    assert first is not None and first.status.word == "complete"
    assert first.status.finished_at == start + timedelta(milliseconds=300)
    expected = int(
        (start + timedelta(milliseconds=300) - jobs[0].created_at).total_seconds() * 1000
    )
    assert first.status.duration_ms == expected
    second = catalog.get_invocation_record(ids[1])
    assert second is not None
    assert second.job.status.error == "s3://docs/k1.md: boom"
    assert second.started_at == start + timedelta(seconds=1)
    assert word(catalog, jobs[3]) == "processing"
    assert catalog.finish_many("run-1", outcomes) == []  # already finished
    assert catalog.finish_many("run-1", []) == []


def test_dead_run_is_found_and_failed_by_run_id(catalog: Catalog) -> None:
    jobs = invocations(catalog, source(catalog), 5)
    ids = [j.id for j in jobs]
    assert catalog.mark_processing_many(ids[:3], "run-1") == ids[:3]
    assert catalog.mark_processing(ids[3], "run-2")
    now = utcnow()
    catalog.finish_many("run-1", [InvocationOutcome(ids[0], now, now)])

    assert [r.job.id for r in catalog.list_invocations_by_run_id("run-1")] == ids[:3]
    failed = catalog.fail_processing_by_run_id("run-1", "run run-1 crashed")

    assert sorted(failed) == sorted(ids[1:3])
    assert [word(catalog, j) for j in jobs] == [
        "complete",
        "failed",
        "failed",
        "processing",
        "pending",
    ]
    record = catalog.get_invocation(ids[1])
    assert record is not None and record.status.error == "run run-1 crashed"
    assert catalog.fail_processing_by_run_id("run-1", "again") == []
    assert catalog.list_invocations_by_run_id("nobody") == []


def test_fail_pending_many_fails_only_pending(catalog: Catalog) -> None:
    jobs = invocations(catalog, source(catalog), 3)
    ids = [j.id for j in jobs]
    assert catalog.cancel_if_pending(ids[0])
    assert catalog.mark_processing(ids[1], "run-1")

    assert catalog.fail_pending_many(ids, "run died") == [ids[2]]
    assert [word(catalog, j) for j in jobs] == ["cancelled", "processing", "failed"]


def test_count_pending_and_records_in_order(catalog: Catalog) -> None:
    src = source(catalog)
    other = source(catalog)
    jobs = invocations(catalog, src, 3)
    invocations(catalog, other, 1)
    assert catalog.count_pending(src.id) == 3
    assert catalog.count_pending(src.id, limit=2) == 2
    assert catalog.count_pending(other.id) == 1
    assert catalog.mark_processing(jobs[0].id, "r")
    assert catalog.count_pending(src.id) == 2
    assert catalog.count_pending(uuid.uuid4()) == 0

    wanted = [jobs[2].id, uuid.uuid4(), jobs[0].id]
    assert [r.job.id for r in catalog.get_invocation_records(wanted)] == [jobs[2].id, jobs[0].id]


def test_fail_for_run_spares_invocations_another_run_claimed(catalog: Catalog) -> None:
    jobs = invocations(catalog, source(catalog), 4)
    ids = [j.id for j in jobs]
    assert catalog.mark_processing(ids[1], "run-1")
    assert catalog.mark_processing(ids[2], "run-2")
    assert catalog.cancel_if_pending(ids[3])

    assert catalog.fail_for_run(ids[0], "run-1", "never claimed")
    assert catalog.fail_for_run(ids[1], "run-1", "died")
    assert not catalog.fail_for_run(ids[2], "run-1", "duplicate died")
    assert not catalog.fail_for_run(ids[3], "run-1", "cancelled already")

    assert [word(catalog, j) for j in jobs] == ["failed", "failed", "processing", "cancelled"]
