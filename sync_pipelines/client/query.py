"""``chroma-sync query``: nearest chunks of a synced collection, straight from Chroma.

The Sync API has no query operation, so this command opens Chroma with the server's settings
(``CHROMA_SYNC_*``: the embedded ``PersistentClient`` under the home folder, a Chroma server or
Chroma Cloud) and embeds the text with the model the collection was synced with. ``--contains``
and ``--regex`` keep only chunks whose text matches (Chroma's ``where_document``). A home
without a Chroma store is an error, never a new empty store.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sync_pipelines.client.home import missing
from sync_pipelines.client.output import JsonOption, fail, print_json
from sync_pipelines.settings import Settings, get_settings

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from chromadb.base_types import WhereDocument

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

    store = settings.resolved_chroma_path
    if settings.chroma_mode == "persistent" and not store.is_dir():
        # Opening it would create an empty store (and home) where the user meant another.
        raise QueryError(missing(store, "Chroma store"))
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


def document_filter(contains: str | None, regex: str | None) -> "WhereDocument | None":
    """Chroma's ``where_document`` for the full-text filters given (both: ``$and``)."""
    clauses: list[WhereDocument] = []
    if contains is not None:
        clauses.append({"$contains": contains})
    if regex is not None:
        clauses.append({"$regex": regex})
    if len(clauses) > 1:
        return {"$and": clauses}
    return clauses[0] if clauses else None


def run_query(
    settings: Settings,
    database: str,
    collection_name: str,
    text: str,
    n: int,
    *,
    contains: str | None = None,
    regex: str | None = None,
) -> list[Hit]:
    """Return the ``n`` chunks of a collection nearest to ``text``.

    Args:
        settings: Where Chroma and the models are.
        database: The collection's database.
        collection_name: The collection.
        text: What to search for.
        n: Most hits.
        contains: Keep only chunks whose text contains this string (case-sensitive).
        regex: Keep only chunks whose text matches this pattern (Chroma's Rust regex syntax).

    Raises:
        QueryError: Unknown database or collection, an unusable model, or a pattern Chroma
            rejects.
        EmbeddingError: The model is not installed or not configured.
    """
    from sync_pipelines.core.embedding import get_embedding_function

    collection = _open_collection(settings, database, collection_name)
    api_key = settings.chroma_api_key.get_secret_value() if settings.chroma_api_key else None
    function = get_embedding_function(
        _model_of(collection), model_dir=settings.resolved_model_dir, cloud_api_key=api_key
    )
    from chromadb.errors import InvalidArgumentError

    try:
        result = collection.query(
            query_embeddings=function([text]),
            n_results=n,
            where_document=document_filter(contains, regex),
            include=["documents", "metadatas", "distances"],
        )
    except InvalidArgumentError as exc:
        if regex is None:
            raise
        raise QueryError(f"invalid --regex {regex!r}: {_regex_reason(exc)}") from None
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


def _regex_reason(exc: Exception) -> str:
    """The ``error: ...`` line of Chroma's multi-line regex parse error (else its first line)."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    reasons = [line.strip() for line in lines if line.strip().startswith("error: ")]
    return reasons[-1].removeprefix("error: ") if reasons else lines[0]


def location(metadata: dict[str, Any]) -> str:
    """Where a chunk sits in its document: ``lines a-b`` and ``pages a-b`` when known."""
    parts = []
    if "start_line" in metadata:
        parts.append(f"lines {metadata['start_line']}-{metadata.get('end_line', '')}")
    if "start_page" in metadata:
        parts.append(f"pages {metadata['start_page']}-{metadata.get('end_page', '')}")
    elif "page" in metadata:
        parts.append(f"page {metadata['page']}")
    return " ".join(parts)


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
    contains: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="Only chunks whose text contains TEXT (case-sensitive)."),
    ] = None,
    regex: Annotated[
        str | None,
        typer.Option(
            metavar="PATTERN",
            help="Only chunks whose text matches PATTERN (Rust regex syntax, as Chroma runs it).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Query a synced collection directly in Chroma (server settings, local model).

    Each hit shows its chunk id, distance, document key and lines (and pages when the chunk
    records them). ``--contains`` and ``--regex`` together keep chunks matching both.
    """
    from sync_pipelines.core.embedding import EmbeddingError

    try:
        hits = run_query(
            get_settings(),
            database,
            collection,
            text,
            n_results,
            contains=contains,
            regex=regex,
        )
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
        filtered = contains is not None or regex is not None
        typer.echo(
            f"no chunk of collection {collection!r} matches the filter"
            if filtered
            else f"collection {collection!r} is empty"
        )
    for rank, hit in enumerate(hits, start=1):
        where = location(hit.metadata)
        typer.echo(
            f"{rank}. {hit.id}  distance {hit.distance:.4f}  {hit.document_key}"
            + (f" {where}" if where else "")
        )
        typer.echo(f"   {_snippet(hit.document)}")
