"""Benchmark: time from the 201 of create-invocation to ``processing`` and to ``complete``.

Runs the embedded stack for real: SeaweedFS on loopback, a Dagster daemon + webserver on a
temporary instance, the API (uvicorn subprocess), the SQLite catalog and a Chroma server on
the home's store.
Invocations are created one at a time and polled every 50 ms. Two launch paths are measured in
the same process: the baseline, where the invocation sensor alone launches runs, and the direct
launch through the webserver's GraphQL API (the default when ``CHROMA_SYNC_DAGSTER_URL`` is set).

    .venv/bin/python bench/api_processing.py --invocations 8
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from local import wait_http

from sync_pipelines.devtools.ports import free_port

ROOT = Path(__file__).resolve().parents[1]


def word(status: object) -> str:
    return status if isinstance(status, str) else next(iter(status))  # type: ignore[arg-type]


def measure(base: str, token: str, source_id: str, keys: list[str]) -> list[tuple[float, float]]:
    session = requests.Session()
    session.headers["x-chroma-token"] = token
    results = []
    for key in keys:
        response = session.post(
            f"{base}/api/v1/sources/{source_id}/invocations", json={"object_key": key}, timeout=30
        )
        created = time.perf_counter()
        assert response.status_code == 201, response.text
        invocation = response.json()["invocation_id"]
        processing = None
        while time.perf_counter() - created < 120:
            status = session.get(f"{base}/api/v1/invocations/{invocation}", timeout=30).json()
            state = word(status["status"])
            if processing is None and state != "pending":
                processing = time.perf_counter() - created
            if state in {"complete", "failed", "cancelled"}:
                assert state == "complete", status
                results.append((processing or 0.0, time.perf_counter() - created))
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"invocation {invocation} did not finish")
    return results


def phase(
    name: str, scratch: Path, s3: object, token: str, source_id: str, n: int, direct: bool
) -> list[tuple[float, float]]:
    from sync_pipelines.devtools.dagster_stack import DagsterStack

    stack = DagsterStack(scratch / f"dagster-{name}", webserver=True)
    if direct:
        stack.env["CHROMA_SYNC_DAGSTER_URL"] = stack.webserver_url or ""
    stack.start()
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(stack.dagster_home)}
    if direct:
        env["CHROMA_SYNC_DAGSTER_URL"] = stack.webserver_url or ""
    code = (
        "import uvicorn; from api_bridge.app import create_app; "
        f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')"
    )
    api = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{stack.webserver_url}/server_info", 120)
        wait_http(f"{base}/sync.openapi.json", 60)
        measure(base, token, source_id, [f"docs/warm-{name}.md"])  # code server warm-up
        return measure(base, token, source_id, [f"docs/{name}-{i}.md" for i in range(n)])
    finally:
        api.terminate()
        api.wait(10)
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=8)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="chroma-sync-bench-proc-"))
    os.environ["CHROMA_SYNC_HOME"] = str(scratch / "home")
    os.environ.pop("CHROMA_SYNC_DAGSTER_URL", None)
    from sync_pipelines.catalog import Catalog
    from sync_pipelines.devtools.chroma_server import ChromaServer
    from sync_pipelines.devtools.local_s3 import LocalS3Server
    from sync_pipelines.schemas import CreateSourcePayload

    with (
        ChromaServer(scratch / "home" / "chroma"),
        LocalS3Server(scratch / "s3") as s3,
    ):
        client = s3.client()
        client.create_bucket(Bucket="bench")
        for name in ("sensor", "direct"):
            keys = [f"docs/warm-{name}.md"] + [
                f"docs/{name}-{i}.md" for i in range(args.invocations)
            ]
            for key in keys:
                client.put_object(Bucket="bench", Key=key, Body=f"# {key}\n\nText.\n".encode())
        catalog = Catalog()
        _, token = catalog.create_token("bench", admin=True)
        source = catalog.create_source(
            CreateSourcePayload.model_validate(s3.source_body("bench", "bench", "bench"))
        )
        catalog.close()
        runs = {
            name: phase(name, scratch, s3, token, str(source.id), args.invocations, direct)
            for name, direct in (("sensor", False), ("direct", True))
        }
    medians = {}
    for name, values in runs.items():
        to_processing = statistics.median(v[0] for v in values)
        to_complete = statistics.median(v[1] for v in values)
        medians[name] = to_processing
        print(
            f"{name:>6} launch: 201->processing p50 {to_processing:.2f} s "
            f"(min {min(v[0] for v in values):.2f}, max {max(v[0] for v in values):.2f}); "
            f"201->complete p50 {to_complete:.2f} s  [n={len(values)}]"
        )
    print(f"direct launch vs sensor-only: {medians['sensor'] / medians['direct']:.2f}x faster")


if __name__ == "__main__":
    main()
