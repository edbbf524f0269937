"""Benchmark: a GitHub source of N generated files synced by ``sync_github_job``.

Builds a bare repository with ``fast_import`` (Python and markdown files), serves it with
``git daemon`` on 127.0.0.1 and syncs it into an embedded Chroma in a temporary folder. Prints
the full sync's wall time, files/s and chunks/s; then a no-op re-sync at the same commit and a
re-sync after changing 1% of the files, each with its ratio to the full sync (targets: no-op
under 2%, 1% change under 5%); with ``--per-file-baseline``, the full sync again writing (and
embedding) one file at a time.

    .venv/bin/python bench/github_sync.py --files 2000
"""

import argparse
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from corpus import WORDS


def make_file(rng: random.Random, i: int, revision: int = 0) -> tuple[str, str]:
    """Return the path and content of generated file ``i`` (a module or a guide)."""
    if i % 2:
        funcs = [
            f"def {rng.choice(WORDS)}_{i}_{n}(value):\n"
            f'    """{" ".join(rng.choices(WORDS, k=12)).capitalize()} (rev {revision})."""\n'
            + "".join(f"    value = value + {k}  # {rng.choice(WORDS)}\n" for k in range(6))
            + "    return value\n"
            for n in range(rng.randint(2, 5))
        ]
        return f"pkg{i % 40}/mod_{i}.py", "\n\n".join(funcs)
    parts = [f"# Guide {i} (rev {revision})\n"]
    for section in range(rng.randint(2, 4)):
        parts.append(f"\n## Section {section + 1}\n\n")
        parts.append(" ".join(rng.choices(WORDS, k=rng.randint(30, 70))).capitalize() + ".\n")
    return f"docs/part{i % 25}/guide_{i}.md", "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--change-percent", type=float, default=1.0)
    parser.add_argument(
        "--per-file-baseline",
        action="store_true",
        help="also run the full sync writing one file at a time (the old way)",
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-github-"))
    os.environ["CHROMA_SYNC_HOME"] = str(scratch / "home")
    os.environ["CHROMA_SYNC_OUTBOUND_ALLOW_HOSTS"] = '["127.0.0.1"]'  # the local git daemon
    import dagster as dg

    from sync_pipelines.catalog import Catalog
    from sync_pipelines.core import batch_writer
    from sync_pipelines.definitions import build_definitions
    from sync_pipelines.devtools.git_repos import CommitSpec, fast_import, init_bare
    from sync_pipelines.devtools.git_server import GitDaemon
    from sync_pipelines.names import FETCH_GITHUB_OP, SYNC_GITHUB_JOB
    from sync_pipelines.ops.github import GithubSyncConfig
    from sync_pipelines.schemas import CreateSourcePayload
    from sync_pipelines.settings import get_settings

    settings = get_settings()
    rng = random.Random(11)
    served = scratch / "served"
    repo = init_bare(served / "bench" / "repo")
    files = dict(make_file(rng, i) for i in range(args.files))
    fast_import(repo, [CommitSpec(files)])
    warm = init_bare(served / "bench" / "warm")
    fast_import(warm, [CommitSpec({"a.md": "# Warm-up\n\nLoads the model.\n"})])
    total_bytes = sum(len(text.encode()) for text in files.values())

    with GitDaemon(served) as daemon:
        store = Catalog(settings.resolved_catalog_url)

        def source_for(name: str) -> str:
            payload = {
                "database_name": "bench",
                "github": {"repository": name, "base_url": f"git://127.0.0.1:{daemon.port}"},
            }
            return str(store.create_source(CreateSourcePayload.model_validate(payload)).id)

        job = build_definitions(settings).resolve_job_def(SYNC_GITHUB_JOB)
        quiet = {"console": {"config": {"log_level": "ERROR"}}}
        instance = dg.DagsterInstance.ephemeral()

        def run(source_id: str, collection: str) -> tuple[float, dict[str, Any]]:
            config = GithubSyncConfig(
                source_id=source_id, ref={"branch": "main"}, target_collection=collection
            )
            started = time.perf_counter()
            result = job.execute_in_process(
                run_config=dg.RunConfig(ops={FETCH_GITHUB_OP: config}, loggers=quiet),
                instance=instance,
            )
            wall = time.perf_counter() - started
            # Plans bigger than one shard finish in finish_github_op.
            last = (
                "upsert_github_op"
                if result.is_node_success("upsert_github_op")
                else ("finish_github_op")
            )
            counts: dict[str, Any] = result.output_for_node(last)
            return wall, counts

        run(source_for("bench/warm"), "warm")  # model load and first Dagster run
        source_id = source_for("bench/repo")
        full_wall, full = run(source_id, "bench")
        noop_wall, noop = run(source_id, "bench")
        per_file_wall = 0.0
        if args.per_file_baseline:
            grouped = batch_writer.DOCUMENTS_PER_WRITE
            batch_writer.DOCUMENTS_PER_WRITE = 1
            per_file_wall, _ = run(source_for("bench/repo"), "bench-per-file")
            batch_writer.DOCUMENTS_PER_WRITE = grouped
        changed = max(1, round(args.files * args.change_percent / 100))
        picks = rng.sample(range(args.files), changed)
        fast_import(repo, [CommitSpec(dict(make_file(rng, i, revision=1) for i in picks))])
        change_wall, change = run(source_id, "bench")

    chunks = full["chunks_written"]
    print(f"files: {args.files}  bytes: {total_bytes}  chunks: {chunks}")
    print(f"full sync: {full_wall:.2f} s")
    print(f"  files/s:  {args.files / full_wall:.1f}")
    print(f"  chunks/s: {chunks / full_wall:.1f}")
    if per_file_wall:
        print(
            f"baseline, one file per write: {per_file_wall:.2f} s = "
            f"{args.files / per_file_wall:.1f} files/s; grouped files are "
            f"{per_file_wall / full_wall:.2f}x as fast"
        )
    print(
        f"no-op re-sync (same commit): {noop_wall:.3f} s = {100 * noop_wall / full_wall:.2f}% "
        f"of the full sync (files changed {noop['files_changed']}, "
        f"chunks embedded {noop['chunks_written']})"
    )
    print(
        f"re-sync after changing {changed} files ({args.change_percent:g}%): {change_wall:.3f} s "
        f"= {100 * change_wall / full_wall:.2f}% of the full sync (files changed "
        f"{change['files_changed']}, unchanged {change['files_unchanged']}, chunks embedded "
        f"{change['chunks_written']})"
    )


if __name__ == "__main__":
    main()
