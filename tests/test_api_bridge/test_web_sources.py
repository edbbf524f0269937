"""Web sources through the API: crawl limits within bounds, http(s) only, schedules.

Contract: a web source with a non-http(s) ``starting_url`` (or one carrying credentials), a
``page_limit`` of 0 or over the server's bound, a ``max_depth`` over the bound, or an invalid
schedule is a 400 whose message names the field; a valid one reads back with its settings,
extension fields included.
"""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync_pipelines.catalog import Catalog
from sync_pipelines.schemas import InvocationProgress
from tests.test_api_bridge.conftest import create_source


@pytest.mark.parametrize(
    ("web", "field"),
    [
        ({"starting_url": "ftp://docs.example.org/"}, "web_scrape.starting_url"),
        ({"starting_url": "file:///etc/passwd"}, "web_scrape.starting_url"),
        ({"starting_url": "javascript:alert(1)"}, "web_scrape.starting_url"),
        ({"starting_url": "https://user:pw@example.org/"}, "web_scrape.starting_url"),
        ({"starting_url": "https://example.org/", "page_limit": 0}, "web_scrape.page_limit"),
        ({"starting_url": "https://example.org/", "page_limit": 100_001}, "web_scrape.page_limit"),
        ({"starting_url": "https://example.org/", "max_depth": 101}, "web_scrape.max_depth"),
        (
            {"starting_url": "https://example.org/", "include_path_regexes": ["("]},
            "web_scrape.include_path_regexes",
        ),
        (
            {"starting_url": "https://example.org/", "schedule": {"cron": "every day"}},
            "web_scrape.schedule.cron",
        ),
    ],
)
def test_bad_web_sources_are_400_naming_the_field(
    client: TestClient, admin: dict[str, str], web: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/api/v1/sources", json={"database_name": "db1", "web_scrape": web}, headers=admin
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] and body["message"].startswith(field), body


def test_web_source_reads_back_with_limits_and_schedule(
    client: TestClient, admin: dict[str, str]
) -> None:
    web = {
        "starting_url": "https://docs.example.org/guide/",
        "max_depth": 3,
        "page_limit": 250,
        "include_path_regexes": ["^/guide/"],
        "exclude_path_regexes": ["/changelog"],
        "schedule": {"cron": "0 3 * * *", "target_collection_name": "guide"},
    }
    source_id = create_source(client, admin, web_scrape=web)

    got = client.get(f"/api/v1/sources/{source_id}", headers=admin)

    assert got.status_code == 200
    assert got.json()["web_scrape"] == {**web, "schedule": {**web["schedule"], "timezone": "UTC"}}


def test_get_and_list_show_progress_once_a_run_reports_it(
    client: TestClient, admin: dict[str, str], catalog: Catalog
) -> None:
    source_id = create_source(client, admin, web_scrape={"starting_url": "https://example.org/"})
    created = client.post(
        f"/api/v1/sources/{source_id}/invocations",
        json={"target_collection_name": "site"},
        headers=admin,
    )
    assert created.status_code == 201
    invocation_id = uuid.UUID(created.json()["invocation_id"])
    path = f"/api/v1/invocations/{invocation_id}"
    assert "progress" not in client.get(path, headers=admin).json()

    assert catalog.mark_processing(invocation_id, "run-1")
    catalog.set_progress(
        invocation_id,
        InvocationProgress(unit="pages", done=7, total=12, chunks_written=30, skipped=1),
    )
    body = client.get(path, headers=admin).json()

    assert body["status"] == "processing"
    assert body["progress"] == {
        "unit": "pages",
        "done": 7,
        "total": 12,
        "chunks_written": 30,
        "skipped": 1,
        "failed": 0,
    }
    listed = client.get("/api/v1/invocations", headers=admin).json()
    assert [job.get("progress") for job in listed] == [body["progress"]]
