"""Benchmark: ``chroma-sync serve`` start-up time and memory of the whole process tree.

Starts ``chroma-sync serve --with-s3`` in a temporary home on free ports and measures:
- time until healthy: until ``serve`` prints its "is up" banner, which it does once the Dagster
  webserver has the code location loaded and API ``/health`` is 200 (catalog and a recent
  sensor daemon heartbeat); with when each part first answered;
- resident memory of serve and all its descendants, from /proc, once idle, at the peak while
  one small S3 invocation runs, and after it: summed RSS (shared pages counted once per
  process, an upper bound) and summed PSS (shared pages split, the RAM the stack occupies),
  each with and without the optional ``--with-s3`` SeaweedFS server;
- the invocation's end-to-end time, the stop time after SIGTERM, and leftover processes.

Targets: healthy < 15 s, resident memory < 1 GB.

    .venv/bin/python bench/serve.py
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from sync_pipelines.devtools.ports import free_port_block

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync_pipelines.devtools.proctree import (  # noqa: E402
    cpu_seconds,
    descendants,
    is_alive,
    pss_bytes,
    rss_bytes,
    started_after_boot,
)

HEALTHY_TARGET_S = 15.0
RSS_TARGET_BYTES = 1024**3
MB = 1024 * 1024
DOC = "# Refunds\n\nRefunds are issued within 14 days of a request to support.\n" * 20


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def watch_banner(proc: "subprocess.Popen[bytes]", started: float, first: dict[str, float]) -> None:
    """Record when ``serve`` prints its banner (it does so once healthy)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if b"chroma-sync is up" in line and "serve banner" not in first:
            first["serve banner"] = time.monotonic() - started


@dataclass(frozen=True)
class Proc:
    cmd: str
    rss: int
    pss: int


@dataclass(frozen=True)
class Memory:
    """Tree totals: RSS counts shared pages once per process, PSS splits them."""

    rss: int
    pss: int
    rss_no_s3: int
    pss_no_s3: int

    def line(self) -> str:
        return (
            f"RSS {self.rss / MB:.0f} MB, PSS {self.pss / MB:.0f} MB; without the optional "
            f"S3 server: RSS {self.rss_no_s3 / MB:.0f} MB, PSS {self.pss_no_s3 / MB:.0f} MB"
        )


def tree(pid: int) -> dict[int, Proc]:
    found = {}
    for p in {pid, *descendants(pid)}:
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found[p] = Proc(cmd[:90], rss_bytes(p), pss_bytes(p))
    return found


def memory(snapshot: dict[int, Proc]) -> Memory:
    core = [p for p in snapshot.values() if "weed mini" not in p.cmd]
    return Memory(
        rss=sum(p.rss for p in snapshot.values()),
        pss=sum(p.pss for p in snapshot.values()),
        rss_no_s3=sum(p.rss for p in core),
        pss_no_s3=sum(p.pss for p in core),
    )


def run_workers(pid: int) -> list[int]:
    """Dagster run processes (multiprocessing spawn children of the code server)."""
    return [p for p, proc in tree(pid).items() if "spawn_main" in proc.cmd]


def show_tree(snapshot: dict[int, Proc], root: int | None = None) -> None:
    """One line per process; with ``root``, when each started, in seconds after ``root``."""
    base = started_after_boot(root) if root else 0.0
    for p, proc in sorted(snapshot.items()):
        start = f"+{started_after_boot(p) - base:4.1f} s  " if root else ""
        print(
            f"    {start}RSS {proc.rss / MB:5.0f} MB  PSS {proc.pss / MB:5.0f} MB  "
            f"{cpu_seconds(p):5.1f} s CPU  {p:>7}  {proc.cmd}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before measuring")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="chroma-sync-bench-serve-"))
    api_port, dagster_port, s3_port = free_port_block(3)
    env = {**os.environ, "CHROMA_SYNC_HOME": str(home)}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DAGSTER_HOME"):
        env.pop(name, None)
    default_models = Path("~/.chroma-sync/models").expanduser()
    if "CHROMA_SYNC_MODEL_DIR" not in env and default_models.is_dir():
        env["CHROMA_SYNC_MODEL_DIR"] = str(default_models)
    cmd = [str(Path(sys.executable).parent / "chroma-sync"), "serve", "--home", str(home)]
    cmd += ["--api-port", str(api_port), "--dagster-port", str(dagster_port)]
    cmd += ["--with-s3", "--s3-port", str(s3_port)]
    api = f"http://127.0.0.1:{api_port}"
    web = f"http://127.0.0.1:{dagster_port}"

    load_at_start = Path("/proc/loadavg").read_text().split()[0]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first: dict[str, float] = {}
    threading.Thread(target=watch_banner, args=(proc, started, first), daemon=True).start()
    cpu = 0.0
    try:
        while "healthy" not in first:
            if proc.poll() is not None:
                raise SystemExit(f"serve exited with {proc.returncode}; see {home}/logs")
            if time.monotonic() - started > 180:
                raise SystemExit("not healthy after 180 s")
            now = time.monotonic() - started
            if "API listens" not in first and listening(api_port):
                first["API listens"] = now
            if "webserver answers" not in first and answers(f"{web}/server_info"):
                first["webserver answers"] = now
            if (
                "API /health 200" not in first
                and "API listens" in first
                and answers(f"{api}/health")
            ):
                first["API /health 200"] = now
            if "serve banner" in first:
                first["healthy"] = first["serve banner"]
                cpu = sum(cpu_seconds(p) for p in {proc.pid, *descendants(proc.pid)})
                print("process tree when healthy (start time after serve's):")
                show_tree(tree(proc.pid), root=proc.pid)
            time.sleep(0.2)
        healthy = first["healthy"]
        print(f"home {home}")
        for name, at in first.items():
            print(f"  {name:<20} {at:6.1f} s")
        print(f"time to healthy: {healthy:.1f} s (target < {HEALTHY_TARGET_S:.0f} s)")
        cores = os.cpu_count() or 1
        print(
            f"CPU time of the tree until healthy: {cpu:.1f} s (at least {cpu / cores:.1f} s of "
            f"wall time on {cores} idle cores); load average at start {load_at_start}"
        )

        time.sleep(args.idle)
        idle_tree = tree(proc.pid)
        idle = memory(idle_tree)
        api_pid = next(p for p, item in idle_tree.items() if "cli api" in item.cmd)
        before, wall = cpu_seconds(api_pid), time.monotonic()
        for _ in range(10):
            requests.get(f"{api}/health", timeout=10)
        cpu_ms = (cpu_seconds(api_pid) - before) * 100
        wall_ms = (time.monotonic() - wall) * 100
        print(f"API /health per call: {cpu_ms:.0f} ms CPU, {wall_ms:.0f} ms wall")
        print(f"memory idle: {idle.line()}")
        show_tree(idle_tree)

        took, peak_tree = run_one_invocation(home, api, s3_port, proc.pid)
        peak = memory(peak_tree)
        done_at = time.monotonic()
        right_after = memory(tree(proc.pid))
        while run_workers(proc.pid) and time.monotonic() - done_at < 60:
            time.sleep(0.2)
        lingered = time.monotonic() - done_at
        after_tree = tree(proc.pid)
        after = memory(after_tree)
        print(f"one S3 invocation (1 object, {len(DOC)} bytes): complete in {took:.1f} s")
        print("process tree at the peak (highest tree RSS sampled every 0.2 s):")
        show_tree(peak_tree)
        print(f"memory at the peak: {peak.line()}")
        print(f"memory at completion: {right_after.line()}")
        print(
            f"run worker exited {lingered:.1f} s after completion"
            if not run_workers(proc.pid)
            else f"run worker still alive {lingered:.0f} s after completion"
        )
        print(f"memory after the run worker exited: {after.line()}")
        show_tree(after_tree)
    finally:
        pids = {proc.pid, *descendants(proc.pid)}
        stop_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        time.sleep(0.5)
        left = sorted(p for p in pids if is_alive(p))
        print(f"SIGTERM -> exit {code} in {time.monotonic() - stop_at:.1f} s; leftovers: {left}")
    print(
        f"healthy < {HEALTHY_TARGET_S:.0f} s: {'met' if healthy < HEALTHY_TARGET_S else 'NOT met'}"
    )
    for name, value in (("idle", idle), ("peak during the run", peak), ("after the run", after)):
        verdicts = [
            f"{label} {'met' if amount < RSS_TARGET_BYTES else 'NOT met'} ({amount / MB:.0f} MB)"
            for label, amount in (
                ("RSS", value.rss),
                ("PSS", value.pss),
                ("RSS without S3", value.rss_no_s3),
                ("PSS without S3", value.pss_no_s3),
            )
        ]
        print(f"{name} < 1 GB: " + "; ".join(verdicts))


def run_one_invocation(
    home: Path, api: str, s3_port: int, pid: int
) -> tuple[float, dict[int, Proc]]:
    os.environ["CHROMA_SYNC_HOME"] = str(home)
    import boto3
    from botocore.config import Config

    from sync_pipelines.catalog import Catalog
    from sync_pipelines.client import SyncClient
    from sync_pipelines.client.http import TERMINAL_STATUSES, status_word

    catalog = Catalog(f"sqlite:///{home / 'catalog.db'}")
    _, token = catalog.create_token("bench", admin=True)
    catalog.close()
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_port}",
        aws_access_key_id="chroma-sync-local",
        aws_secret_access_key="chroma-sync-local-secret",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key="docs/refunds.md", Body=DOC.encode())
    client = SyncClient(api, token)
    body = {
        "database_name": "bench",
        "s3": {"bucket_name": "bench", "region": "us-east-1", "collection_name": "bench-kb"},
    }
    source_id = client.create_source(body)
    started = time.monotonic()
    job_id = client.create_invocation(source_id, {"object_key": "docs/refunds.md"})
    peak, peak_tree = 0, tree(pid)
    while True:
        snapshot = tree(pid)
        total = sum(item.rss for item in snapshot.values())
        if total > peak:
            peak, peak_tree = total, snapshot
        job = client.get_invocation(job_id)
        if status_word(job) in TERMINAL_STATUSES:
            break
        if time.monotonic() - started > 120:
            raise SystemExit("the invocation did not finish in 120 s")
        time.sleep(0.2)
    if status_word(job) != "complete":
        raise SystemExit(f"invocation ended {job['status']}")
    return time.monotonic() - started, peak_tree


if __name__ == "__main__":
    main()
