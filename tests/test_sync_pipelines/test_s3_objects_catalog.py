"""The S3 auto-sync state in the catalog (``s3_objects``), on SQLite and PostgreSQL.

Contract: ``record_handled`` inserts or replaces a key's ETag, pass and sidecar target;
``known_etags`` returns the stored ETag of the asked keys only (any number of keys);
``mark_seen`` moves the pass of stored keys only; ``stale_objects`` lists, in key order and up
to a limit, the keys last seen before a pass, with their sidecar target; ``forget`` drops keys;
``max_seen_pass`` is 0 without state; state is per source and goes with a deleted source;
``record_failed_invocation`` stores a ``failed`` invocation at once (never pending).
"""

import uuid
from typing import Any

import pytest

from sync_pipelines.catalog import Catalog, InvocationExistsError, SourceNotFoundError
from sync_pipelines.schemas import CreateSourcePayload, IndexJobMetadata, Source
from tests.test_sync_pipelines.conftest import S3


def s3_source(catalog: Catalog, **s3: Any) -> Source:
    return catalog.create_source(
        CreateSourcePayload.model_validate({"database_name": "db1", "s3": {**S3, **s3}})
    )


def test_record_and_read_etags(catalog: Catalog) -> None:
    source = s3_source(catalog)
    keys = [f"k/{i:04d}" for i in range(1200)]  # more than one IN (...) batch

    catalog.record_handled(source.id, {k: f"e{i}" for i, k in enumerate(keys)}, 1)

    known = catalog.known_etags(source.id, [*keys, "absent"])
    assert len(known) == 1200
    assert known["k/0000"] == "e0" and known["k/1199"] == "e1199"
    assert "absent" not in known
    assert catalog.max_seen_pass(source.id) == 1


def test_record_handled_replaces_etag_pass_and_target(catalog: Catalog) -> None:
    source = s3_source(catalog)
    target = {"object_key": "a.pdf", "custom_id": "A", "collection_name": None, "metadata": None}
    catalog.record_handled(source.id, {"a.meta.json": "e1", "b": "x"}, 1, {"a.meta.json": target})

    catalog.record_handled(source.id, {"a.meta.json": "e2"}, 2, {"a.meta.json": None})

    assert catalog.known_etags(source.id, ["a.meta.json", "b"]) == {"a.meta.json": "e2", "b": "x"}
    assert catalog.stale_objects(source.id, before_pass=2) == {"b": None}
    assert catalog.stale_objects(source.id, before_pass=3) == {"a.meta.json": None, "b": None}


def test_mark_seen_stale_and_forget(catalog: Catalog) -> None:
    source = s3_source(catalog)
    target = {"object_key": "c.pdf", "custom_id": "C", "collection_name": "x1", "metadata": {}}
    catalog.record_handled(source.id, {"a": "1", "b": "2"}, 4)
    catalog.record_handled(source.id, {"c.meta.json": "3"}, 4, {"c.meta.json": target})

    assert catalog.mark_seen(source.id, ["a", "never-stored"], 5) == 1

    assert catalog.stale_keys(source.id, before_pass=5) == ["b", "c.meta.json"]
    assert catalog.stale_objects(source.id, before_pass=5) == {"b": None, "c.meta.json": target}
    assert catalog.stale_objects(source.id, before_pass=5, limit=1) == {"b": None}
    assert catalog.max_seen_pass(source.id) == 5
    assert catalog.forget(source.id, ["b", "c.meta.json", "never-stored"]) == 2
    assert catalog.known_etags(source.id, ["a", "b", "c.meta.json"]) == {"a": "1"}


def test_state_is_per_source_and_goes_with_the_source(catalog: Catalog) -> None:
    first, second = s3_source(catalog), s3_source(catalog)
    catalog.record_handled(first.id, {"k": "1"}, 1)
    catalog.record_handled(second.id, {"k": "2"}, 7)

    assert catalog.known_etags(first.id, ["k"]) == {"k": "1"}
    assert catalog.max_seen_pass(second.id) == 7
    assert catalog.max_seen_pass(uuid.uuid4()) == 0

    assert catalog.delete_source(first.id)
    assert catalog.known_etags(first.id, ["k"]) == {}
    assert catalog.known_etags(second.id, ["k"]) == {"k": "2"}


def test_record_failed_invocation_is_failed_at_once(catalog: Catalog) -> None:
    source = s3_source(catalog)
    metadata = IndexJobMetadata.model_validate(
        {
            "database_name": "db1",
            "collection_name": "kb1",
            "s3": {"bucket_name": "docs", "object_key": "bad.meta.json"},
        }
    )

    job = catalog.record_failed_invocation(source.id, metadata, "s3://docs/bad.meta.json: no id")

    stored = catalog.get_invocation(job.id)
    assert stored is not None
    assert stored.status.error == "s3://docs/bad.meta.json: no id"
    assert stored.source_id == source.id
    assert stored.metadata.s3 is not None and stored.metadata.s3.object_key == "bad.meta.json"
    assert catalog.pending_records() == []
    record = catalog.get_invocation_record(job.id)
    assert record is not None and record.object_key == "bad.meta.json"


def s3_meta(key: str, collection: str = "kb1", **s3: Any) -> IndexJobMetadata:
    return IndexJobMetadata.model_validate(
        {
            "database_name": "db1",
            "collection_name": collection,
            "s3": {"bucket_name": "docs", "object_key": key, **s3},
        }
    )


def test_create_s3_invocations_refuses_like_exclusive_create(catalog: Catalog) -> None:
    source = s3_source(catalog)
    active = catalog.create_invocation(source.id, s3_meta("busy"), exclusive=True)
    done = catalog.create_invocation(source.id, s3_meta("done"), exclusive=True)
    assert catalog.mark_complete(done.id)
    requests = [
        s3_meta("busy"),
        s3_meta("busy", collection="other"),
        s3_meta("done", custom_id="D", additional_metadata={"team": "ops"}),
        s3_meta("new"),
        s3_meta("new"),
    ]

    created, refused = catalog.create_s3_invocations(source.id, requests)

    assert refused == [requests[0], requests[4]]
    slots = [
        (j.metadata.collection_name, j.metadata.s3 and j.metadata.s3.object_key) for j in created
    ]
    assert slots == [("other", "busy"), ("kb1", "done"), ("kb1", "new")]
    assert all(j.status.word.value == "pending" and j.source_id == source.id for j in created)
    record = catalog.get_invocation_record(created[1].id)
    assert record is not None
    assert (record.object_key, record.custom_id, record.extra_metadata) == (
        "done",
        "D",
        {"team": "ops"},
    )
    assert {r.job.id for r in catalog.pending_records()} == {active.id, *(j.id for j in created)}
    with pytest.raises(InvocationExistsError):
        catalog.create_invocation(source.id, s3_meta("new"), exclusive=True)
    with pytest.raises(SourceNotFoundError):
        catalog.create_s3_invocations(uuid.uuid4(), [s3_meta("x")])
