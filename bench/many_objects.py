"""Benchmark: many small S3 objects end to end, batched runs vs one run per invocation.

Runs the embedded stack for real: SeaweedFS on loopback, a Dagster daemon + webserver on a
temporary instance, the API (uvicorn subprocess), the SQLite catalog and a Chroma server on
the home's store.
Small markdown objects (a few hundred bytes each) are uploaded, then one S3 invocation per
object is created over HTTP by a few client threads, and the clock runs from the first create
to the moment every invocation is ``complete`` (polled in the catalog every 0.25 s). Two phases
run in the same process, each on a fresh Dagster instance and its own source and collection:

- batched: the default ``max_batch_invocations`` (the sensor serves a source's pending S3
  invocations in batch runs; the API launches directly only a lone invocation);
- baseline: ``CHROMA_SYNC_MAX_BATCH_INVOCATIONS=1``, one Dagster run per invocation.

A run start costs seconds, so the baseline is slow: it runs on ``--baseline-objects`` objects
(default 100) and the two are compared by objects/minute. Each phase first syncs one warm-up
object (code server start, first run) outside the clock.

    .venv/bin/python bench/many_objects.py --objects 500 --baseline-objects 100
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from corpus import WORDS
from local import wait_http

from sync_pipelines.devtools.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "bench"
DATABASE = "bench"


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    objects: int
    seconds: float
    create_seconds: float
    failed: int
    runs: int
    chunks: int

    @property
    def per_minute(self) -> float:
        """Objects per minute, end to end."""
        return self.objects / self.seconds * 60

    def line(self) -> str:
        """One line of the report."""
        return (
            f"{self.name:>8}: {self.objects} objects in {self.seconds:.1f} s end to end = "
            f"{self.per_minute:.0f} objects/min  (creates took {self.create_seconds:.1f} s; "
            f"{self.runs} Dagster runs; {self.failed} failed; {self.chunks} chunks in the "
            "collection)"
        )


def small_markdown(rng: random.Random, i: int) -> bytes:
    words = " ".join(rng.choices(WORDS, k=rng.randint(30, 45)))
    return f"# Note {i}\n\n{words.capitalize()}.\n".encode()


def counts(catalog: Any, source_id: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from sync_pipelines.catalog.tables import InvocationRow

    query = (
        select(InvocationRow.status, func.count())
        .where(InvocationRow.source_id == uuid.UUID(source_id))
        .group_by(InvocationRow.status)
    )
    with catalog.engine.connect() as conn:
        return {str(status): int(n) for status, n in conn.execute(query).all()}


def create_all(base: str, token: str, source_id: str, keys: list[str], threads: int) -> None:
    url = f"{base}/api/v1/sources/{source_id}/invocations"

    def post(chunk: list[str]) -> None:
        with requests.Session() as session:
            session.headers["x-chroma-token"] = token
            for key in chunk:
                response = session.post(url, json={"object_key": key}, timeout=60)
                if response.status_code != 201:
                    raise SystemExit(f"create {key}: {response.status_code} {response.text}")

    chunks = [keys[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, chunks))


def wait_done(catalog: Any, source_id: str, total: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = counts(catalog, source_id)
        if seen.get("complete", 0) + seen.get("failed", 0) + seen.get("cancelled", 0) >= total:
            return seen
        time.sleep(0.25)
    raise SystemExit(f"not done after {timeout} s: {counts(catalog, source_id)}")


def run_count(dagster_home: Path, source_id: str) -> int:
    import dagster as dg

    from sync_pipelines.names import SOURCE_TAG

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        return len(instance.get_runs(filters=dg.RunsFilter(tags={SOURCE_TAG: source_id})))


def run_phase(
    name: str, scratch: Path, keys: list[str], source_id: str, token: str, args: Any
) -> Phase:
    from sync_pipelines.catalog import Catalog
    from sync_pipelines.devtools.dagster_stack import DagsterStack

    env = {"CHROMA_SYNC_MAX_BATCH_INVOCATIONS": "1"} if name == "baseline" else {}
    if name == "batched" and args.max_batch:
        env["CHROMA_SYNC_MAX_BATCH_INVOCATIONS"] = str(args.max_batch)
    stack = DagsterStack(scratch / f"dagster-{name}", env=env, webserver=True)
    if args.launch == "direct":
        stack.env["CHROMA_SYNC_DAGSTER_URL"] = stack.webserver_url or ""
    stack.start()
    port = free_port()
    api_env = dict(stack.env)
    code = (
        "import uvicorn; from api_bridge.app import create_app; "
        f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')"
    )
    api = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=api_env)
    base = f"http://127.0.0.1:{port}"
    catalog = Catalog()
    try:
        wait_http(f"{stack.webserver_url}/server_info", 120)
        wait_http(f"{base}/sync.openapi.json", 60)
        create_all(base, token, source_id, [f"{name}/warm.md"], 1)
        wait_done(catalog, source_id, 1, 300)
        warm_runs = run_count(stack.dagster_home, source_id)
        started = time.perf_counter()
        create_all(base, token, source_id, keys, args.threads)
        created = time.perf_counter() - started
        seen = wait_done(catalog, source_id, len(keys) + 1, args.timeout)
        seconds = time.perf_counter() - started
        runs = run_count(stack.dagster_home, source_id) - warm_runs
    finally:
        catalog.close()
        api.terminate()
        api.wait(10)
        stack.stop()
    return Phase(name, len(keys), seconds, created, seen.get("failed", 0), runs, 0)


def chunk_count(collection: str) -> int:
    from sync_pipelines.resources.chroma import ChromaResource, reset_client_cache
    from sync_pipelines.settings import get_settings

    reset_client_cache()
    # The store's Chroma server owns it: this resolves to an HTTP client of that server.
    store = ChromaResource(mode="persistent", path=str(get_settings().resolved_chroma_path))
    return int(store.get_client(DATABASE).get_collection(collection).count())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=500, help="objects, batched phase")
    parser.add_argument("--baseline-objects", type=int, default=100, help="0 skips the baseline")
    parser.add_argument("--threads", type=int, default=8, help="client threads creating")
    parser.add_argument(
        "--launch",
        choices=["direct", "sensor"],
        default="direct",
        help="direct: the API launches through Dagster's GraphQL (CHROMA_SYNC_DAGSTER_URL set); "
        "sensor: the invocation sensor alone launches",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per phase")
    parser.add_argument(
        "--max-batch",
        type=int,
        default=0,
        help="batched phase's max_batch_invocations (default: the setting's default)",
    )
    args = parser.parse_args()
    # Stop the Dagster stack and SeaweedFS on SIGTERM too (the finally blocks run on exit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    scratch = Path(tempfile.mkdtemp(prefix="chroma-sync-bench-many-"))
    os.environ["CHROMA_SYNC_HOME"] = str(scratch / "home")
    for name in ("CHROMA_SYNC_DAGSTER_URL", "CHROMA_SYNC_MAX_BATCH_INVOCATIONS"):
        os.environ.pop(name, None)
    from sync_pipelines.catalog import Catalog
    from sync_pipelines.devtools.chroma_server import ChromaServer
    from sync_pipelines.devtools.local_s3 import LocalS3Server
    from sync_pipelines.schemas import CreateSourcePayload
    from sync_pipelines.settings import get_settings

    sizes = {"batched": args.objects, "baseline": args.baseline_objects}
    phases: list[Phase] = []
    rng = random.Random(11)
    with (
        ChromaServer(get_settings().resolved_chroma_path),
        LocalS3Server(scratch / "s3") as s3,
    ):
        client = s3.client()
        client.create_bucket(Bucket=BUCKET)
        bodies = {
            f"{name}/note-{i:04d}.md": small_markdown(rng, i)
            for name, n in sizes.items()
            for i in range(n)
        }
        bodies.update({f"{name}/warm.md": small_markdown(rng, -1) for name in sizes})
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda kv: client.put_object(Bucket=BUCKET, Key=kv[0], Body=kv[1]),
                    bodies.items(),
                )
            )
        mean = sum(len(b) for b in bodies.values()) / len(bodies)
        catalog = Catalog()
        _, token = catalog.create_token(DATABASE, admin=True)
        sources = {
            name: catalog.create_source(
                CreateSourcePayload.model_validate(s3.source_body(DATABASE, BUCKET, name))
            )
            for name in sizes
        }
        catalog.close()
        for name, n in sizes.items():
            if n <= 0:
                continue
            keys = [f"{name}/note-{i:04d}.md" for i in range(n)]
            phase = run_phase(name, scratch, keys, str(sources[name].id), token, args)
            phase.chunks = chunk_count(name) - 1
            phases.append(phase)
            print(phase.line(), flush=True)

    max_batch = args.max_batch or get_settings().max_batch_invocations
    print(
        f"objects of ~{mean:.0f} bytes (markdown, one chunk each); launch path: {args.launch}; "
        f"max_batch_invocations {max_batch} (batched) vs 1 (baseline)"
    )
    for p in phases:
        print(p.line())
    if len(phases) == 2:
        batched, baseline = phases
        note = (
            f" (baseline measured on {baseline.objects} objects, batched on {batched.objects})"
            if baseline.objects != batched.objects
            else ""
        )
        print(
            f"batched vs one run per invocation: {batched.per_minute / baseline.per_minute:.1f}x"
            f" objects/min{note}"
        )


if __name__ == "__main__":
    main()
