"""The daily-work CLI (``sources``, ``invoke``, ``invocations``) against a real API server.

Contract: every command talks to a uvicorn-served API over HTTP with the token from
``CHROMA_SYNC_TOKEN``; ``--json`` prints the server's JSON (ids, statuses, configs); tables
name the ids; ``watch`` exits 0 on complete and 1 on failed/cancelled; every error is one
``error: ...`` line on stderr with the API's message and status, and exit code 1, never a
traceback; the token never appears in any output.
"""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from api_bridge.app import create_app
from sync_pipelines.catalog import Catalog
from sync_pipelines.cli import app
from sync_pipelines.settings import Settings
from tests.test_api_bridge.conftest import live_server

DB = "db1"
runner = CliRunner()


@dataclass
class Server:
    url: str
    catalog: Catalog
    admin: str
    member: str

    def run(self, *args: str, token: str | None = None, url: str | None = None) -> Result:
        env = {"CHROMA_SYNC_URL": url or self.url, "CHROMA_SYNC_TOKEN": token or self.admin}
        result = runner.invoke(app, list(args), env=env)
        for secret in (self.admin, self.member):
            assert secret not in result.output
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str, token: str | None = None) -> Any:
        result = self.run(*args, "--json", token=token)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def server(chroma_sync_home: Any) -> Iterator[Server]:
    api = create_app(Settings(), orchestrator_probe=lambda: True)
    catalog: Catalog = api.state.catalog
    _, admin = catalog.create_token(DB, admin=True)
    _, member = catalog.create_token(DB)
    with live_server(api) as base:
        yield Server(base, catalog, admin, member)


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def fields(stdout: str) -> dict[str, str]:
    return dict(line.split(maxsplit=1) for line in stdout.strip().splitlines())


def create_s3(server: Server, *extra: str) -> str:
    body = server.json(
        "sources", "create", "--database", DB, "--s3-bucket", "docs", "--collection", "kb-s3",
        *extra,
    )  # fmt: skip
    return str(uuid.UUID(body["source_id"]))


def test_sources_create_list_get_delete(server: Server) -> None:
    s3_id = create_s3(
        server, "--prefix", "docs/", "--auto-sync", "direct", "--chunking", "lines:40:2000"
    )
    created = server.run(
        "sources", "create", "--database", DB, "--web", "https://example.com/docs/",
        "--max-depth", "2", "--page-limit", "10", "--include", "^/docs/", "--exclude", r"\.pdf$",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("source ") and created.stdout.strip().endswith(" created")
    web_id = created.stdout.split()[1]

    listed = server.json("sources", "list")
    assert {s["id"] for s in listed} == {s3_id, web_id}
    only_web = server.json("sources", "list", "--type", "web_scrape")
    assert [s["id"] for s in only_web] == [web_id]

    s3 = server.json("sources", "get", s3_id)
    assert s3["database_name"] == DB
    assert s3["s3"]["bucket_name"] == "docs"
    assert s3["s3"]["collection_name"] == "kb-s3"
    assert s3["s3"]["path_prefix"] == "docs/"
    assert s3["s3"]["auto_sync"] == "direct"
    assert s3["chunking"] == {"type": "lines", "max_lines": 40, "max_size_bytes": 2000}
    web = server.json("sources", "get", web_id)["web_scrape"]
    assert web["starting_url"] == "https://example.com/docs/"
    assert (web["max_depth"], web["page_limit"]) == (2, 10)
    assert web["include_path_regexes"] == ["^/docs/"]
    assert web["exclude_path_regexes"] == [r"\.pdf$"]

    table = server.run("sources", "list")
    assert table.exit_code == 0
    header, *rows = table.stdout.strip().splitlines()
    assert header.split() == ["ID", "TYPE", "READS", "COLLECTION", "CREATED"]
    assert {row.split()[0]: row.split()[1:4] for row in rows} == {
        s3_id: ["s3", "s3://docs/docs/", "kb-s3"],
        web_id: ["web_scrape", "https://example.com/docs/", "-"],
    }
    shown = fields(server.run("sources", "get", web_id).stdout)
    assert (shown["id"], shown["type"], shown["database"]) == (web_id, "web_scrape", DB)
    assert shown["reads"] == "https://example.com/docs/"
    assert shown["embedding"] == "all-MiniLM-L6-v2"

    deleted = server.run("sources", "delete", s3_id)
    assert deleted.exit_code == 0
    assert deleted.stdout.strip() == f"source {s3_id} deleted"
    gone = one_error_line(server.run("sources", "get", s3_id))
    assert gone == f"error: source {s3_id} not found (HTTP 404)"
    assert [s["id"] for s in server.json("sources", "list")] == [web_id]


def test_sources_create_from_raw_body(server: Server, tmp_path: Any) -> None:
    body = {"database_name": DB, "github": {"repository": "acme/handbook"}}
    path = tmp_path / "source.json"
    path.write_text(json.dumps(body))
    source_id = server.json("sources", "create", "--body", str(path))["source_id"]
    assert server.json("sources", "get", source_id)["github"]["repository"] == "acme/handbook"
    from_stdin = runner.invoke(
        app,
        ["sources", "create", "--database", DB, "--body", "-", "--json"],
        input=json.dumps({"web_scrape": {"starting_url": "https://example.org/"}}),
        env={"CHROMA_SYNC_URL": server.url, "CHROMA_SYNC_TOKEN": server.admin},
    )
    assert from_stdin.exit_code == 0, from_stdin.output
    web_id = json.loads(from_stdin.stdout)["source_id"]
    assert server.json("sources", "get", web_id)["database_name"] == DB


def test_invoke_get_list_cancel(server: Server) -> None:
    source_id = create_s3(server, "--prefix", "docs/")
    body = server.json(
        "invoke", source_id, "--object-key", "docs/a.md", "--metadata", '{"team": "kb"}',
        "--custom-id", "doc-a",
    )  # fmt: skip
    invocation_id = body["invocation_id"]

    job = server.json("invocations", "get", invocation_id)
    assert job["id"] == invocation_id
    assert job["status"] == "pending"
    assert job["source_id"] == source_id
    assert job["metadata"]["collection_name"] == "kb-s3"
    assert job["metadata"]["s3"]["object_key"] == "docs/a.md"
    assert job["metadata"]["s3"]["custom_id"] == "doc-a"
    assert job["metadata"]["s3"]["additional_metadata"] == {"team": "kb"}

    second = server.run("invoke", source_id, "--object-key", "docs/b.md")
    assert second.exit_code == 0
    second_id = second.stdout.split()[1]
    assert second.stdout.strip() == f"invocation {second_id} pending"

    pending = server.json("invocations", "list", "--source", source_id, "--status", "pending")
    assert {j["id"] for j in pending} == {invocation_id, second_id}
    assert [j["id"] for j in server.json("invocations", "list", "--limit", "1")] == [second_id]
    table = server.run("invocations", "list")
    rows = {line.split()[0]: line.split()[1:] for line in table.stdout.splitlines()[1:]}
    assert rows[invocation_id][:4] == ["pending", "-", "kb-s3", "docs/a.md"]
    assert max(len(line) for line in table.stdout.splitlines()) <= 100

    cancelled = server.run("invocations", "cancel", invocation_id)
    assert cancelled.exit_code == 0
    assert cancelled.stdout.strip() == f"invocation {invocation_id} cancelled"
    assert server.json("invocations", "get", invocation_id)["status"] == "cancelled"
    again = one_error_line(server.run("invocations", "cancel", invocation_id))
    assert again == f"error: invocation {invocation_id} is cancelled, not pending (HTTP 412)"
    assert [j["id"] for j in server.json("invocations", "list", "--status", "cancelled")] == [
        invocation_id
    ]

    clash = one_error_line(server.run("invoke", source_id, "--object-key", "docs/b.md"))
    assert clash.startswith("error: invocation exists") and clash.endswith("(HTTP 409)")
    outside = one_error_line(server.run("invoke", source_id, "--object-key", "other/c.md"))
    assert outside.startswith("error: --object-key: ") and outside.endswith("(HTTP 400)")


def test_watch_exit_codes(server: Server) -> None:
    source_id = create_s3(server)
    done_id = server.json("invoke", source_id, "--object-key", "a.md")["invocation_id"]

    def finish() -> None:
        time.sleep(0.6)
        server.catalog.mark_processing(uuid.UUID(done_id), "run-1")
        time.sleep(0.6)
        server.catalog.mark_complete(uuid.UUID(done_id))

    worker = threading.Thread(target=finish)
    worker.start()
    watched = server.run("invocations", "watch", done_id, "--interval", "0.1")
    worker.join()
    assert watched.exit_code == 0, watched.output
    assert watched.stdout.startswith(f"invocation {done_id} complete in ")
    states = [line.split()[1] for line in watched.stderr.strip().splitlines()]
    assert states == ["pending", "processing", "complete"]
    assert all(line.startswith(done_id[:8]) for line in watched.stderr.strip().splitlines())

    failed_id = server.json("invoke", source_id, "--object-key", "b.md")["invocation_id"]
    server.catalog.mark_failed(uuid.UUID(failed_id), "object b.md: NoSuchKey")
    failed = server.run("invocations", "watch", failed_id, "--json")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["status"] == {"failed": {"error": "object b.md: NoSuchKey"}}

    cancel_id = server.json("invoke", source_id, "--object-key", "c.md")["invocation_id"]
    assert server.run("invocations", "cancel", cancel_id).exit_code == 0
    cancelled = server.run("invocations", "watch", cancel_id)
    assert cancelled.exit_code == 1
    assert cancelled.stdout.strip() == f"invocation {cancel_id} cancelled"


def test_invoke_wait(server: Server) -> None:
    source_id = create_s3(server)
    seen: list[str] = []

    def complete_when_pending() -> None:
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            for record in server.catalog.pending_records():
                seen.append(str(record.job.id))
                server.catalog.mark_complete(record.job.id)
            time.sleep(0.05)

    worker = threading.Thread(target=complete_when_pending)
    worker.start()
    waited = server.run("invoke", source_id, "--object-key", "d.md", "--wait", "--json")
    worker.join()
    assert waited.exit_code == 0, waited.output
    assert len(seen) == 1
    assert waited.stderr.splitlines()[0] == f"invocation {seen[0]} pending"
    final = json.loads(waited.stdout)
    assert final["id"] == seen[0]
    assert set(final["status"]) == {"complete"}


def test_error_lines(server: Server) -> None:
    unknown = str(uuid.uuid4())
    assert one_error_line(server.run("invocations", "get", unknown)) == (
        f"error: invocation {unknown} not found (HTTP 404)"
    )
    bad_uuid = one_error_line(server.run("sources", "get", "not-a-uuid"))
    assert "source_id" in bad_uuid and bad_uuid.endswith("(HTTP 400)")
    unauthenticated = one_error_line(server.run("sources", "list", token="wrong-token"))
    assert unauthenticated.endswith("(HTTP 401)")
    web_args = ["--database", DB, "--web", "https://example.com/"]
    forbidden = one_error_line(server.run("sources", "create", *web_args, token=server.member))
    assert forbidden.endswith("(HTTP 403)")
    other_db = one_error_line(
        server.run("sources", "create", "--database", "db2", "--web", "https://example.com/")
    )
    assert other_db.endswith("(HTTP 403)")

    with_down = server.run("sources", "list", url="http://127.0.0.1:9")
    assert one_error_line(with_down).startswith("error: cannot connect to http://127.0.0.1:9: ")

    no_token = runner.invoke(app, ["sources", "list"], env={"CHROMA_SYNC_URL": server.url})
    assert one_error_line(no_token) == (
        "error: no API token: set CHROMA_SYNC_TOKEN or pass --token"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sources", "create", "--database", DB], "give exactly one of --github"),
        (
            ["sources", "create", "--database", DB, "--github", "a/b", "--web", "https://x.org/"],
            "give exactly one of --github, --s3-bucket, --web or --body (got --github, --web)",
        ),
        (["sources", "create", "--database", DB, "--s3-bucket", "b"], "--collection is required"),
        (
            ["sources", "create", "--database", DB, "--web", "https://x.org/", "--prefix", "p"],
            "--prefix applies to --s3-bucket sources only",
        ),
        (
            ["sources", "create", "--database", DB, "--web", "https://x.org/", "--chunking", "x"],
            "--chunking 'x': use tree_sitter[:MAX_BYTES]",
        ),
        (["invoke", str(uuid.uuid4()), "--branch", "main", "--sha", "abc"], "mutually exclusive"),
        (["invoke", str(uuid.uuid4()), "--metadata", "[1]"], "--metadata: expected a JSON object"),
        (["sources", "create", "--body", "/nonexistent/body.json"], "--body /nonexistent/"),
    ],
)
def test_flag_errors_are_one_line(server: Server, args: list[str], message: str) -> None:
    line = one_error_line(server.run(*args))
    assert message in line
    assert server.json("sources", "list") == []
