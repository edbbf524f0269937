"""Benchmark: a big GitHub sync split into shards, and a model of wall time versus workers.

Builds a repository of N generated files (``github_sync.make_file``), serves it with
``git daemon`` and syncs it into a ``chroma run`` server twice: once through the one-step path
(one shard) and once sharded (``--shard-files`` per shard), both in process. From the sharded
run's step events it prints the shard count and each step's time (plan, shards, finish); it
also measures the Chroma server's write rate alone (precomputed vectors, no embedding). Then it
models a sync of ``--model-files`` files (100,000) on W workers:

    wall(W) = plan + max(ceil(K / W) * (shard + dispatch), chunks / write_rate) + finish

with K = model files / shard files shards, ``shard`` the measured mean shard time (each worker
as fast as this machine, one step at a time), ``plan`` and ``finish`` scaled linearly from the
measured ones, ``dispatch`` the per-step overhead of the Celery executor (``--dispatch-s``,
default 0.5 s: measured on this machine, 0.3-0.5 s per step over steps of 3 s with two workers,
plus the executor's 1 s result polling spread over the steps), and the Chroma server, shared
by every worker, accepting at most ``write_rate`` chunks/s (measured on a fresh collection;
HNSW inserts slow down somewhat as a collection grows).

    .venv/bin/python bench/shards.py --files 2000 --shard-files 250
"""

import argparse
import math
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from github_sync import make_file


def step_seconds(result: Any) -> dict[str, float]:
    """Step key -> seconds, from the run's STEP_SUCCESS events."""
    return {
        event.step_key: event.event_specific_data.duration_ms / 1000
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    }


def write_rate(port: int, chunks: int = 4000, batch: int = 500) -> float:
    """Chunks/s the Chroma server at ``port`` upserts with vectors given (384 dimensions)."""
    import chromadb
    import numpy as np

    client = chromadb.HttpClient(host="127.0.0.1", port=port)
    collection = client.get_or_create_collection("write-rate", embedding_function=None)
    rng = np.random.default_rng(3)
    vectors = rng.random((chunks, 384), dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, chunks, batch):
        ids = [f"c{i}" for i in range(start, min(start + batch, chunks))]
        collection.upsert(
            ids=ids,
            embeddings=vectors[start : start + len(ids)],
            documents=[f"chunk {i} " * 40 for i in range(len(ids))],
            metadatas=[
                {"document_key": f"f{i // 2}", "chunk_index": i % 2} for i in range(len(ids))
            ],
        )
    return chunks / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--shard-files", type=int, default=250)
    parser.add_argument("--model-files", type=int, default=100_000)
    parser.add_argument("--dispatch-s", type=float, default=0.5)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    os.environ["CHROMA_SYNC_HOME"] = str(scratch / "home")
    os.environ["CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS"] = '["127.0.0.1"]'  # the local git daemon
    import dagster as dg

    from sync_pipelines.catalog import Catalog
    from sync_pipelines.definitions import build_definitions
    from sync_pipelines.devtools.chroma_server import ChromaServer
    from sync_pipelines.devtools.git_repos import CommitSpec, fast_import, init_bare
    from sync_pipelines.devtools.git_server import GitDaemon
    from sync_pipelines.names import FETCH_GITHUB_OP, SYNC_GITHUB_JOB
    from sync_pipelines.ops.github import GithubSyncConfig
    from sync_pipelines.schemas import CreateSourcePayload
    from sync_pipelines.settings import Settings

    rng = random.Random(11)
    served = scratch / "served"
    repo = init_bare(served / "bench" / "repo")
    fast_import(repo, [CommitSpec(dict(make_file(rng, i) for i in range(args.files)))])
    warm = init_bare(served / "bench" / "warm")
    fast_import(warm, [CommitSpec({"a.md": "# Warm-up\n\nLoads the model.\n"})])

    with GitDaemon(served) as daemon, ChromaServer(Settings().resolved_chroma_path) as chroma:
        store = Catalog(Settings().resolved_catalog_url)
        instance = dg.DagsterInstance.ephemeral()
        quiet = {"console": {"config": {"log_level": "ERROR"}}}

        def run(name: str, collection: str, shard_files: int) -> tuple[float, Any]:
            payload = {
                "database_name": "bench",
                "github": {"repository": name, "base_url": f"git://127.0.0.1:{daemon.port}"},
            }
            source = store.create_source(CreateSourcePayload.model_validate(payload))
            settings = Settings(shard_max_files=shard_files)
            job = build_definitions(settings).resolve_job_def(SYNC_GITHUB_JOB)
            config = GithubSyncConfig(
                source_id=str(source.id), ref={"branch": "main"}, target_collection=collection
            )
            started = time.perf_counter()
            result = job.execute_in_process(
                run_config=dg.RunConfig(ops={FETCH_GITHUB_OP: config}, loggers=quiet),
                instance=instance,
            )
            return time.perf_counter() - started, result

        run("bench/warm", "warm", 10**9)  # model load and first Dagster run
        one_wall, _ = run("bench/repo", "one-step", 10**9)
        sharded_wall, sharded = run("bench/repo", "sharded", args.shard_files)
        rate = write_rate(chroma.port)

    steps = step_seconds(sharded)
    shard_times = [s for key, s in steps.items() if key.startswith("sync_github_shard_op[")]
    done = sharded.output_for_node("finish_github_op")
    chunks = done["chunks_written"]
    plan_s, finish_s = steps["fetch_github_op"], steps["finish_github_op"]
    mean_shard = statistics.mean(shard_times)
    print(f"repository: {args.files} files, {chunks} chunks; shard size {args.shard_files}")
    print(f"one-step sync (one process): {one_wall:.2f} s")
    print(
        f"sharded sync, in process: {sharded_wall:.2f} s (x{sharded_wall / one_wall:.2f} of "
        f"one-step); {len(shard_times)} shards"
    )
    print(f"  plan step: {plan_s:.2f} s   finish step: {finish_s:.2f} s")
    print(
        f"  shard steps: mean {mean_shard:.2f} s, min {min(shard_times):.2f} s, "
        f"max {max(shard_times):.2f} s ({args.shard_files / mean_shard:.0f} files/s per worker)"
    )
    print(f"Chroma server write rate (vectors given): {rate:.0f} chunks/s")

    scale = args.model_files / args.files
    model_chunks = chunks * scale
    shards = math.ceil(args.model_files / args.shard_files)
    plan_m, finish_m = plan_s * scale, finish_s * scale
    floor = model_chunks / rate
    print(
        f"\nmodel: {args.model_files} files, {model_chunks:.0f} chunks, {shards} shards of "
        f"{args.shard_files}; plan {plan_m:.0f} s, finish {finish_m:.1f} s, dispatch "
        f"{args.dispatch_s:.2f} s per step, Chroma writes at least {floor:.0f} s"
    )
    print(f"{'workers':>8} {'wall':>10} {'speed-up':>9}  bound by")
    base = None
    for workers in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        compute = math.ceil(shards / workers) * (mean_shard + args.dispatch_s)
        wall = plan_m + max(compute, floor) + finish_m
        base = base or wall
        bound = "workers" if compute >= floor else "Chroma server writes"
        print(f"{workers:>8} {wall / 60:>8.1f} m {base / wall:>8.1f}x  {bound}")


if __name__ == "__main__":
    main()
