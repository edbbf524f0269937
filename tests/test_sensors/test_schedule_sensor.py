"""The source schedule sensor as state transitions over a real catalog.

Contract: the first tick (or a garbage cursor) only records the time; a tick after a cron tick
passed queues one invocation per due source (GitHub: the schedule's branch into its collection;
web: a re-crawl); a source whose previous invocation is still active is not queued twice; a
tick with nothing due skips and advances the cursor. An S3 reconcile also queues the objects
whose chunks were cut by another chunker version.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import pytest
from pydantic import ValidationError

from sensors.schedules import NOTHING_QUEUED, dump_cursor, load_cursor, source_schedule_sensor
from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_resources
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.schemas import CreateSourcePayload, Source
from sync_pipelines.settings import get_settings
from tests.test_sync_pipelines.chunker_helpers import old_chunker
from tests.test_sync_pipelines.s3_helpers import create_s3_source, run_s3_sync

DATABASE = "testdb"


def catalog() -> Catalog:
    return Catalog(get_settings().resolved_catalog_url)


def tick(cursor: str | None) -> dg.SensorResult:
    resources = build_resources(get_settings())
    context = dg.build_sensor_context(
        cursor=cursor,
        resources={k: resources[k] for k in ("catalog", "s3", "chroma", "embedder")},
    )
    result = source_schedule_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def minutes_ago(n: int) -> str:
    return dump_cursor(datetime.now(UTC) - timedelta(minutes=n))


def create(body: dict[str, Any]) -> Source:
    payload = CreateSourcePayload.model_validate({"database_name": DATABASE, **body})
    return catalog().create_source(payload)


def github_source(cron: str = "* * * * *", **schedule: Any) -> Source:
    return create(
        {
            "github": {
                "repository": "acme/docs",
                "schedule": {"cron": cron, "target_collection_name": "docs-main", **schedule},
            }
        }
    )


def web_source(cron: str = "* * * * *") -> Source:
    return create(
        {
            "web_scrape": {
                "starting_url": "https://docs.example.org/",
                "schedule": {"cron": cron, "target_collection_name": "site"},
            }
        }
    )


def invocations(source: Source) -> list[Any]:
    return catalog().list_invocations(DATABASE, source_id=source.id, limit=100)


@pytest.mark.parametrize("cursor", [None, "garbage", json.dumps({"v": 9, "at": "x"}), "[]"])
def test_first_or_unreadable_cursor_only_records_the_time(cursor: str | None) -> None:
    source = github_source()
    before = datetime.now(UTC)

    result = tick(cursor)

    assert result.skip_reason is not None
    recorded = load_cursor(result.cursor)
    assert recorded is not None and recorded >= before
    assert invocations(source) == []


def test_due_github_schedule_queues_its_branch_into_its_collection() -> None:
    source = github_source(branch="release")

    result = tick(minutes_ago(2))

    assert result.skip_reason is None
    [job] = invocations(source)
    assert job.status.word == "pending"
    assert job.metadata.collection_name == "docs-main"
    assert job.metadata.github is not None
    assert job.metadata.github.git_ref_identifier.model_dump() == {"branch": "release"}


def test_due_web_schedule_queues_a_recrawl() -> None:
    source = web_source()

    tick(minutes_ago(2))

    [job] = invocations(source)
    assert job.metadata.collection_name == "site"
    assert job.metadata.web_scrape is not None
    assert job.metadata.web_scrape.starting_url == "https://docs.example.org/"


def test_active_invocation_is_not_queued_twice() -> None:
    source = web_source()
    tick(minutes_ago(2))

    result = tick(minutes_ago(2))

    assert len(invocations(source)) == 1
    assert result.skip_reason == dg.SkipReason(NOTHING_QUEUED)


def test_nothing_due_skips_and_advances_the_cursor() -> None:
    source = github_source(cron="0 3 1 1 *")  # once a year, at 03:00 on 1 January
    cursor = dump_cursor(datetime(2026, 6, 1, tzinfo=UTC))

    result = tick(cursor)

    assert result.skip_reason == dg.SkipReason(NOTHING_QUEUED)
    recorded = load_cursor(result.cursor)
    assert recorded is not None and recorded > datetime(2026, 6, 1, tzinfo=UTC)
    assert invocations(source) == []


def test_sources_without_schedule_are_ignored() -> None:
    source = create({"web_scrape": {"starting_url": "https://example.org/"}})

    result = tick(minutes_ago(5))

    assert result.skip_reason == dg.SkipReason(NOTHING_QUEUED)
    assert invocations(source) == []


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"github": {"repository": "a/b", "schedule": {"cron": "* * *"}}}, "cron", "five-field"),
        (
            {"github": {"repository": "a/b", "schedule": {"cron": "* * * * *"}}},
            "schedule",
            "target_collection_name is required",
        ),
        (
            {
                "web_scrape": {
                    "starting_url": "https://x.org/",
                    "schedule": {
                        "cron": "0 3 * * *",
                        "target_collection_name": "c1c",
                        "timezone": "Mars/Base",
                    },
                }
            },
            "timezone",
            "unknown time zone",
        ),
    ],
)
def test_invalid_schedules_are_refused_naming_the_field(
    body: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        CreateSourcePayload.model_validate({"database_name": DATABASE, **body})
    error = info.value.errors()[0]
    assert error["loc"][-1] == field
    assert message in error["msg"]


def test_due_s3_schedule_reconciles_bucket_and_collection(
    s3_server: LocalS3Server, s3_client: Any, bucket: str
) -> None:
    for key in ("a.md", "b.md", "z.md"):
        s3_client.put_object(Bucket=bucket, Key=key, Body=f"# {key}\n\nText of {key}.\n".encode())
    source = create_s3_source(
        s3_server, bucket, auto_sync="direct", schedule={"cron": "*/5 * * * *"}
    )
    for key in ("a.md", "z.md"):
        assert run_s3_sync(source, key).success
    s3_client.delete_object(Bucket=bucket, Key="z.md")  # its chunks must go
    s3_client.put_object(Bucket=bucket, Key="a.md", Body=b"# a.md\n\nSame length, new text.\n")
    synced_a = run_s3_sync(source, "a.md")  # a.md is in step again
    assert synced_a.success
    s3_client.put_object(Bucket=bucket, Key="folder/", Body=b"")  # a folder marker

    tick(minutes_ago(10))

    keys = sorted(job.metadata.s3.object_key for job in invocations(source) if job.metadata.s3)
    assert keys == ["b.md", "z.md"]


def test_s3_reconcile_queues_objects_chunked_by_another_chunker_version(
    s3_server: LocalS3Server, s3_client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("old.md", "new.md"):
        s3_client.put_object(Bucket=bucket, Key=key, Body=f"# {key}\n\nText of {key}.\n".encode())
    source = create_s3_source(
        s3_server, bucket, auto_sync="direct", schedule={"cron": "*/5 * * * *"}
    )
    with monkeypatch.context() as patch:
        old_chunker(patch)
        assert run_s3_sync(source, "old.md").success
    assert run_s3_sync(source, "new.md").success

    tick(minutes_ago(10))

    keys = sorted(job.metadata.s3.object_key for job in invocations(source) if job.metadata.s3)
    assert keys == ["old.md"]


def test_s3_schedule_needs_direct_auto_sync(s3_server: LocalS3Server, bucket: str) -> None:
    with pytest.raises(ValidationError) as info:
        create_s3_source(s3_server, bucket, schedule={"cron": "0 * * * *"})
    assert "auto_sync 'direct'" in str(info.value)
