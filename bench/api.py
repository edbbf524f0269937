"""Benchmark: create-invocation throughput and latency of the HTTP API.

Starts ``chroma-sync``'s API with uvicorn in a subprocess on a free 127.0.0.1 port (embedded
SQLite catalog in a temporary home), then 16 client threads, each with its own
``requests.Session``, create S3 invocations with distinct object keys (so none is a 409) for a
fixed time or a fixed number of requests. Prints requests/s and p50/p99 latency.

    .venv/bin/python bench/api.py --seconds 10
    .venv/bin/python bench/api.py --requests 5000 --threads 16
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from sync_pipelines.devtools.ports import free_port

ROOT = Path(__file__).resolve().parents[1]


def wait_ready(base: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/sync.openapi.json", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("the API did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--requests", type=int, default=0, help="stop after N requests instead")
    parser.add_argument(
        "--token-cache", type=float, default=None, help="token cache TTL in s (default: setting)"
    )
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="chroma-sync-bench-api-"))
    env = {**os.environ, "CHROMA_SYNC_HOME": str(home)}
    os.environ.update(env)
    from sync_pipelines.catalog import Catalog
    from sync_pipelines.schemas import CreateSourcePayload

    catalog = Catalog()
    _, secret = catalog.create_token("bench", admin=True)
    payload = {"database_name": "bench", "s3": {"bucket_name": "b", "region": "r"}}
    payload["s3"]["collection_name"] = "kb1"
    source = catalog.create_source(CreateSourcePayload.model_validate(payload))
    catalog.close()

    port = free_port()
    factory = f"lambda: create_app(token_cache_ttl_s={args.token_cache})"
    code = (
        "import uvicorn; from api_bridge.app import create_app; "
        f"uvicorn.run(({factory})(), host='127.0.0.1', port={port}, log_level='warning')"
    )
    server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/api/v1/sources/{source.id}/invocations"
    try:
        wait_ready(base, time.monotonic() + 30)
        latencies: list[float] = []
        errors: list[int] = []
        lock = threading.Lock()
        counter = iter(range(10**12))
        stop_at = time.monotonic() + args.seconds

        def worker() -> None:
            mine: list[float] = []
            bad: list[int] = []
            with requests.Session() as session:
                session.headers["x-chroma-token"] = secret
                while True:
                    n = next(counter)
                    if (args.requests and n >= args.requests) or (
                        not args.requests and time.monotonic() >= stop_at
                    ):
                        break
                    started = time.perf_counter()
                    response = session.post(url, json={"object_key": f"k/{n}"}, timeout=30)
                    mine.append(time.perf_counter() - started)
                    if response.status_code != 201:
                        bad.append(response.status_code)
            with lock:
                latencies.extend(mine)
                errors.extend(bad)

        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(10)

    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(
        f"threads={args.threads} requests={len(latencies)} non-201={len(errors)} wall={wall:.1f}s"
    )
    print(f"throughput: {len(latencies) / wall:.0f} req/s")
    print(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
