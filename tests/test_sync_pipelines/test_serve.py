"""``chroma-sync serve`` as a real subprocess: healthy stack, wiring, clean stop, busy ports.

Contract: serve prints the API, Dagster UI and S3 URLs once the API's ``/health`` is 200 (which
needs the daemon's heartbeat, asked of the webserver) and the webserver has the code location
loaded; the API process is told the webserver
URL and the S3 endpoint; SIGTERM stops it with exit code 0 and no process it started (children
and grandchildren) survives; a port already taken fails at once with one line naming it. A new
home is named on stderr; ``<home>/serve.json`` names the URLs while serve runs (client commands
given the home find the API in it) and is gone after a clean stop.
"""

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from dagster import DagsterInstance
from typer.testing import CliRunner

from api_bridge.routers.health import dagster_webserver_probe
from sync_pipelines import serve as serve_module
from sync_pipelines.chroma_store import read_owner
from sync_pipelines.cli import app
from sync_pipelines.devtools.dagster_stack import sqlite_storage_ready, write_instance_config
from sync_pipelines.devtools.ports import free_port_block
from sync_pipelines.devtools.proctree import descendants, is_alive, pss_bytes, rss_bytes
from sync_pipelines.serve import ServeOptions, Services
from sync_pipelines.serve_support import code_location_loaded, private_ui_note

CHROMA_SYNC = str(Path(sys.executable).parent / "chroma-sync")
READY_TIMEOUT_S = 180


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CHROMA_SYNC_DAGSTER_URL"):
        env.pop(name, None)
    return env


def read_lines(stream: "subprocess.IO[str]", into: "queue.Queue[str]") -> None:
    for line in stream:
        into.put(line.rstrip("\n"))


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_serve_runs_the_stack_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "serve-home"
    api_port, dagster_port, s3_port, chroma_port = free_port_block(4)
    args = [CHROMA_SYNC, "serve", "--home", str(home), "--with-s3", "--s3-port", str(s3_port)]
    args += ["--api-port", str(api_port), "--dagster-port", str(dagster_port)]
    args += ["--chroma-port", str(chroma_port)]
    args += ["--ready-timeout", str(READY_TIMEOUT_S)]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True).start()
    printed: list[str] = []
    children: set[int] = set()
    commands: dict[int, str] = {}
    try:
        while not printed or printed[-1] != "Press Ctrl-C to stop.":
            printed.append(lines.get(timeout=READY_TIMEOUT_S + 10))
        found = re.findall(
            r"^  (API|Dagster UI|S3|Chroma)\s+(http://\S+)", "\n".join(printed), re.M
        )
        urls = dict(found)
        assert urls == {
            "API": f"http://127.0.0.1:{api_port}",
            "Dagster UI": f"http://127.0.0.1:{dagster_port}",
            "S3": f"http://127.0.0.1:{s3_port}",
            "Chroma": f"http://127.0.0.1:{chroma_port}",
        }
        assert requests.get(f"{urls['Chroma']}/api/v2/heartbeat", timeout=10).status_code == 200
        assert printed[0].startswith("chroma-sync is up in ") and str(home) in printed[0]

        health = requests.get(f"{urls['API']}/health", timeout=10)
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "catalog": "ok", "orchestrator": "ok"}
        assert requests.get(f"{urls['Dagster UI']}/server_info", timeout=10).status_code == 200
        assert code_location_loaded(urls["Dagster UI"]) is True
        assert dagster_webserver_probe(urls["Dagster UI"], max_age_s=120)() is True
        assert dagster_webserver_probe(urls["Dagster UI"], max_age_s=1e-9)() is False
        assert requests.get(urls["S3"], timeout=10).status_code in (200, 403)
        assert (home / "catalog.db").is_file()
        assert (home / "dagster" / "dagster.yaml").is_file()
        check_serve_json(home, proc.pid, urls)

        children = descendants(proc.pid)
        commands = {pid: cmdline(pid) for pid in children}
        api_pids = [pid for pid, cmd in commands.items() if "sync_pipelines.cli api" in cmd]
        assert len(api_pids) == 1
        api_env = environ(api_pids[0])
        assert api_env["CHROMA_SYNC_DAGSTER_URL"] == urls["Dagster UI"]
        assert api_env["CHROMA_SYNC_S3_ENDPOINT_URL"] == urls["S3"]
        assert api_env["CHROMA_SYNC_HOME"] == str(home)
        assert api_env["DAGSTER_HOME"] == str(home / "dagster")
        # Runs, sensors and the API reach the home's store only through its Chroma server.
        assert api_env["CHROMA_SYNC_CHROMA_MODE"] == "http"
        assert api_env["CHROMA_SYNC_CHROMA_PORT"] == str(chroma_port)
        owner = read_owner(home / "chroma")
        assert owner is not None and owner.port == chroma_port
        assert "chroma run --path" in commands[owner.pid]
        parts = ("dagster-daemon run", "dagster-webserver", "dagster api grpc", "weed mini")
        for part in (*parts, "chroma run"):
            assert sum(part in cmd for cmd in commands.values()) == 1, (part, commands)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    assert code == 0, proc.stderr.read() if proc.stderr else ""
    assert proc.stderr is not None
    stderr = proc.stderr.read().strip().splitlines()
    assert stderr[-1] == "stopped"
    assert f"chroma-sync: created home {home} (set --home or CHROMA_SYNC_HOME to use another)" in (
        stderr
    )
    assert not (home / "serve.json").exists()
    survivors = {pid: commands[pid] for pid in children if is_alive(pid)}
    assert survivors == {}


def check_serve_json(home: Path, pid: int, urls: dict[str, str]) -> None:
    """serve.json names serve and its URLs; other commands given the home find the API in it."""
    record = json.loads((home / "serve.json").read_text())
    assert record["pid"] == pid
    assert (record["api_url"], record["ui_url"]) == (urls["API"], urls["Dagster UI"])
    assert (record["s3_endpoint"], record["chroma_url"]) == (urls["S3"], urls["Chroma"])
    runner = CliRunner()
    no_url = {"CHROMA_SYNC_URL": None, "CHROMA_SYNC_HOME": None}
    created = runner.invoke(
        app, ["token", "create", "--database", "docs", "--home", str(home), "--json"], env=no_url
    )
    assert created.exit_code == 0, created.output
    secret = json.loads(created.stdout)["secret"]
    listed = runner.invoke(
        app, ["sources", "list", "--json", "--home", str(home)],
        env={**no_url, "CHROMA_SYNC_TOKEN": secret},
    )  # fmt: skip
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []


def test_serve_fails_fast_when_a_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = [CHROMA_SYNC, "serve", "--home", str(tmp_path / "h")]
        args += ["--api-port", str(free_port_block(1)[0]), "--dagster-port", str(port)]
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=60,
            env=child_env(),
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"error: port {port} (--dagster-port) is already in use on 127.0.0.1: "
        "Address already in use"
    )
    assert not (tmp_path / "h").exists()


def test_a_public_api_leaves_the_dagster_ui_on_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve --host 0.0.0.0``: the API child binds 0.0.0.0, the webserver child 127.0.0.1."""
    spawned: list[tuple[list[str], dict[str, str]]] = []

    class FakePopen:
        pid = 0

        def __init__(self, args: list[str], *, env: dict[str, str], **_: object) -> None:
            spawned.append(([str(a) for a in args], env))

        def poll(self) -> None:
            return None

    started: list[Services] = []

    def start_only(options: ServeOptions, echo: object, err: object) -> int:
        services = Services(options)
        started.append(services)
        services.start()
        services.supervisor.children.clear()
        return 0

    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    monkeypatch.setattr(serve_module, "serve", start_only)
    args = ["serve", "--home", str(tmp_path / "h"), "--host", "0.0.0.0"]
    args += ["--api-port", "18080", "--dagster-port", "13000", "--chroma-port", "18000"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    api = next(argv for argv, _ in spawned if argv[1:4] == ["-m", "sync_pipelines.cli", "api"])
    web = next(argv for argv, _ in spawned if Path(argv[0]).name == "dagster-webserver")
    assert api[api.index("--host") + 1 :][:3] == ["0.0.0.0", "--port", "18080"]
    assert web[web.index("-h") + 1 :][:3] == ["127.0.0.1", "-p", "13000"]
    api_env = next(env for argv, env in spawned if argv is api)
    assert api_env["CHROMA_SYNC_DAGSTER_URL"] == "http://127.0.0.1:13000"

    services = started[0]
    banner: list[str] = []
    serve_module._banner(services, 1.0, banner.append)
    assert "  API         http://127.0.0.1:18080 (listening on 0.0.0.0)" in banner
    assert "  Dagster UI  http://127.0.0.1:13000" in banner
    note = private_ui_note(services.options)
    assert note is not None and "no authentication" in note
    exposed = ServeOptions(home=tmp_path, host="0.0.0.0", ui_host="0.0.0.0")
    assert private_ui_note(exposed) is None
    assert private_ui_note(ServeOptions(home=tmp_path)) is None


def test_sqlite_storage_is_ready_once_dagster_created_and_stamped_it(tmp_path: Path) -> None:
    dagster_home = write_instance_config(tmp_path / "dagster")
    storage = dagster_home / "storage"
    assert sqlite_storage_ready(storage) is False
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert list(instance.get_runs()) == []
    assert sqlite_storage_ready(storage) is True
    schedules = storage / "schedules" / "schedules.db"
    schedules.write_bytes(b"")
    assert sqlite_storage_ready(storage) is False
    schedules.unlink()
    assert sqlite_storage_ready(storage) is False


def test_pss_splits_pages_shared_with_a_forked_child() -> None:
    """PSS (what bench/serve.py sums) counts shared pages once across processes; RSS does not."""
    ballast = bytearray(64 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])
    pid = os.fork()
    if pid == 0:  # the child only holds the copy-on-write pages
        signal.pause()
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while pss_bytes(pid) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        parent, child = os.getpid(), pid
        assert rss_bytes(child) > 60 * 1024 * 1024
        assert pss_bytes(parent) < rss_bytes(parent)
        assert pss_bytes(child) < rss_bytes(child) - 25 * 1024 * 1024
        assert pss_bytes(-1) == 0
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    del ballast
