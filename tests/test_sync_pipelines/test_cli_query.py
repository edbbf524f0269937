"""``chroma-sync query``: nearest chunks straight from the embedded Chroma, with the local model.

Contract: the command opens the PersistentClient under CHROMA_SYNC_HOME, embeds the text with
the collection's model and prints ids, distances (ascending), document keys and snippets;
``--json`` gives the same as JSON; an unknown database or collection is one error line (exit 1)
and creates nothing.
"""

import json
from pathlib import Path

import pytest
from chromadb.api.types import DefaultEmbeddingFunction
from chromadb.errors import NotFoundError
from typer.testing import CliRunner, Result

from sync_pipelines.cli import app
from sync_pipelines.core.embedding import MINILM_MODEL, get_embedding_function
from sync_pipelines.resources.chroma import ChromaResource
from sync_pipelines.settings import Settings

DB = "db1"
COLLECTION = "kb-query"
DOCS = {
    "pets/cats.md": "A kitten rested on a soft rug by the fireplace all afternoon.",
    "money/tax.md": "Quarterly tax filings are due at the end of the month after the quarter.",
    "ops/deploy.md": "Deploy the service with the rolling update strategy and watch the probes.",
}
runner = CliRunner()


@pytest.fixture
def filled(chroma_sync_home: Path) -> Settings:
    settings = Settings()
    chroma = ChromaResource(mode="persistent", path=str(settings.resolved_chroma_path))
    collection = chroma.get_collection(
        DB, COLLECTION, embedding_function=DefaultEmbeddingFunction()
    )
    embed = get_embedding_function(MINILM_MODEL, model_dir=settings.resolved_model_dir)
    keys = list(DOCS)
    collection.upsert(
        ids=[f"{key}-0" for key in keys],
        documents=[DOCS[key] for key in keys],
        embeddings=embed([DOCS[key] for key in keys]),
        metadatas=[{"document_key": key, "start_line": 1, "end_line": 1} for key in keys],
    )
    return settings


def query(*args: str) -> Result:
    result = runner.invoke(app, ["query", *args])
    assert "Traceback" not in result.output
    return result


def test_query_json_ranks_the_matching_chunk_first(filled: Settings) -> None:
    result = query(COLLECTION, "feline sleeping on a carpet", "--database", DB, "-n", "2", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert [hit["id"] for hit in hits] == ["pets/cats.md-0", hits[1]["id"]]
    assert hits[1]["id"] in {"money/tax.md-0", "ops/deploy.md-0"}
    assert hits[0]["document_key"] == "pets/cats.md"
    assert hits[0]["document"] == DOCS["pets/cats.md"]
    assert hits[0]["metadata"]["start_line"] == 1
    assert hits[0]["distance"] < hits[1]["distance"]


def test_query_lines(filled: Settings) -> None:
    result = query(COLLECTION, "when are taxes due", "--database", DB, "-n", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 6
    assert lines[0].startswith("1. money/tax.md-0  distance ")
    assert lines[0].endswith("  money/tax.md lines 1-1")
    assert lines[1].strip() == DOCS["money/tax.md"]
    distances = [float(line.split("distance ")[1].split()[0]) for line in lines[::2]]
    assert distances == sorted(distances)


def test_query_unknown_collection_or_database(filled: Settings) -> None:
    missing = query("nope-collection", "anything", "--database", DB)
    assert missing.exit_code == 1
    assert (
        missing.stderr.strip() == "error: collection 'nope-collection' not found in database 'db1'"
    )
    no_db = query(COLLECTION, "anything", "--database", "other_db")
    assert no_db.exit_code == 1
    assert no_db.stderr.strip() == "error: database 'other_db' not found"
    chroma = ChromaResource(mode="persistent", path=str(filled.resolved_chroma_path))
    with pytest.raises(NotFoundError):
        chroma._make_client("other_db")
