"""``chroma-sync query``: nearest chunks straight from the embedded Chroma, with the local model.

Contract: the command opens the PersistentClient under CHROMA_SYNC_HOME, embeds the text with
the collection's model and prints ids, distances (ascending), document keys, lines (and pages
when recorded) and snippets; ``--json`` gives the same as JSON; ``--contains`` and ``--regex``
keep only chunks whose text matches (both given: matching both); an unknown database or
collection, or a pattern Chroma rejects, is one error line (exit 1) and creates nothing.
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


def test_query_shows_key_lines_and_pages(filled: Settings) -> None:
    chroma = ChromaResource(mode="persistent", path=str(filled.resolved_chroma_path))
    collection = chroma.get_collection(
        DB, COLLECTION, embedding_function=DefaultEmbeddingFunction()
    )
    text = "The warranty covers the blender motor for two years from the purchase date."
    embed = get_embedding_function(MINILM_MODEL, model_dir=filled.resolved_model_dir)
    metadata = {"document_key": "manual.pdf", "start_line": 40, "end_line": 52}
    collection.upsert(
        ids=["manual.pdf-3"],
        documents=[text],
        embeddings=embed([text]),
        metadatas=[{**metadata, "start_page": 2, "end_page": 3}],
    )
    result = query(COLLECTION, "blender warranty", "--database", DB, "-n", "1")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith("1. manual.pdf-3  distance ")
    assert first.endswith("  manual.pdf lines 40-52 pages 2-3")


def hit_ids(text: str, *options: str) -> list[str]:
    result = query(COLLECTION, text, "--database", DB, "-n", "3", "--json", *options)
    assert result.exit_code == 0, result.output
    return [hit["id"] for hit in json.loads(result.stdout)]


def test_query_contains_keeps_only_chunks_with_the_text(filled: Settings) -> None:
    assert len(hit_ids("a kitten on a rug")) == 3
    assert hit_ids("a kitten on a rug", "--contains", "Quarterly") == ["money/tax.md-0"]
    assert hit_ids("a kitten on a rug", "--contains", "quarterly") == []


def test_query_regex_keeps_only_matching_chunks(filled: Settings) -> None:
    found = hit_ids("taxes", "--regex", r"^(Deploy|A kitten)\b")
    assert sorted(found) == ["ops/deploy.md-0", "pets/cats.md-0"]
    assert hit_ids("taxes", "--regex", r"rug.*fire") == ["pets/cats.md-0"]


def test_query_contains_and_regex_combine(filled: Settings) -> None:
    assert hit_ids("anything", "--contains", "the", "--regex", "^Deploy") == ["ops/deploy.md-0"]
    assert hit_ids("anything", "--contains", "kitten", "--regex", "^Deploy") == []
    result = query(COLLECTION, "x", "--database", DB, "--contains", "kitten", "--regex", "^Q")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "no chunk of collection 'kb-query' matches the filter"


def test_query_invalid_regex_is_one_error_line(filled: Settings) -> None:
    result = query(COLLECTION, "anything", "--database", DB, "--regex", "(unclosed")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "error: invalid --regex '(unclosed': unclosed group"
    lookbehind = query(COLLECTION, "anything", "--database", DB, "--regex", "(?<=a)b")
    assert lookbehind.exit_code == 1
    assert lookbehind.stderr.startswith("error: invalid --regex '(?<=a)b': look-around")
