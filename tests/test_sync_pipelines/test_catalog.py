"""Behaviour of ``sync_pipelines.catalog.Catalog`` on SQLite and PostgreSQL.

Contract: sources, AWS credentials and invocations round-trip as spec models whose JSON dumps
validate against the patched spec; reads are scoped by database; lists are ordered by
``created_at`` and paged; status transitions are compare-and-set (cancel only while pending,
mark_processing only from pending, and of a racing cancel and mark_processing exactly one
wins); ``latest_by_keys`` returns the newest invocation per object key; secrets never appear
in sources or credential lists; deleting a source cancels its pending invocations and keeps
all its invocations with ``source_id`` null. PostgreSQL cases use a fresh database per session
(``CHROMA_SYNC_TEST_PG_URL``) and skip when it is unreachable unless ``CHROMA_SYNC_REQUIRE_PG=1``.
"""

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sync_pipelines.catalog import (
    Catalog,
    CredentialNotFoundError,
    InvocationExistsError,
    SourceNotFoundError,
)
from sync_pipelines.schemas import (
    CreateSourcePayload,
    IndexJobMetadata,
    Job,
    JobStatus,
    Source,
)
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.conftest import S3

SPEC = json.loads(
    (Path(__file__).parents[2] / "sync_pipelines/spec/sync.openapi.patched.json").read_text()
)
REGISTRY: Registry = Registry().with_resource(
    "urn:spec", Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
SECRET = "wJalrXUtnFEMI-very-secret"


def assert_spec_valid(name: str, model: Any) -> None:
    validator = Draft202012Validator(
        {"$ref": f"urn:spec#/components/schemas/{name}"}, registry=REGISTRY
    )
    payload = model.model_dump(mode="json")
    assert [e.message for e in validator.iter_errors(payload)] == []


def s3_source(catalog: Catalog, db: str = "db1", **s3: Any) -> Source:
    return catalog.create_source(
        CreateSourcePayload.model_validate({"database_name": db, "s3": {**S3, **s3}})
    )


def s3_meta(key: str, db: str = "db1", collection: str = "kb1") -> IndexJobMetadata:
    return IndexJobMetadata.model_validate(
        {
            "database_name": db,
            "collection_name": collection,
            "s3": {"bucket_name": "docs", "object_key": key},
        }
    )


def test_sqlite_engine_is_configured(tmp_path: Path) -> None:
    cat = Catalog(f"sqlite:///{tmp_path / 'a' / 'b' / 'catalog.db'}")
    try:
        assert (tmp_path / "a" / "b" / "catalog.db").exists()
        with cat.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert cat.ping()
    finally:
        cat.close()


def test_default_url_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHROMA_SYNC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHROMA_SYNC_CATALOG_URL", raising=False)
    get_settings.cache_clear()
    try:
        cat = Catalog()
        s3_source(cat)
        cat.close()
        assert (tmp_path / "home" / "catalog.db").is_file()
    finally:
        get_settings.cache_clear()


def test_source_crud_and_scoping(catalog: Catalog) -> None:
    gh = catalog.create_source(
        CreateSourcePayload.model_validate(
            {
                "database_name": "db1",
                "github": {"repository": "chroma-core/chroma", "include_globs": ["**/*.md"]},
                "chunking": {"type": "lines", "max_lines": 20},
            }
        )
    )
    assert gh.source_type == "github"
    assert gh.created_at.tzinfo is UTC
    assert gh.embedding_model.model == "all-MiniLM-L6-v2"
    assert gh.embedding.dense is not None and gh.embedding.dense.model == "all-MiniLM-L6-v2"
    assert gh.chunking.model_dump() == {"type": "lines", "max_lines": 20, "max_size_bytes": 1500}
    fetched = catalog.get_source(gh.id)
    assert fetched == gh
    assert catalog.get_source(gh.id, database_name="db1") == gh
    assert catalog.get_source(gh.id, database_name="other") is None
    assert catalog.get_source(uuid.uuid4()) is None
    assert_spec_valid("Source", gh)

    web = catalog.create_source(
        CreateSourcePayload.model_validate(
            {"database_name": "db1", "web_scrape": {"starting_url": "https://example.com/"}}
        )
    )
    assert catalog.get_source(web.id) == web
    assert web.chunking.model_dump() == {"type": "tree_sitter", "max_size_bytes": 1500}

    assert catalog.delete_source(gh.id, database_name="other") is False
    assert catalog.delete_source(gh.id) is True
    assert catalog.get_source(gh.id) is None
    assert catalog.delete_source(gh.id) is False


def test_inline_keys_become_a_credential_and_never_leak(catalog: Catalog) -> None:
    source = s3_source(
        catalog, aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key=SECRET, path_prefix="p/"
    )
    assert source.s3 is not None
    cred_id = source.s3.aws_credential_id
    assert isinstance(cred_id, int)
    listed = catalog.list_credentials("db1")
    assert [(c.id, c.access_key_id) for c in listed] == [(cred_id, "AKIAEXAMPLE")]
    assert catalog.list_credentials("other") == []
    dumps = [
        source.model_dump_json(),
        json.dumps([s.model_dump(mode="json") for s in catalog.list_sources("db1")]),
        json.dumps([c.model_dump(mode="json") for c in listed]),
    ]
    assert all(SECRET not in d for d in dumps)
    secret = catalog.get_aws_secret(cred_id)
    assert secret is not None
    assert (secret.access_key_id, secret.secret_access_key) == ("AKIAEXAMPLE", SECRET)
    assert SECRET not in repr(secret)
    assert catalog.get_aws_secret(cred_id + 1000) is None

    reused = s3_source(catalog, aws_credential_id=cred_id)
    assert reused.s3 is not None and reused.s3.aws_credential_id == cred_id
    with pytest.raises(CredentialNotFoundError):
        s3_source(catalog, db="other", aws_credential_id=cred_id)
    with pytest.raises(CredentialNotFoundError):
        s3_source(catalog, aws_credential_id=cred_id + 1000)
    explicit = catalog.create_credential("db1", "AKIA2", "s2")
    assert explicit.id != cred_id
    assert [c.id for c in catalog.list_credentials()] == [cred_id, explicit.id]


def test_list_sources_filters_pages_and_orders(catalog: Catalog) -> None:
    created = [s3_source(catalog) for _ in range(5)]
    gh = catalog.create_source(
        CreateSourcePayload.model_validate(
            {"database_name": "db1", "github": {"repository": "a/b"}}
        )
    )
    s3_source(catalog, db="other")
    ids = [s.id for s in [*created, gh]]
    assert [s.id for s in catalog.list_sources("db1", order_by="ASC")] == ids
    assert [s.id for s in catalog.list_sources("db1")] == ids[::-1]
    assert [s.id for s in catalog.list_sources("db1", limit=2, offset=1, order_by="ASC")] == ids[
        1:3
    ]
    assert [s.id for s in catalog.list_sources("db1", source_type="github")] == [gh.id]
    assert len(catalog.list_sources("db1", source_type="s3")) == 5
    assert len(catalog.list_sources()) == 7
    assert catalog.list_sources("db1", limit=0) == []
    assert catalog.list_sources("nobody") == []


def test_file_upload_source_is_one_per_database(catalog: Catalog) -> None:
    first = catalog.ensure_file_upload_source("db1")
    assert first.source_type == "file_upload"
    assert catalog.ensure_file_upload_source("db1").id == first.id
    assert catalog.ensure_file_upload_source("db2").id != first.id
    assert_spec_valid("Source", first)


def test_invocation_lifecycle_and_filters(catalog: Catalog) -> None:
    source = s3_source(catalog)
    job = catalog.create_invocation(source.id, s3_meta("docs/a.md"))
    assert job.status == JobStatus.pending()
    assert job.source_id == source.id
    assert job.created_at.tzinfo is UTC
    assert job.metadata.s3 is not None and job.metadata.s3.object_key == "docs/a.md"
    assert catalog.get_invocation(job.id) == job
    assert catalog.get_invocation(job.id, database_name="other") is None
    assert_spec_valid("Job", job)

    assert catalog.mark_processing(job.id, run_id="run-1") is True
    assert catalog.mark_processing(job.id, run_id="run-2") is False
    record = catalog.get_invocation_record(job.id)
    assert record is not None
    assert (record.run_id, record.object_key, record.source_type) == ("run-1", "docs/a.md", "s3")
    assert record.started_at is not None and record.started_at.tzinfo is UTC
    assert catalog.cancel_if_pending(job.id) is False

    finished = job.created_at + timedelta(seconds=2, milliseconds=345)
    assert catalog.mark_complete(job.id, finished_at=finished) is True
    done = catalog.get_invocation(job.id)
    assert done is not None
    assert done.status.word == "complete"
    assert done.status.duration_ms == 2345
    assert done.status.finished_at == finished
    assert catalog.mark_failed(job.id, "late") is False
    assert_spec_valid("Job", done)

    failing = catalog.create_invocation(source.id, s3_meta("docs/b.md"))
    assert catalog.mark_failed(failing.id, "NoSuchKey") is True
    failed = catalog.get_invocation(failing.id)
    assert failed is not None and failed.status == JobStatus.failed("NoSuchKey")

    cancelled = catalog.create_invocation(source.id, s3_meta("docs/c.md"))
    assert catalog.cancel_if_pending(cancelled.id) is True
    assert catalog.cancel_if_pending(cancelled.id) is False
    assert catalog.mark_processing(cancelled.id, "run-3") is False
    assert catalog.mark_complete(cancelled.id) is False
    assert catalog.mark_complete(uuid.uuid4()) is False

    pending = catalog.create_invocation(source.id, s3_meta("docs/d.md"))
    other = catalog.create_invocation(s3_source(catalog, db="other").id, s3_meta("x", db="other"))

    def ids(**kw: Any) -> list[uuid.UUID]:
        return [j.id for j in catalog.list_invocations(**kw)]

    assert ids(database_name="db1", order_by="ASC") == [
        job.id,
        failing.id,
        cancelled.id,
        pending.id,
    ]
    assert ids(database_name="db1", limit=2) == [pending.id, cancelled.id]
    assert ids(database_name="db1", offset=3) == [job.id]
    for word, expected in [
        ("complete", job.id),
        ("failed", failing.id),
        ("cancelled", cancelled.id),
        ("pending", pending.id),
    ]:
        assert ids(database_name="db1", status=word) == [expected]
    assert ids(database_name="db1", status="processing") == []
    assert ids(source_id=source.id, status="pending") == [pending.id]
    assert ids(database_name="other") == [other.id]
    assert ids(database_name="db1", source_type="github") == []
    assert len(ids()) == 5


def test_github_invocation_keeps_ref(catalog: Catalog) -> None:
    gh = catalog.create_source(
        CreateSourcePayload.model_validate(
            {"database_name": "db1", "github": {"repository": "a/b"}}
        )
    )
    meta = IndexJobMetadata.model_validate(
        {
            "database_name": "db1",
            "collection_name": "code",
            "github": {"git_ref_identifier": {"sha": "abc"}},
        }
    )
    job = catalog.create_invocation(gh.id, meta)
    fetched = catalog.get_invocation(job.id)
    assert fetched is not None and fetched.metadata == meta
    assert [j.id for j in catalog.list_invocations(source_type="github")] == [job.id]
    with pytest.raises(SourceNotFoundError):
        catalog.create_invocation(uuid.uuid4(), meta)


def test_exclusive_create_refuses_active_duplicates(catalog: Catalog) -> None:
    source = s3_source(catalog)
    first = catalog.create_invocation(source.id, s3_meta("k"), exclusive=True)
    with pytest.raises(InvocationExistsError) as info:
        catalog.create_invocation(source.id, s3_meta("k"), exclusive=True)
    assert info.value.existing.id == first.id
    catalog.create_invocation(source.id, s3_meta("other-key"), exclusive=True)
    catalog.create_invocation(source.id, s3_meta("k", collection="kb2"), exclusive=True)
    catalog.create_invocation(source.id, s3_meta("k"))  # non-exclusive create is not checked
    assert catalog.mark_processing(first.id, "r") is True
    assert catalog.mark_complete(first.id) is True
    with pytest.raises(InvocationExistsError):  # the non-exclusive one is still pending
        catalog.create_invocation(source.id, s3_meta("k"), exclusive=True)


def test_concurrent_exclusive_creates_admit_one(catalog: Catalog) -> None:
    source = s3_source(catalog)
    barrier = threading.Barrier(4)
    results: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            catalog.create_invocation(source.id, s3_meta("race"), exclusive=True)
            results.append("created")
        except InvocationExistsError:
            results.append("conflict")

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["conflict"] * 3 + ["created"]
    assert len(catalog.list_invocations(source_id=source.id)) == 1


def _race_cancel_against_start(catalog: Catalog, job_id: uuid.UUID) -> dict[str, bool]:
    barrier = threading.Barrier(2)
    outcome: dict[str, bool] = {}

    def cancel() -> None:
        barrier.wait()
        outcome["cancel"] = catalog.cancel_if_pending(job_id)

    def start() -> None:
        barrier.wait()
        outcome["start"] = catalog.mark_processing(job_id, "run")

    threads = [threading.Thread(target=cancel), threading.Thread(target=start)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcome


def test_concurrent_cancel_and_start_exactly_one_wins(catalog: Catalog) -> None:
    source = s3_source(catalog)
    for round_no in range(8):
        job = catalog.create_invocation(source.id, s3_meta(f"k{round_no}"))
        outcome = _race_cancel_against_start(catalog, job.id)
        assert sorted(outcome.values()) == [False, True]
        final = catalog.get_invocation(job.id)
        assert final is not None
        assert final.status.word == ("cancelled" if outcome["cancel"] else "processing")


def test_latest_by_keys(catalog: Catalog) -> None:
    source = s3_source(catalog)
    other = s3_source(catalog)
    a1 = catalog.create_invocation(source.id, s3_meta("a"))
    catalog.create_invocation(source.id, s3_meta("b"))
    a2 = catalog.create_invocation(source.id, s3_meta("a"))
    b2 = catalog.create_invocation(source.id, s3_meta("b"))
    catalog.create_invocation(other.id, s3_meta("a"))
    latest = catalog.latest_by_keys(source.id, ["a", "b", "missing", "a"])
    assert {k: j.id for k, j in latest.items()} == {"a": a2.id, "b": b2.id}
    assert a1.id != a2.id
    assert all(isinstance(j, Job) for j in latest.values())
    assert catalog.latest_by_keys(source.id, []) == {}
    many = [f"k{i}" for i in range(1200)] + ["a"]
    assert set(catalog.latest_by_keys(source.id, many)) == {"a"}


def test_delete_source_cancels_pending_and_keeps_history(catalog: Catalog) -> None:
    source = s3_source(catalog)
    pending = catalog.create_invocation(source.id, s3_meta("p"))
    running = catalog.create_invocation(source.id, s3_meta("r"))
    assert catalog.mark_processing(running.id, "run")
    assert catalog.delete_source(source.id) is True
    after_pending = catalog.get_invocation(pending.id)
    after_running = catalog.get_invocation(running.id)
    assert after_pending is not None and after_running is not None
    assert after_pending.status.word == "cancelled"
    assert after_running.status.word == "processing"
    assert after_pending.source_id is None and after_running.source_id is None
    assert catalog.mark_complete(running.id) is True
    assert len(catalog.list_invocations(database_name="db1")) == 2
    assert catalog.list_invocations(source_id=source.id) == []


def test_datetimes_round_trip_as_utc(catalog: Catalog) -> None:
    source = s3_source(catalog)
    job = catalog.create_invocation(source.id, s3_meta("t"))
    offset_tz = datetime(2030, 1, 1, 17, 0, tzinfo=timezone(timedelta(hours=5)))
    assert catalog.mark_complete(job.id, finished_at=offset_tz)
    done = catalog.get_invocation(job.id)
    assert done is not None and done.status.finished_at is not None
    assert done.status.finished_at.tzinfo is UTC
    assert done.status.finished_at == datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
