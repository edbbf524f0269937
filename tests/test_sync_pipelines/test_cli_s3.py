"""``chroma-sync s3 ...`` against a real SeaweedFS, and ``chroma-sync credentials``.

Contract: with a live ``serve.json`` naming an S3 endpoint in the home, the commands use it
with the development keys and need no option; otherwise ``--endpoint-url`` and keys (or
``CHROMA_SYNC_S3_ENDPOINT_URL`` and the ``AWS_*`` environment). A missing bucket, an endpoint
that refuses connections, wrong keys and a missing file are each one ``error:`` line, exit 1,
no traceback.
"""

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from sync_pipelines.catalog import Catalog
from sync_pipelines.cli import app
from sync_pipelines.client.s3_commands import upload_plan
from sync_pipelines.client.s3_target import S3CommandError, resolve_target, serve_banner
from sync_pipelines.devtools.local_s3 import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, LocalS3Server
from sync_pipelines.devtools.ports import free_port
from sync_pipelines.serve_record import ServeRecord, write_record
from sync_pipelines.settings import Settings

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    result = runner.invoke(app, list(args), env=env)
    assert "Traceback" not in result.output, result.output
    return result


def error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def served(chroma_sync_home: Path, s3_server: LocalS3Server) -> LocalS3Server:
    """A live serve.json in the test's home naming the session's S3 (this process's pid)."""
    chroma_sync_home.mkdir(parents=True, exist_ok=True)
    record = ServeRecord.now(
        "http://127.0.0.1:1", "http://127.0.0.1:2", None, s3_server.endpoint_url
    )
    write_record(chroma_sync_home, record)
    return s3_server


def test_mb_put_ls_rm_through_the_homes_serve(served: LocalS3Server, tmp_path: Path) -> None:
    bucket = f"docs-{uuid.uuid4().hex[:8]}"
    (tmp_path / "a.md").write_text("# A\n")
    folder = tmp_path / "guide"
    (folder / "deep").mkdir(parents=True)
    (folder / "b.md").write_text("# B\n")
    (folder / "deep" / "c.md").write_text("# C\n")

    assert run("s3", "mb", bucket).stdout == f"bucket {bucket} created\n"
    put = run("s3", "put", str(tmp_path / "a.md"), str(folder), f"s3://{bucket}/guides/")
    assert put.exit_code == 0, put.output
    assert f"-> s3://{bucket}/guides/a.md (4 bytes)" in put.stdout
    listed = run("s3", "ls", f"s3://{bucket}/guides/", "--json")
    keys = [row["key"] for row in json.loads(listed.stdout)]
    assert keys == ["guides/a.md", "guides/b.md", "guides/deep/c.md"]
    assert bucket in run("s3", "ls").stdout
    table = run("s3", "ls", bucket).stdout.splitlines()
    assert table[0].split() == ["KEY", "SIZE", "MODIFIED"] and len(table) == 4

    assert run("s3", "rm", f"{bucket}/guides/a.md").stdout == f"deleted s3://{bucket}/guides/a.md\n"
    gone = run("s3", "rm", f"s3://{bucket}/guides/a.md")
    assert "no such object" in error_line(gone)
    assert run("s3", "rm", "--recursive", f"s3://{bucket}/guides/deep/").exit_code == 0
    assert [o["Key"] for o in served.client().list_objects_v2(Bucket=bucket)["Contents"]] == [
        "guides/b.md"
    ]


def test_errors_are_one_line(served: LocalS3Server, tmp_path: Path) -> None:
    missing = f"nope-{uuid.uuid4().hex[:8]}"
    (tmp_path / "a.md").write_text("x")
    for args in (("ls", missing), ("put", str(tmp_path / "a.md"), f"s3://{missing}/")):
        line = error_line(run("s3", *args))
        assert f"bucket {missing!r} does not exist" in line
        assert f"chroma-sync s3 mb {missing}" in line
    absent = error_line(run("s3", "put", str(tmp_path / "absent.md"), f"s3://{missing}/"))
    assert absent == f"error: {tmp_path / 'absent.md'}: no such file or folder"
    usage = error_line(run("s3", "put", str(tmp_path / "a.md"), missing))
    assert "s3://BUCKET[/PREFIX]" in usage
    bucket = f"dup-{uuid.uuid4().hex[:8]}"
    run("s3", "mb", bucket)
    assert "already exists" in error_line(run("s3", "mb", bucket))
    wrong = run("s3", "ls", "--access-key", "nobody", "--secret-key", "wrong")
    assert "refused the keys" in error_line(wrong)


def test_connection_refused_names_the_endpoint(chroma_sync_home: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    line = error_line(
        run("s3", "ls", "--endpoint-url", endpoint, "--access-key", "a", "--secret-key", "b")
    )
    assert f"cannot reach S3 at {endpoint} (from --endpoint-url)" in line


def test_endpoint_and_keys_fall_back_to_settings_and_environment(
    chroma_sync_home: Path, s3_server: LocalS3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHROMA_SYNC_S3_ENDPOINT_URL", s3_server.endpoint_url)
    keys = {"AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY}
    bucket = f"env-{uuid.uuid4().hex[:8]}"
    made = run(
        "s3", "mb", bucket, env={"CHROMA_SYNC_S3_ENDPOINT_URL": s3_server.endpoint_url, **keys}
    )
    assert made.exit_code == 0, made.output
    target = resolve_target(Settings())
    assert (target.endpoint_url, target.access_key) == (s3_server.endpoint_url, None)
    assert target.origin == "CHROMA_SYNC_S3_ENDPOINT_URL"


def test_a_stale_serve_json_is_ignored(chroma_sync_home: Path, tmp_path: Path) -> None:
    chroma_sync_home.mkdir(parents=True)
    dead = ServeRecord("http://a", "http://b", 2**22 + 7, 0.0, None, "http://127.0.0.1:9")
    write_record(chroma_sync_home, dead)
    target = resolve_target(Settings(s3_endpoint_url=None))
    assert target.endpoint_url is None and target.access_key is None
    assert target.origin.startswith("AWS")


def test_explicit_serve_endpoint_keeps_the_development_keys(served: LocalS3Server) -> None:
    target = resolve_target(Settings(), endpoint_url=served.endpoint_url)
    assert (target.access_key, target.secret_key) == (LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY)
    other = resolve_target(Settings(), endpoint_url="http://127.0.0.1:1")
    assert other.access_key is None


def test_env_prints_exports(served: LocalS3Server) -> None:
    out = run("s3", "env").stdout
    assert f"export AWS_ENDPOINT_URL={served.endpoint_url}\n" in out
    assert f"export AWS_SECRET_ACCESS_KEY={LOCAL_SECRET_KEY}\n" in out


def test_upload_plan(tmp_path: Path) -> None:
    one = tmp_path / "one.md"
    one.write_text("1")
    assert upload_plan([one], "notes/renamed.md") == [(one, "notes/renamed.md")]
    assert upload_plan([one], "") == [(one, "one.md")]
    assert upload_plan([one, one], "p") == [(one, "p/one.md"), (one, "p/one.md")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(S3CommandError, match="no files"):
        upload_plan([tmp_path / "empty"], "")


def test_serve_banner_prints_both_keys_and_a_first_command(tmp_path: Path) -> None:
    lines = "\n".join(serve_banner("http://127.0.0.1:8333", "ak", "sk", tmp_path))
    assert "access key ak, secret key sk" in lines
    assert f"create a bucket with: chroma-sync s3 mb docs --home {tmp_path}" in lines
    default = serve_banner("http://x", "ak", "sk", Path("~/.chroma-sync").expanduser())
    assert default[-1].endswith("chroma-sync s3 mb docs")


def test_credentials_create_and_list(chroma_sync_home: Path) -> None:
    created = run(
        "credentials", "create", "--database", "docs", "--access-key-id", "AKIA1",
        env={"AWS_SECRET_ACCESS_KEY": "very-secret"},
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "credential 1 for database 'docs' (access key AKIA1)" in created.stdout
    listed: Any = json.loads(run("credentials", "list", "--json").stdout)
    assert [(c["id"], c["access_key_id"]) for c in listed] == [(1, "AKIA1")]
    assert "very-secret" not in run("credentials", "list").output
    catalog = Catalog()
    try:
        secret = catalog.get_aws_secret(1)
    finally:
        catalog.close()
    assert secret is not None and secret.secret_access_key == "very-secret"
    bad = run("credentials", "create", "--database", "ab", "--access-key-id", "a",
              env={"AWS_SECRET_ACCESS_KEY": "s"})  # fmt: skip
    assert "--database" in error_line(bad)


def test_home_option_picks_the_serve(s3_server: LocalS3Server, tmp_path: Path) -> None:
    other = tmp_path / "other-home"
    other.mkdir()
    record = ServeRecord.now(
        "http://127.0.0.1:1", "http://127.0.0.1:2", None, s3_server.endpoint_url
    )
    write_record(other, record)
    bucket = f"home-{uuid.uuid4().hex[:8]}"
    assert run("s3", "mb", bucket, "--home", str(other)).exit_code == 0
    assert bucket in run("--home", str(other), "s3", "ls").stdout
    env = run("s3", "env").stdout
    assert s3_server.endpoint_url not in env  # the test's own home has no serve


@pytest.mark.parametrize(
    "command",
    [["s3"], ["s3", "mb"], ["s3", "put"], ["s3", "ls"], ["s3", "rm"], ["s3", "env"],
     ["credentials"], ["credentials", "create"], ["credentials", "list"]],
)  # fmt: skip
def test_every_help_renders(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
