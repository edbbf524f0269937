"""Benchmark: one big markdown object through the S3 batch job; peak RSS and wall time by size.

Each size runs in a fresh worker process (what a Dagster run worker is): SeaweedFS on loopback,
embedded Chroma and a SQLite catalog in a temporary home, one ``sync_s3_batch_job`` run executed
in the worker for one invocation. The worker loads the embedding model before the clock starts,
then reports the run's wall time and its own peak RSS (``ru_maxrss``). The object is generated
deterministically: markdown with headings, paragraphs, lists and fenced code, no two sections
alike. ``--embed fake`` replaces the model with a hash-based stand-in (same vector size) to
measure everything but the model at full size; ``--budget`` sets
``CHROMA_SYNC_MAX_OBJECT_SECONDS`` so a too-slow size stops early (and fails, by design).

    .venv/bin/python bench/big_object.py --sizes 1 10 50 --embed real
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from corpus import WORDS

BUCKET = "bench"
DATABASE = "bench"


def make_markdown(megabytes: float, seed: int = 12) -> bytes:
    """Deterministic markdown of about ``megabytes`` MB."""
    rng = random.Random(seed)
    target = int(megabytes * 1024 * 1024)
    parts: list[str] = [f"# Operations manual {seed}\n"]
    size = len(parts[0])
    section = 0
    while size < target:
        section += 1
        block = [f"\n## {section}. {' '.join(rng.choices(WORDS, k=4)).title()}\n"]
        for _ in range(rng.randint(2, 6)):
            kind = rng.random()
            if kind < 0.1:
                lines = [
                    f"    {rng.choice(WORDS)}_{i} = fetch({rng.randint(1, 999)})" for i in range(6)
                ]
                block.append("\n```python\n" + "\n".join(lines) + "\n```\n")
            elif kind < 0.25:
                block.append(
                    "\n" + "".join(f"- {' '.join(rng.choices(WORDS, k=5))}\n" for _ in range(4))
                )
            else:
                words = rng.choices(WORDS, k=rng.randint(30, 120))
                block.append(
                    f"\n{' '.join(words).capitalize()} ({section}.{rng.randint(1, 99)}).\n"
                )
        text = "".join(block)
        parts.append(text)
        size += len(text)
    return "".join(parts).encode()


def child(args: argparse.Namespace) -> None:
    """Run the batch job for one invocation in this process; print a JSON line of figures."""

    from sync_pipelines.catalog import Catalog
    from sync_pipelines.definitions import build_definitions
    from sync_pipelines.names import SYNC_S3_BATCH_JOB
    from sync_pipelines.resources.embedding import EmbeddingResource
    from sync_pipelines.run_requests import batch_run_request_for
    from sync_pipelines.settings import get_settings

    settings = get_settings()
    store = Catalog(settings.resolved_catalog_url)
    record = store.get_invocation_records([uuid.UUID(args.invocation)])
    source = store.get_source(record[0].job.source_id)
    if args.embed == "fake":
        EmbeddingResource.get_function = lambda self, model: _fake_embed  # type: ignore[method-assign]
    else:
        EmbeddingResource(model_dir=str(settings.resolved_model_dir)).get_function(None)(["warm"])
    request = batch_run_request_for(record, source, max_object_bytes=settings.max_object_bytes)
    job = build_definitions(settings).resolve_job_def(SYNC_S3_BATCH_JOB)
    quiet = {"console": {"config": {"log_level": "ERROR"}}}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    job.execute_in_process(
        run_config={**dict(request.run_config), "loggers": quiet}, tags=request.tags
    )
    seconds = time.perf_counter() - started
    status = store.get_invocation_records([record[0].job.id])[0].job.status
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rss_before_mb": before / 1024,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "status": status.word,
                "error": status.error,
            }
        )
    )


def _fake_embed(texts: list[str]) -> Any:
    import hashlib

    import numpy as np

    out = np.empty((len(texts), 384), dtype=np.float32)
    for i, text in enumerate(texts):
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        out[i] = np.random.default_rng(seed).standard_normal(384)
    return list(out / np.linalg.norm(out, axis=1, keepdims=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 10, 50], help="MB")
    parser.add_argument("--embed", choices=["real", "fake"], default="real")
    parser.add_argument("--budget", type=float, default=None, help="per-object seconds")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--invocation", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    scratch = Path(tempfile.mkdtemp(prefix="bench-big-"))
    os.environ["CHROMA_SYNC_HOME"] = str(scratch / "home")
    if args.budget:
        os.environ["CHROMA_SYNC_MAX_OBJECT_SECONDS"] = str(args.budget)
    from sync_pipelines.catalog import Catalog
    from sync_pipelines.devtools.local_s3 import LocalS3Server
    from sync_pipelines.schemas import CreateSourcePayload, IndexJobMetadata
    from sync_pipelines.settings import Settings

    models = Path("~/.chroma-sync/models").expanduser()
    os.environ.setdefault("CHROMA_SYNC_MODEL_DIR", str(models))
    settings = Settings()
    store = Catalog(settings.resolved_catalog_url)
    rows: list[tuple[float, dict[str, Any]]] = []
    with LocalS3Server(scratch / "s3") as s3:
        client = s3.client()
        client.create_bucket(Bucket=BUCKET)
        for megabytes in args.sizes:
            key = f"manuals/manual-{megabytes:g}mb.md"
            client.put_object(Bucket=BUCKET, Key=key, Body=make_markdown(megabytes))
            collection = f"big-{megabytes:g}mb".replace(".", "-")
            source = store.create_source(
                CreateSourcePayload.model_validate(s3.source_body(DATABASE, BUCKET, collection))
            )
            metadata = IndexJobMetadata.model_validate(
                {
                    "s3": {"bucket_name": BUCKET, "object_key": key},
                    "database_name": DATABASE,
                    "collection_name": collection,
                }
            )
            job = store.create_invocation(source.id, metadata)
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "--invocation",
                    str(job.id),
                    "--embed",
                    args.embed,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((megabytes, figures))
            print(_line(megabytes, figures, rows[0]), flush=True)


def _line(megabytes: float, figures: dict[str, Any], first: tuple[float, dict[str, Any]]) -> str:
    per_mb = figures["seconds"] / megabytes
    ratio = per_mb / (first[1]["seconds"] / first[0])
    line = (
        f"{megabytes:>5g} MB: {figures['seconds']:8.1f} s  {per_mb:6.2f} s/MB  "
        f"(x{ratio:.2f} the {first[0]:g} MB run's s/MB)  peak RSS {figures['peak_rss_mb']:.0f} MB "
        f"(after model load {figures['rss_before_mb']:.0f} MB)  {figures['status']}"
    )
    if figures["error"]:
        line += f": {figures['error']}"
    return line


if __name__ == "__main__":
    main()
