"""The S3 auto-sync sensor's modes and boundaries, over a real SeaweedFS bucket.

Contract: in ``metadata`` mode only sidecars trigger: a valid one queues its ``path`` with its
``id`` as custom_id, its metadata and target collection; an invalid one is logged and recorded
as a failed invocation ``s3://bucket/<sidecar key>: <reason>``, once per ETag; a re-uploaded
sidecar triggers again, a changed data object alone does not. With ``mirror_deletes`` an object
gone from the bucket gets one pending invocation (a vanished sidecar re-runs what it asked for)
and is forgotten; without it, it is only forgotten. Only keys under ``path_prefix`` are
considered; sources without auto_sync are ignored; a deleted source leaves the cursor; a source
whose bucket is missing or whose credentials are wrong is reported while the others go on; a
deadline stops a scan after its first page and the next tick resumes where it stopped.
"""

import logging
from typing import Any

import dagster as dg
import pytest

from sync_pipelines.core.s3_cursor import SourceCursor
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.resources.s3 import SyncS3Resource
from sync_pipelines.s3_auto_sync.listing import client_for_source
from sync_pipelines.s3_auto_sync.scan import scan_source
from tests.test_sensors.s3_auto_sync_helpers import (
    Ticker,
    auto_source,
    complete_all,
    invocations,
    keys_of,
    put,
    sidecar,
    skip_message,
    skipped,
    store,
)


@pytest.fixture
def ticker() -> Any:
    with dg.instance_for_test() as instance:
        yield Ticker(instance)


def test_sidecar_mode_queues_valid_and_fails_invalid_sidecars(
    s3_server: LocalS3Server,
    s3_client: Any,
    bucket: str,
    ticker: Ticker,
    capfd: pytest.CaptureFixture[str],
) -> None:
    metadata = {"team": "ops", "year": 2024, "tags": ["hr", "policy"]}
    put(
        s3_client,
        bucket,
        {
            "docs/a.md": "# A\n",
            "docs/a.md.meta.json": sidecar(
                id="handbook-a",
                path="docs/a.md",
                target_collection_name="kb-handbook",
                metadata=metadata,
            ),
            "docs/b.md": "# B\n",
            "docs/bad.meta.json": sidecar(id="b", path="docs/b.md", metadata={"document_key": "x"}),
            "docs/garbage.meta.json": "not json",
            "docs/out.meta.json": sidecar(id="o", path="other/x.md"),
            "other/x.md": "x",
        },
    )
    source = auto_source(s3_server, bucket, "metadata", path_prefix="docs/")

    assert not skipped(ticker.tick())
    logged = capfd.readouterr().err

    (pending,) = invocations(source, "pending")
    assert pending.metadata.collection_name == "kb-handbook"
    assert pending.metadata.s3 is not None
    assert pending.metadata.s3.object_key == "docs/a.md"
    assert pending.metadata.s3.custom_id == "handbook-a"
    assert pending.metadata.s3.additional_metadata == metadata
    failed = invocations(source, "failed")
    errors = {job.metadata.s3.object_key: job.status.error for job in failed if job.metadata.s3}
    assert errors == {
        "docs/bad.meta.json": f"s3://{bucket}/docs/bad.meta.json: "
        "metadata: metadata key 'document_key' is reserved",
        "docs/garbage.meta.json": f"s3://{bucket}/docs/garbage.meta.json: "
        "not valid JSON: Expecting value at line 1 column 1",
        "docs/out.meta.json": f"s3://{bucket}/docs/out.meta.json: "
        "path 'other/x.md' is outside the source's path_prefix 'docs/'",
    }
    assert {job.metadata.collection_name for job in failed} == {"kb-auto"}
    for error in errors.values():
        assert f"WARNING - S3 auto-sync: invalid sidecar {error}" in logged

    # Nothing new: no second report of the invalid sidecars; a changed data object alone
    # does not trigger in metadata mode.
    put(s3_client, bucket, {"docs/a.md": "# A, edited\n"})
    assert skipped(ticker.tick())
    assert len(invocations(source)) == 4

    # A fixed sidecar and a re-uploaded valid one (after its first sync finished) trigger.
    complete_all(source)
    put(
        s3_client,
        bucket,
        {
            "docs/bad.meta.json": sidecar(id="b", path="docs/b.md"),
            "docs/a.md.meta.json": sidecar(
                id="handbook-a", path="docs/a.md", metadata={"team": "sales"}
            ),
        },
    )
    assert not skipped(ticker.tick())
    new = {j.metadata.s3.object_key: j for j in invocations(source, "pending") if j.metadata.s3}
    assert set(new) == {"docs/a.md", "docs/b.md"}
    assert new["docs/a.md"].metadata.s3 is not None
    assert new["docs/a.md"].metadata.s3.additional_metadata == {"team": "sales"}
    assert new["docs/a.md"].metadata.collection_name == "kb-auto"
    assert new["docs/b.md"].metadata.s3 is not None
    assert new["docs/b.md"].metadata.s3.custom_id == "b"


def test_mirror_mode_queues_one_removal_per_vanished_object(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, ticker: Ticker
) -> None:
    put(s3_client, bucket, {"a.md": "a", "b.md": "b", "c.md": "c"})
    mirror = auto_source(s3_server, bucket, collection="kb-mirror", mirror_deletes=True)
    plain = auto_source(s3_server, bucket, collection="kb-plain")
    assert mirror.s3 is not None and mirror.s3.mirror_deletes is True
    assert plain.s3 is not None and "mirror_deletes" not in plain.s3.model_dump()
    ticker.tick()
    complete_all(mirror)
    complete_all(plain)
    s3_client.delete_object(Bucket=bucket, Key="b.md")

    assert not skipped(ticker.tick())

    (removal,) = invocations(mirror, "pending")
    assert removal.metadata.s3 is not None
    assert removal.metadata.s3.object_key == "b.md"
    assert removal.metadata.collection_name == "kb-mirror"
    assert invocations(plain, "pending") == []
    for source in (mirror, plain):
        assert sorted(store().known_etags(source.id, ["a.md", "b.md", "c.md"])) == ["a.md", "c.md"]
    complete_all(mirror)
    assert skipped(ticker.tick())
    assert len(invocations(mirror)) == 4

    put(s3_client, bucket, {"b.md": "b"})  # back, with the same content: synced again
    ticker.tick()
    assert keys_of(invocations(mirror, "pending")) == ["b.md"]
    assert keys_of(invocations(plain, "pending")) == ["b.md"]


def test_mirror_mode_replays_a_vanished_sidecar(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, ticker: Ticker
) -> None:
    put(
        s3_client,
        bucket,
        {
            "a.md": "a",
            "a.meta.json": sidecar(id="A", path="a.md", metadata={"k": 1}),
            "bad.meta.json": "{}",
        },
    )
    source = auto_source(s3_server, bucket, "metadata", mirror_deletes=True)
    ticker.tick()
    complete_all(source)
    for key in ("a.md", "a.meta.json", "bad.meta.json"):
        s3_client.delete_object(Bucket=bucket, Key=key)

    ticker.tick()

    (removal,) = invocations(source, "pending")
    assert removal.metadata.s3 is not None
    assert (removal.metadata.s3.object_key, removal.metadata.s3.custom_id) == ("a.md", "A")
    assert removal.metadata.s3.additional_metadata == {"k": 1}
    assert store().known_etags(source.id, ["a.meta.json", "bad.meta.json"]) == {}


def test_prefix_is_respected(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, ticker: Ticker
) -> None:
    put(
        s3_client,
        bucket,
        {"docs/a.md": "a", "docs/sub/b.md": "b", "docsx/c.md": "c", "other/d.md": "d", "e": "e"},
    )
    source = auto_source(s3_server, bucket, path_prefix="docs/")

    ticker.tick()

    assert keys_of(invocations(source)) == ["docs/a.md", "docs/sub/b.md"]


def test_sources_without_auto_sync_are_ignored_and_deleted_ones_leave_the_cursor(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, ticker: Ticker
) -> None:
    put(s3_client, bucket, {"a.md": "a"})
    off = auto_source(s3_server, bucket, "none")
    unset = auto_source(s3_server, bucket, None)
    direct = auto_source(s3_server, bucket)

    ticker.tick()

    assert invocations(off) == [] and invocations(unset) == []
    assert keys_of(invocations(direct)) == ["a.md"]
    assert list(ticker.state()) == [str(direct.id)]
    assert store().delete_source(direct.id)
    assert skipped(ticker.tick())
    assert ticker.state() == {}


def test_a_broken_source_is_reported_and_the_others_go_on(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, ticker: Ticker
) -> None:
    put(s3_client, bucket, {"a.md": "a"})
    missing = auto_source(s3_server, "no-such-bucket-here")
    wrong_keys = auto_source(s3_server, bucket, aws_secret_access_key="not-the-secret")
    good = auto_source(s3_server, bucket)

    assert not skipped(ticker.tick())
    assert keys_of(invocations(good)) == ["a.md"]
    result = ticker.tick()

    assert skipped(result)
    reason = skip_message(result)
    assert f"source {missing.id}: " in reason and "NoSuchBucket" in reason
    assert f"source {wrong_keys.id}: " in reason and "SignatureDoesNotMatch" in reason
    assert invocations(missing) == [] and invocations(wrong_keys) == []
    state = ticker.state()
    assert state[str(missing.id)] == {"after": None, "pass": 1}
    assert state[str(good.id)] == {"after": None, "pass": 3}


def test_deadline_stops_after_the_first_page_and_the_next_scan_resumes(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    keys = [f"k{i}" for i in range(5)]
    put(s3_client, bucket, dict.fromkeys(keys, "x"))
    source = auto_source(s3_server, bucket)
    catalog = store()
    client = client_for_source(SyncS3Resource(allow_hosts=["127.0.0.1"]), catalog, source)
    log = logging.getLogger("test")

    first = scan_source(
        catalog, client, source, None, max_pages=10, deadline=0.0, log=log, page_size=2
    )
    assert (first.pages, first.cursor) == (1, SourceCursor(after="k1", pass_no=1))
    assert keys_of(first.created) == ["k0", "k1"]

    rest = scan_source(catalog, client, source, first.cursor, max_pages=10, log=log, page_size=2)
    assert (rest.pages, rest.cursor, rest.pass_completed) == (2, SourceCursor(None, 2), True)
    assert keys_of(rest.created) == ["k2", "k3", "k4"]
