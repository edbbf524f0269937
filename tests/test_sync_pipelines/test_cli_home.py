"""One home for every command: ``--home``, the new-home notice, finding the server in serve.json.

Contract: every command takes ``--home`` (after it, or before it on the root) and works on that
home only, as with ``CHROMA_SYNC_HOME``; a command that creates a home says so once on stderr;
commands that only read refuse a missing home instead of creating one; client commands find
the API in ``<home>/serve.json`` unless ``--url`` / ``CHROMA_SYNC_URL`` names it, and ignore a
file whose serve is gone; token commands print JSON with ``--json`` (the secret only on create).
"""

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner, Result

from api_bridge.app import create_app
from sync_pipelines import serve as serve_module
from sync_pipelines.cli import app
from sync_pipelines.client.home import HOME_CREATED, accept_home, server_url
from sync_pipelines.serve_record import ServeRecord, live_record, read_record, write_record
from sync_pipelines.serve_support import ServeOptions
from sync_pipelines.settings import Settings
from tests.test_api_bridge.conftest import live_server

runner = CliRunner()
NO_URL: dict[str, str | None] = {"CHROMA_SYNC_URL": None, "CHROMA_SYNC_TOKEN": None}


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    result = runner.invoke(app, list(args), env={**NO_URL, **(env or {})})
    assert "Traceback" not in result.output, result.output
    return result


def leaf_commands(group: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every command under a (typer's own click) group, by its path of names."""
    found: dict[tuple[str, ...], Any] = {}
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found |= leaf_commands(command, (*path, name))
        else:
            found[(*path, name)] = command
    return found


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_every_command_lists_home_in_its_help() -> None:
    root = get_command(app)
    assert any("--home" in param.opts for param in root.params)
    commands = leaf_commands(root)
    expected = {("token", "list"), ("token", "create"), ("token", "revoke"), ("query",)}
    expected |= {("invocations", "watch"), ("sources", "list"), ("invoke",), ("serve",)}
    expected |= {("model", "install"), ("secrets", "rotate-key"), ("s3-server",), ("api",)}
    assert expected <= set(commands)
    for path, command in commands.items():
        assert any("--home" in param.opts for param in command.params), path
        shown = run(*path, "--help")
        assert shown.exit_code == 0, (path, shown.output)
        assert "--home" in shown.stdout, path
    assert "emptied" in run("demo", "--help").stdout  # demo keeps its own --home


def test_tokens_live_in_the_home_given(tmp_path: Path, chroma_sync_home: Path) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    created = run(
        "token", "create", "--database", "docs", "--admin", "--home", str(home_a), "--json"
    )
    assert created.exit_code == 0, created.output
    token = json.loads(created.stdout)
    assert token["database_name"] == "docs" and token["role"] == "admin" and token["active"]
    assert token["secret"].startswith("chsync_")
    assert created.stderr.splitlines() == [HOME_CREATED.format(home=home_a.resolve())]
    assert not chroma_sync_home.exists()
    assert os.environ["CHROMA_SYNC_HOME"] == str(chroma_sync_home)  # restored afterwards

    for args in (
        ["token", "list", "--home", str(home_a)],
        ["--home", str(home_a), "token", "list"],
    ):
        listed = run(*args, "--json")
        assert listed.exit_code == 0, listed.output
        assert [t["id"] for t in json.loads(listed.stdout)] == [token["id"]]
        assert token["secret"] not in listed.output and "secret" not in listed.stdout
    from_env = run("token", "list", "--json", env={"CHROMA_SYNC_HOME": str(home_a)})
    assert [t["id"] for t in json.loads(from_env.stdout)] == [token["id"]]

    other = run("token", "list", "--home", str(home_b))
    assert other.exit_code == 1
    assert other.stdout == ""
    assert other.stderr.strip() == (
        f"error: no chroma-sync home at {home_b}: pass --home or set CHROMA_SYNC_HOME to the "
        "home the server uses"
    )
    assert run("token", "revoke", "1", "--home", str(home_b)).exit_code == 1
    assert run("secrets", "rotate-key", "--home", str(home_b)).exit_code == 1
    assert not home_b.exists()

    revoked = run("token", "revoke", str(token["id"]), "--home", str(home_a), "--json")
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.stdout) == {"id": token["id"], "revoked": True}
    [after] = json.loads(run("token", "list", "--home", str(home_a), "--json").stdout)
    assert not after["active"] and after["revoked_at"]


def test_revoke_help_says_what_the_readme_says() -> None:
    shown = " ".join(run("token", "revoke", "--help").stdout.split())
    assert "may work for up to 2 s more" in shown
    readme = " ".join((Path(__file__).parents[2] / "README.md").read_text().split())
    assert "so a revoked token may work for up to 2 s more" in readme


def test_the_first_command_creating_state_names_the_home(chroma_sync_home: Path) -> None:
    assert not chroma_sync_home.exists()
    first = run("token", "create", "--database", "docs")
    assert first.exit_code == 0, first.output
    notice = HOME_CREATED.format(home=chroma_sync_home)
    assert notice.startswith(f"chroma-sync: created home {chroma_sync_home} (set --home")
    assert first.stderr.splitlines()[0] == notice
    again = run("token", "create", "--database", "docs")
    assert notice not in again.stderr


def test_any_command_that_creates_the_home_says_so(tmp_path: Path) -> None:
    """The notice does not rely on each command: accept_home wraps them all."""
    tool = typer.Typer()
    sub = typer.Typer()
    tool.add_typer(sub, name="sub")

    @sub.command("write")
    def write() -> None:
        (Settings().home_dir / "state").mkdir(parents=True)

    @sub.command("read")
    def read() -> None:
        typer.echo(Settings().home_dir)

    accept_home(tool)
    home = tmp_path / "made"
    wrote = runner.invoke(tool, ["sub", "write", "--home", str(home)])
    assert wrote.exit_code == 0, wrote.output
    assert wrote.stderr.splitlines() == [HOME_CREATED.format(home=home)]
    read_home = runner.invoke(tool, ["sub", "read", "--home", str(tmp_path / "other")])
    assert read_home.stdout.strip() == str(tmp_path / "other")
    assert read_home.stderr == ""


def test_query_refuses_a_home_without_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run("query", "kb", "anything", "--database", "docs", "--home", str(missing))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: no chroma-sync home at {missing}: pass --home")
    assert not missing.exists()


def record(home: Path, api_url: str, pid: int | None = None) -> ServeRecord:
    entry = ServeRecord(api_url, "http://127.0.0.1:3", pid or os.getpid(), time.time())
    write_record(home, entry)
    return entry


def test_server_url_comes_from_the_live_serve_json(tmp_path: Path, chroma_sync_home: Path) -> None:
    chroma_sync_home.mkdir()
    with pytest.raises(typer.Exit):
        server_url(None)
    record(chroma_sync_home, "http://127.0.0.1:8181")
    assert server_url(None) == "http://127.0.0.1:8181"
    assert server_url("http://given:1") == "http://given:1"
    record(chroma_sync_home, "http://127.0.0.1:8181", pid=dead_pid())
    assert read_record(chroma_sync_home) is not None
    assert live_record(chroma_sync_home) is None
    with pytest.raises(typer.Exit):
        server_url(None)


def test_client_commands_find_the_api_of_the_home(tmp_path: Path, chroma_sync_home: Path) -> None:
    api = create_app(Settings(), orchestrator_probe=lambda: True)
    _, admin = api.state.catalog.create_token("docs", admin=True)
    token = {"CHROMA_SYNC_TOKEN": admin}
    with live_server(api) as base:
        record(chroma_sync_home, base)
        listed = run("sources", "list", "--json", env=token)
        assert listed.exit_code == 0, listed.output
        assert json.loads(listed.stdout) == []
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        other = run("sources", "list", "--home", str(elsewhere), env=token)
        assert other.exit_code == 1
        assert other.stderr.startswith(f"error: no chroma-sync serve runs on home {elsewhere} ")
        down = run("sources", "list", "--url", "http://127.0.0.1:9", env=token)
        assert down.stderr.startswith("error: cannot connect to http://127.0.0.1:9: ")
        stale = record(chroma_sync_home, base, pid=dead_pid())
        gone = run("invocations", "list", env=token)
        assert gone.exit_code == 1
        assert f"(pid {stale.pid}) is gone" in gone.stderr


def test_serve_refuses_a_home_another_serve_runs_on(tmp_path: Path) -> None:
    with subprocess.Popen(["sleep", "30"]) as other:
        try:
            record(tmp_path, "http://127.0.0.1:8282", pid=other.pid)
            lines: list[str] = []
            code = serve_module.serve(ServeOptions(home=tmp_path), lines.append, lines.append)
            assert code == 1
            assert lines == [
                f"error: another serve (pid {other.pid}) runs on home {tmp_path}, API "
                "http://127.0.0.1:8282"
            ]
            assert live_record(tmp_path) is not None  # its record stays
        finally:
            other.kill()
