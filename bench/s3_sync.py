"""Benchmark: N objects synced from a local SeaweedFS server by the Dagster S3 job.

Prints objects/s, chunks/s and the share of wall time spent embedding, for one Dagster run per
object (what an invocation costs today). Everything runs on this machine: SeaweedFS on loopback,
embedded Chroma in a temporary folder, the local ONNX model.

    .venv/bin/python bench/s3_sync.py --objects 40
"""

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from corpus import WORDS


def make_doc(rng: random.Random, sections: int) -> bytes:
    parts = [f"# Guide {rng.randint(1, 10**6)}\n"]
    for s in range(sections):
        parts.append(f"\n## Section {s + 1}: {' '.join(rng.choices(WORDS, k=3))}\n")
        for _ in range(rng.randint(2, 4)):
            words = rng.choices(WORDS, k=rng.randint(25, 60))
            parts.append("\n" + " ".join(words).capitalize() + ".\n")
    return "".join(parts).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=40)
    parser.add_argument("--sections", type=int, default=8, help="markdown sections per object")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    os.environ["CHROMA_SYNC_HOME"] = str(scratch / "home")
    import dagster as dg

    from sync_pipelines.catalog import Catalog
    from sync_pipelines.definitions import build_definitions
    from sync_pipelines.devtools.local_s3 import LocalS3Server
    from sync_pipelines.names import FETCH_S3_OBJECT_OP, SYNC_S3_OBJECT_JOB
    from sync_pipelines.ops.s3 import S3ObjectConfig
    from sync_pipelines.schemas import CreateSourcePayload
    from sync_pipelines.settings import get_settings

    settings = get_settings()
    rng = random.Random(7)
    with LocalS3Server(scratch / "s3") as s3:
        client = s3.client()
        client.create_bucket(Bucket="bench")
        keys = [f"docs/guide-{i:04d}.md" for i in range(args.objects)]
        total_bytes = 0
        for key in keys:
            body = make_doc(rng, args.sections)
            total_bytes += len(body)
            client.put_object(Bucket="bench", Key=key, Body=body)
        source = Catalog(settings.resolved_catalog_url).create_source(
            CreateSourcePayload.model_validate(s3.source_body("bench", "bench", "bench"))
        )
        job = build_definitions(settings).resolve_job_def(SYNC_S3_OBJECT_JOB)
        quiet = {"console": {"config": {"log_level": "ERROR"}}}
        instance = dg.DagsterInstance.ephemeral()  # one instance, as in a deployment

        def run(key: str) -> dict[str, float]:
            config = S3ObjectConfig(source_id=str(source.id), object_key=key)
            result = job.execute_in_process(
                run_config=dg.RunConfig(ops={FETCH_S3_OBJECT_OP: config}, loggers=quiet),
                instance=instance,
            )
            metadata: dict[str, float] = {}
            for event in result.all_events:
                if event.step_key == "upsert_op" and event.event_type_value == "STEP_OUTPUT":
                    data = event.event_specific_data.metadata
                    metadata = {
                        k: float(v.value)
                        for k, v in data.items()
                        if k in {"chunks", "chunks_written", "embed_seconds"}
                    }
            return metadata

        run(keys[0])  # warm-up: model load, first Dagster run in the process
        started = time.perf_counter()
        stats = [run(key) for key in keys]
        wall = time.perf_counter() - started
        chunks = sum(s["chunks"] for s in stats)
        embed = sum(s["embed_seconds"] for s in stats)
        written = sum(s["chunks_written"] for s in stats)

        started = time.perf_counter()
        resync = [run(key) for key in keys]
        resync_wall = time.perf_counter() - started

    print(f"objects: {len(keys)}  bytes: {total_bytes}  chunks: {int(chunks)}")
    print(f"full sync (one Dagster run per object): {wall:.2f} s")
    print(f"  objects/s: {len(keys) / wall:.2f}")
    print(f"  chunks/s:  {chunks / wall:.1f}  (chunks embedded: {int(written)})")
    print(f"  embedding: {embed:.2f} s = {100 * embed / wall:.1f}% of wall time")
    print(f"  other per object: {1000 * (wall - embed) / len(keys):.0f} ms")
    print(
        f"re-sync, nothing changed: {resync_wall:.2f} s "
        f"({sum(s['chunks_written'] for s in resync):.0f} chunks embedded), "
        f"{resync_wall / wall:.2f}x the full sync"
    )


if __name__ == "__main__":
    main()
