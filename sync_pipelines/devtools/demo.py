"""The demo: a local S3 server, three objects, the Dagster S3 job, and a query."""

import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from dagster import DagsterInstance, RunConfig

from sync_pipelines.catalog import Catalog
from sync_pipelines.definitions import build_definitions
from sync_pipelines.devtools.dagster_stack import write_instance_config
from sync_pipelines.devtools.local_s3 import LocalS3Server
from sync_pipelines.names import FETCH_S3_OBJECT_OP, SYNC_S3_OBJECT_JOB
from sync_pipelines.ops.s3 import S3ObjectConfig
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.resources.embedding import EmbeddingResource
from sync_pipelines.schemas import CreateSourcePayload, SourceTypeFilter
from sync_pipelines.settings import Settings

DEMO_BUCKET = "chroma-sync-demo"
DEMO_DATABASE = "demo"
DEMO_COLLECTION = "acme-docs"
QUIET_LOGS = {"console": {"config": {"log_level": "WARNING"}}}


def ensure_dagster_home(settings: Settings) -> Path:
    """Point ``DAGSTER_HOME`` at ``<home>/dagster`` (unless set) and write its dagster.yaml."""
    home = write_instance_config(
        Path(os.environ.get("DAGSTER_HOME") or settings.home_dir / "dagster")
    )
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def run_demo(settings: Settings, query: str, echo: Callable[[str], None]) -> int:
    """Sync the demo objects from a local S3 server and print the best matches for ``query``.

    Returns:
        0 when every object synced, 1 otherwise.
    """
    dagster_home = ensure_dagster_home(settings)
    content = resources.files("sync_pipelines.devtools") / "demo_content"
    files = sorted(
        (entry.name, entry.read_bytes()) for entry in content.iterdir() if entry.is_file()
    )
    catalog = Catalog(settings.resolved_catalog_url)
    with LocalS3Server(settings.home_dir / "demo-s3") as s3:
        echo(f"local S3 (SeaweedFS) on {s3.endpoint_url}")
        client = s3.client()
        if DEMO_BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=DEMO_BUCKET)
        for name, data in files:
            client.put_object(Bucket=DEMO_BUCKET, Key=f"docs/{name}", Body=data)
        for old in catalog.list_sources(DEMO_DATABASE, source_type=SourceTypeFilter("s3")):
            if old.s3 is not None and old.s3.bucket_name == DEMO_BUCKET:
                catalog.delete_source(old.id)
        body = s3.source_body(
            DEMO_DATABASE,
            DEMO_BUCKET,
            DEMO_COLLECTION,
            path_prefix="docs/",
            chunking={"type": "tree_sitter", "max_size_bytes": 400},
        )
        source = catalog.create_source(CreateSourcePayload.model_validate(body))
        echo(f"source {source.id} -> collection {DEMO_DATABASE}/{DEMO_COLLECTION}")
        job = build_definitions(settings).resolve_job_def(SYNC_S3_OBJECT_JOB)
        instance = DagsterInstance.get()
        failed = 0
        for name, _ in files:
            config = S3ObjectConfig(source_id=str(source.id), object_key=f"docs/{name}")
            result = job.execute_in_process(
                run_config=RunConfig(ops={FETCH_S3_OBJECT_OP: config}, loggers=QUIET_LOGS),
                instance=instance,
                raise_on_error=False,
            )
            if result.success:
                counts = result.output_for_node("upsert_op")
                echo(
                    f"synced docs/{name}: {counts['chunks']} chunks "
                    f"({counts['chunks_written']} embedded, {counts['chunks_skipped']} unchanged, "
                    f"{counts['chunks_deleted']} deleted) run {result.run_id}"
                )
            else:
                failed += 1
                echo(f"FAILED docs/{name}: run {result.run_id}")
    chroma = ChromaResource(mode="persistent", path=str(settings.resolved_chroma_path))
    embedder = EmbeddingResource(model_dir=str(settings.resolved_model_dir))
    collection = chroma.get_collection(
        DEMO_DATABASE, DEMO_COLLECTION, embedding_function=embedder.collection_function(None)
    )
    hits = collection.query(query_texts=[query], n_results=3)
    echo(f'query: "{query}"')
    metadatas = hits["metadatas"] or [[]]
    documents = hits["documents"] or [[]]
    distances = hits["distances"] or [[]]
    for rank, (meta, doc, dist) in enumerate(
        zip(metadatas[0], documents[0], distances[0], strict=True), start=1
    ):
        first_line = doc.strip().splitlines()[0] if doc.strip() else ""
        echo(
            f"  {rank}. {meta['document_key']} lines {meta['start_line']}-{meta['end_line']} "
            f"(distance {dist:.3f}): {first_line[:80]}"
        )
    echo(f"Dagster runs are in {dagster_home}: dagster dev -w workspace.yaml shows them.")
    return 1 if failed else 0
