"""``chroma-sync query``: nearest chunks of a synced collection, straight from Chroma.

The Sync API has no query operation, so this command opens Chroma with the server's settings
(``CHROMA_SYNC_*``: the embedded ``PersistentClient`` under the home folder, a Chroma server or
Chroma Cloud) and embeds the text with the model the collection was synced with.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sync_pipelines.client.output import JsonOption, fail, print_json
from sync_pipelines.settings import Settings, get_settings

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

SNIPPET_CHARS = 100


class QueryError(Exception):
    """The database or collection does not exist, or its model cannot be used here."""


@dataclass(frozen=True)
class Hit:
    """One result: chunk id, distance, its document key and text."""

    id: str
    distance: float
    document_key: str
    document: str
    metadata: dict[str, Any]


def _open_collection(settings: Settings, database: str, name: str) -> "Collection":
    from chromadb.errors import NotFoundError

    from sync_pipelines.resources.chroma import ChromaResource

    api_key = settings.chroma_api_key.get_secret_value() if settings.chroma_api_key else None
    resource = ChromaResource(
        mode=settings.chroma_mode,
        path=str(settings.resolved_chroma_path),
        host=settings.chroma_host,
        port=settings.chroma_port,
        ssl=settings.chroma_ssl,
        tenant=settings.chroma_tenant,
        api_key=api_key,
    )
    try:
        # Not ``get_client``: that would create a missing database.
        client = resource._make_client(database)
    except NotFoundError as exc:
        raise QueryError(f"database {database!r} not found") from exc
    except Exception as exc:  # chromadb raises plain errors when a server does not answer
        raise QueryError(f"cannot open Chroma ({settings.chroma_mode}): {exc}") from exc
    try:
        return client.get_collection(name, embedding_function=None)
    except NotFoundError as exc:
        raise QueryError(f"collection {name!r} not found in database {database!r}") from exc


def _model_of(collection: "Collection") -> str:
    from sync_pipelines.core.embedding import MINILM_MODEL
    from sync_pipelines.core.embedding_cloud import QWEN_MODEL

    config = (collection.configuration_json or {}).get("embedding_function") or {}
    name = str(config.get("name") or "default")
    if name == "default":
        return MINILM_MODEL
    if "qwen" in name:
        return QWEN_MODEL
    raise QueryError(f"collection {collection.name!r} uses embedding function {name!r}")


def run_query(
    settings: Settings, database: str, collection_name: str, text: str, n: int
) -> list[Hit]:
    """Return the ``n`` chunks of a collection nearest to ``text``.

    Raises:
        QueryError: Unknown database or collection, or an unusable model.
        EmbeddingError: The model is not installed or not configured.
    """
    from sync_pipelines.core.embedding import get_embedding_function

    collection = _open_collection(settings, database, collection_name)
    api_key = settings.chroma_api_key.get_secret_value() if settings.chroma_api_key else None
    function = get_embedding_function(
        _model_of(collection), model_dir=settings.resolved_model_dir, cloud_api_key=api_key
    )
    result = collection.query(
        query_embeddings=function([text]),
        n_results=n,
        include=["documents", "metadatas", "distances"],
    )
    ids = result["ids"][0]
    distances = (result["distances"] or [[]])[0]
    documents = (result["documents"] or [[]])[0]
    metadatas = (result["metadatas"] or [[]])[0]
    return [
        Hit(
            id=chunk_id,
            distance=float(distance),
            document_key=str((meta or {}).get("document_key", "")),
            document=document or "",
            metadata=dict(meta or {}),
        )
        for chunk_id, distance, document, meta in zip(
            ids, distances, documents, metadatas, strict=True
        )
    ]


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 3] + "..."


def query(
    collection: Annotated[str, typer.Argument(help="Collection name.")],
    text: Annotated[str, typer.Argument(help="What to search for.")],
    database: Annotated[
        str,
        typer.Option(envvar="CHROMA_SYNC_DATABASE", help="The collection's database."),
    ],
    n_results: Annotated[int, typer.Option("-n", "--n-results", min=1, help="Results.")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Query a synced collection directly in Chroma (server settings, local model)."""
    from sync_pipelines.core.embedding import EmbeddingError

    try:
        hits = run_query(get_settings(), database, collection, text, n_results)
    except (QueryError, EmbeddingError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(
            [
                {
                    "id": h.id,
                    "distance": h.distance,
                    "document_key": h.document_key,
                    "document": h.document,
                    "metadata": h.metadata,
                }
                for h in hits
            ]
        )
        return
    if not hits:
        typer.echo(f"collection {collection!r} is empty")
    for rank, hit in enumerate(hits, start=1):
        lines = ""
        if "start_line" in hit.metadata:
            lines = f" lines {hit.metadata['start_line']}-{hit.metadata.get('end_line', '')}"
        typer.echo(f"{rank}. {hit.id}  distance {hit.distance:.4f}  {hit.document_key}{lines}")
        typer.echo(f"   {_snippet(hit.document)}")
