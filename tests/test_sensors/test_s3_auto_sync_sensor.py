"""The S3 auto-sync sensor (direct mode) as state transitions over a real SeaweedFS bucket.

Contract: the sensor never proposes runs; it queues pending S3 invocations (object key, the
source's bucket and collection, no custom id) for every new or changed object under the
source's prefix except folder markers, once per ETag. The first tick queues what is already in
the bucket; a tick with nothing new skips and queues nothing; a re-upload under the same key
queues one new invocation once the earlier one is no longer active (while it is, nothing is
queued and the change is retried on a later pass); objects sharing a LastModified second and
keys sorting before already-seen keys are all caught; a listing of 1,500 objects pages past
1,000 keys, spreads a pass over several ticks when pages per tick are capped and queues every
object exactly once; an unreadable cursor starts a fresh pass without duplicates or errors.
"""

import json
from typing import Any

import dagster as dg
import pytest

from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.settings import get_settings
from tests.test_sensors.s3_auto_sync_helpers import (
    DATABASE,
    Ticker,
    auto_source,
    complete_all,
    invocations,
    keys_of,
    put,
    skipped,
    store,
)


@pytest.fixture
def ticker() -> Any:
    with dg.instance_for_test() as instance:
        yield Ticker(instance)


def test_first_tick_queues_the_objects_already_in_the_bucket(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, ticker: Ticker
) -> None:
    put(s3_client, bucket, {"a.md": "# A\n", "dir/": b"", "dir/b.txt": "b", "c.meta.json": "{}"})
    source = auto_source(s3_server, bucket, collection="kb-first")

    result = ticker.tick()

    assert isinstance(result, dg.SensorResult) and result.skip_reason is None
    jobs = invocations(source)
    assert keys_of(jobs) == ["a.md", "c.meta.json", "dir/b.txt"]
    for job in jobs:
        assert job.status.word.value == "pending"
        assert job.source_id == source.id
        assert job.metadata.database_name == DATABASE
        assert job.metadata.collection_name == "kb-first"
        assert job.metadata.s3 is not None
        assert job.metadata.s3.bucket_name == bucket
        assert job.metadata.s3.custom_id is None
        assert job.metadata.s3.additional_metadata is None
    assert ticker.state() == {str(source.id): {"after": None, "pass": 2}}


def test_nothing_new_skips_and_queues_nothing(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, ticker: Ticker
) -> None:
    put(s3_client, bucket, {"a.md": "a", "b.md": "b"})
    source = auto_source(s3_server, bucket)
    ticker.tick()
    complete_all(source)

    result = ticker.tick()

    assert skipped(result)
    assert len(invocations(source)) == 2
    assert ticker.state()[str(source.id)] == {"after": None, "pass": 3}


def test_new_object_queues_exactly_one_invocation(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, ticker: Ticker
) -> None:
    put(s3_client, bucket, {"a.md": "a"})
    source = auto_source(s3_server, bucket)
    ticker.tick()
    put(s3_client, bucket, {"b.md": "b"})

    result = ticker.tick()

    assert not skipped(result)
    assert keys_of(invocations(source)) == ["a.md", "b.md"]
    assert keys_of(invocations(source, "pending")) == ["a.md", "b.md"]


def test_reupload_waits_for_the_active_invocation_then_queues_once(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, ticker: Ticker
) -> None:
    put(s3_client, bucket, {"a.md": "version 1"})
    source = auto_source(s3_server, bucket)
    ticker.tick()
    (first,) = invocations(source)
    put(s3_client, bucket, {"a.md": "version 2"})

    while_pending = ticker.tick()
    assert skipped(while_pending)
    assert [j.id for j in invocations(source)] == [first.id]

    assert store().mark_complete(first.id)
    retried = ticker.tick()
    assert not skipped(retried)
    jobs = invocations(source)
    assert len(jobs) == 2 and jobs[0].id == first.id
    assert keys_of(jobs[1:]) == ["a.md"]
    assert jobs[1].status.word.value == "pending"

    complete_all(source)
    assert skipped(ticker.tick())
    assert len(invocations(source)) == 2


def test_same_second_uploads_and_keys_sorting_before_seen_ones_are_caught(
    s3_server: LocalS3Server, s3_client: Any, ticker: Ticker
) -> None:
    # Retry with a fresh bucket until both batches share one LastModified second (a tick takes
    # well under a second): the case that a LastModified/StartAfter watermark misses.
    for attempt in range(8):
        bucket = f"same-second-{attempt}-{id(ticker) % 10_000}"
        s3_client.create_bucket(Bucket=bucket)
        put(s3_client, bucket, {"m-1.md": "m1", "m-2.md": "m2"})
        source = auto_source(s3_server, bucket)
        ticker.tick()
        complete_all(source)
        put(s3_client, bucket, {"a-0.md": "a0", "m-1.md": "m1 again", "z-9.md": "z9"})
        listed = s3_client.list_objects_v2(Bucket=bucket)["Contents"]
        seconds = {o["LastModified"].replace(microsecond=0) for o in listed}
        if len(seconds) == 1:
            break
    else:
        pytest.fail("could not upload both batches within one second")

    result = ticker.tick()

    assert not skipped(result)
    assert keys_of(invocations(source, "pending")) == ["a-0.md", "m-1.md", "z-9.md"]
    assert keys_of(invocations(source)) == ["a-0.md", "m-1.md", "m-1.md", "m-2.md", "z-9.md"]


def test_1500_objects_page_past_1000_keys_and_span_ticks_each_queued_once(
    s3_server: LocalS3Server,
    s3_client: Any,
    bucket: str,
    ticker: Ticker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHROMA_SYNC_S3_SENSOR_MAX_PAGES_PER_TICK", "1")
    get_settings.cache_clear()
    keys = [f"docs/obj-{i:05d}.txt" for i in range(1500)]
    put(s3_client, bucket, {key: f"body {key}" for key in keys})
    capped = auto_source(s3_server, bucket, path_prefix="docs/")
    sid = str(capped.id)

    ticker.tick()
    assert ticker.state()[sid] == {"after": keys[999], "pass": 1}
    assert keys_of(invocations(capped)) == keys[:1000]

    ticker.tick()
    assert ticker.state()[sid] == {"after": None, "pass": 2}
    assert keys_of(invocations(capped)) == keys

    ticker.tick()
    ticker.tick()
    assert ticker.state()[sid] == {"after": None, "pass": 3}
    assert keys_of(invocations(capped)) == keys

    # With the default cap (20 pages), one tick reads both pages of a new source.
    monkeypatch.delenv("CHROMA_SYNC_S3_SENSOR_MAX_PAGES_PER_TICK")
    get_settings.cache_clear()
    whole = auto_source(s3_server, bucket, collection="kb-whole")
    ticker.tick()
    assert ticker.state()[str(whole.id)] == {"after": None, "pass": 2}
    jobs = invocations(whole)
    assert keys_of(jobs) == keys
    assert {job.metadata.collection_name for job in jobs} == {"kb-whole"}
    assert len(invocations(capped)) == 1500


@pytest.mark.parametrize(
    "cursor",
    [
        "not json at all",
        '{"v": 99, "sources": {}}',
        '{"v": 1, "sources": "nope"}',
        "{SOURCE: wrong types}",
    ],
)
def test_unreadable_cursor_starts_a_fresh_pass_without_duplicates(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, ticker: Ticker, cursor: str
) -> None:
    put(s3_client, bucket, {"a.md": "a", "b.md": "b"})
    source = auto_source(s3_server, bucket)
    ticker.tick()
    ticker.tick()
    put(s3_client, bucket, {"c.md": "c"})
    if cursor == "{SOURCE: wrong types}":
        cursor = json.dumps({"v": 1, "sources": {str(source.id): {"after": 3, "pass": "x"}}})

    result = ticker.tick(cursor)

    assert not skipped(result)
    assert keys_of(invocations(source)) == ["a.md", "b.md", "c.md"]
    # A fresh pass is numbered after the highest pass in the stored state (2).
    assert ticker.state() == {str(source.id): {"after": None, "pass": 4}}
