"""Conformance of ``sync_pipelines.schemas`` with the patched Sync API spec and NOTES.md.

Contract: for every component schema of ``spec/sync.openapi.patched.json`` there is a Python
type in ``SPEC_SCHEMAS``; valid example payloads (every oneOf variant) parse with it and its
``model_dump(mode="json")`` (with and without ``exclude_none``) validates against the spec
schema (JSON Schema 2020-12, refs resolved over the spec document); payloads the spec,
NOTES.md or Chroma's name rules reject are rejected by the model (and the spec agrees where
it is the spec's rule); and the model's JSON schema has the spec's property names, required
sets and enum values, except for the documented extension and write-only fields.
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import TypeAdapter, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sync_pipelines.core.types import ChunkingOptions
from sync_pipelines.schemas import (
    SPEC_SCHEMAS,
    CreateSourcePayload,
    InvocationStatusFilter,
    JobStatus,
    LinesChunkingConfig,
    Source,
    TreeSitterChunkingConfig,
    to_chunking_options,
)

SPEC_PATH = Path(__file__).parents[2] / "sync_pipelines" / "spec" / "sync.openapi.patched.json"
SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text())
SPEC_SCHEMA_DEFS: dict[str, Any] = SPEC["components"]["schemas"]
SPEC_URI = "urn:chroma-sync:spec"
REGISTRY: Registry = Registry().with_resource(
    SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value)
    return "T" in value and parsed.tzinfo is not None


def spec_errors(name: str, instance: Any) -> list[str]:
    validator = Draft202012Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{name}"},
        registry=REGISTRY,
        format_checker=FORMATS,
    )
    return [e.message for e in validator.iter_errors(instance)]


SID = "5f0c6a1e-7d1b-4c1e-9a57-2f4b9c0e1d11"
JID = "0b8f2d64-1f8e-4a53-8b3a-6e0f0c7a9d22"
TS = "2025-03-04T05:06:07.123000Z"
S3_CFG = {"bucket_name": "docs", "region": "us-east-1", "collection_name": "kb1"}
GITHUB_CFG = {"repository": "chroma-core/chroma"}
WEB_CFG = {"starting_url": "https://docs.trychroma.com/"}
DENSE = {"model": "all-MiniLM-L6-v2"}
QWEN = {"model": "Qwen/Qwen3-Embedding-0.6B", "task": {"task_name": "generic_retrieval"}}
CHUNK_TS = {"type": "tree_sitter", "max_size_bytes": 1500}
CHUNK_LINES = {"type": "lines", "max_lines": 40, "max_size_bytes": 2000}
EMBEDDING = {"dense": DENSE, "sparse": None}
META_S3 = {"database_name": "db1", "collection_name": "kb1", "s3": {"bucket_name": "docs"}}
META_GH = {
    "database_name": "db1",
    "collection_name": "code",
    "github": {"git_ref_identifier": {"branch": "main"}},
}
META_WEB = {
    "database_name": "db1",
    "collection_name": "site",
    "web_scrape": {"starting_url": "https://example.com/"},
}
META_FILE = {
    "database_name": "db1",
    "collection_name": "files",
    "file_upload": {"filename": "a.md"},
}
JOB = {"id": JID, "status": "pending", "metadata": META_S3, "source_id": SID, "created_at": TS}
JOB_DONE = {
    "id": JID,
    "status": {"complete": {"finished_at": TS, "duration_ms": 1234}},
    "metadata": META_GH,
    "created_at": TS,
}
SOURCE_COMMON = {
    "id": SID,
    "database_name": "db1",
    "embedding_model": DENSE,
    "chunking": CHUNK_TS,
    "embedding": EMBEDDING,
    "created_at": TS,
}

VALID: dict[str, list[Any]] = {
    "AddFileResponse": [{"invocation_id": JID}],
    "AutoSync": ["none", "direct", "metadata"],
    "CancelJobResponse": [{}],
    "CreateJobPayload": [
        {},
        {"object_key": "docs/a.md"},
        {
            "object_key": "docs/a.md",
            "custom_id": "é" * 60,
            "target_collection_name": "kb2",
            "metadata": {"n": 1, "f": 0.5, "b": False, "s": "x", "tags": ["a", "b"]},
        },
        {"target_collection_name": "code", "ref_identifier": {"sha": "abc123"}},
        {"target_collection_name": "code", "ref_identifier": {"branch": "dev"}},
        {"custom_id": None, "metadata": None, "ref_identifier": None, "object_key": None},
    ],
    "CreateJobResponse": [{"invocation_id": JID}],
    "CreateSourcePayload": [
        {"database_name": "db1", "github": GITHUB_CFG},
        {"database_name": "db1", "github": {**GITHUB_CFG, "include_globs": ["**/*.py"]}},
        {"database_name": "db1", "web_scrape": WEB_CFG, "chunking": CHUNK_LINES},
        {
            "database_name": "db1",
            "web_scrape": {
                **WEB_CFG,
                "max_depth": 3,
                "page_limit": 50,
                "include_path_regexes": ["^/docs"],
                "exclude_path_regexes": ["\\.pdf$"],
            },
        },
        {"database_name": "db1", "s3": S3_CFG, "embedding_model": DENSE},
        {"database_name": "db1", "s3": {**S3_CFG, "aws_credential_id": 7, "auto_sync": "none"}},
        {
            "database_name": "db1",
            "s3": {**S3_CFG, "aws_access_key_id": "AKIA", "aws_secret_access_key": "shh"},
            "embedding": {"dense": QWEN, "sparse": {"key": "sp", "model": "Chroma/BM25"}},
        },
        {"database_name": "db1", "s3": {**S3_CFG, "path_prefix": "docs/"}, "chunking": CHUNK_TS},
    ],
    "CreateSourceResponse": [{"source_id": SID}],
    "DenseEmbeddingConfig": [DENSE, QWEN],
    "DenseEmbeddingModel": [DENSE, QWEN, {"model": "Qwen/Qwen3-Embedding-0.6B", "task": None}],
    "ErrorResponse": [{"error": "NotFound", "message": "Source not found"}],
    "GitRefIdentifier": [{"sha": "deadbeef"}, {"branch": "main"}],
    "HashMap": [{}, {"docs/a.md": JOB, "docs/b.md": JOB_DONE}],
    "IndexJobMetadata": [
        META_S3,
        META_GH,
        META_WEB,
        META_FILE,
        {
            **META_S3,
            "s3": {
                "bucket_name": "docs",
                "object_key": "docs/a.md",
                "custom_id": "doc-a",
                "additional_metadata": {"team": "core"},
            },
        },
        {
            "database_name": "db1",
            "collection_name": "col",
            "github": {"git_ref_identifier": {"sha": "a1"}},
        },
    ],
    "IndexJobMetadataKind": [
        {"s3": {"bucket_name": "b"}},
        {"github": {"git_ref_identifier": {"branch": "main"}}},
        {"web_scrape": {}},
        {"file_upload": {}},
    ],
    "InvocationStatusFilter": ["pending", "processing", "complete", "failed", "cancelled"],
    "Job": [
        JOB,
        JOB_DONE,
        {**JOB, "status": "processing", "metadata": META_WEB, "source_id": None},
        {**JOB, "status": "cancelled", "metadata": META_FILE},
        {**JOB, "status": {"failed": {"error": "boom"}}},
    ],
    "JobId": [JID],
    "JobStatus": [
        "pending",
        "processing",
        "cancelled",
        {"complete": {"finished_at": TS, "duration_ms": 0}},
        {"failed": {"error": "NoSuchKey"}},
    ],
    "LatestByKeysRequest": [{"object_keys": []}, {"object_keys": ["a", "b/c"]}],
    "OrderBy": ["ASC", "DESC"],
    "Qwen3EmbeddingTask": [
        {"task_name": "generic_retrieval"},
        {"task_name": "t", "document_prompt": "d", "query_prompt": None},
    ],
    "Source": [
        {**SOURCE_COMMON, "github": {**GITHUB_CFG, "app_id": None}},
        {**SOURCE_COMMON, "web_scrape": WEB_CFG, "chunking": CHUNK_LINES},
        {**SOURCE_COMMON, "s3": {**S3_CFG, "aws_credential_id": 3}, "embedding_model": QWEN},
        {**SOURCE_COMMON, "s3": {**S3_CFG, "endpoint_url": "http://127.0.0.1:8333"}},
        {**SOURCE_COMMON, "file_upload": {}},
    ],
    "SourceChunkingConfig": [
        {"type": "tree_sitter"},
        CHUNK_TS,
        {"type": "lines"},
        CHUNK_LINES,
        {"type": "lines", "max_lines": 0, "max_size_bytes": 0},
    ],
    "SourceEmbeddingConfig": [
        {},
        EMBEDDING,
        {"dense": QWEN, "sparse": {"key": "bm25", "model": "Chroma/BM25"}},
        {"sparse": {"model": "prithivida/Splade_PP_en_v1"}},
    ],
    "SourceId": [SID],
    "SourceType": [
        {"github": GITHUB_CFG},
        {"web_scrape": WEB_CFG},
        {"s3": S3_CFG},
        {"file_upload": {}},
    ],
    "SourceTypeFilter": ["github", "web_scrape", "s3"],
    "SparseEmbeddingConfig": [{}, {"key": "sparse", "model": "Chroma/BM25"}],
    "SparseEmbeddingModel": ["Chroma/BM25", "prithivida/Splade_PP_en_v1"],
    "Vec": [[], [JOB, JOB_DONE]],
}

# (payload, does the spec schema itself reject it?)  False: rejected by NOTES.md or our rules.
INVALID: dict[str, list[tuple[Any, bool]]] = {
    "AddFileResponse": [({}, True), ({"invocation_id": "nope"}, True)],
    "AutoSync": [("sometimes", True)],
    "CancelJobResponse": [([], True)],
    "CreateJobPayload": [
        ({"custom_id": "x" * 121}, True),
        ({"custom_id": "é" * 61}, False),  # 122 bytes: NOTES counts bytes
        ({"metadata": {"k": {"nested": 1}}}, False),
        ({"metadata": {"k": [1, "a"]}}, False),
        ({"metadata": {"k": []}}, False),
        ({"metadata": {"k": None}}, False),
        ({"metadata": {"document_key": "x"}}, False),
        ({"ref_identifier": {"sha": "a", "branch": "b"}}, True),
        ({"metadata": []}, True),
        ({"target_collection_name": 5}, True),
        ({"target_collection_name": "kb"}, False),  # Chroma's collection name rule
        ({"target_collection_name": "10.0.0.1"}, False),
        ({"unknown": 1}, False),
    ],
    "CreateJobResponse": [({"invocation_id": 1}, True)],
    "CreateSourcePayload": [
        ({"github": GITHUB_CFG}, True),
        ({"database_name": "db1"}, True),
        ({"database_name": "db1", "github": GITHUB_CFG, "s3": S3_CFG}, True),
        ({"database_name": "db1", "s3": {"bucket_name": "b", "region": "r"}}, True),
        ({"database_name": "db1", "s3": {**S3_CFG, "aws_access_key_id": "AKIA"}}, False),
        ({"database_name": "db1", "s3": {**S3_CFG, "aws_secret_access_key": "s"}}, False),
        (
            {
                "database_name": "db1",
                "s3": {
                    **S3_CFG,
                    "aws_credential_id": 1,
                    "aws_access_key_id": "AKIA",
                    "aws_secret_access_key": "s",
                },
            },
            False,
        ),
        ({"database_name": "db1", "file_upload": {}}, False),
        (
            {"database_name": "db1", "s3": S3_CFG, "chunking": {"type": "lines", "max_lines": -1}},
            True,
        ),
        ({"database_name": "db1", "s3": S3_CFG, "embedding_model": {"model": "gpt"}}, True),
        ({"database_name": "db1", "web_scrape": {**WEB_CFG, "page_limit": -1}}, True),
        ({"database_name": "db1", "github": {**GITHUB_CFG, "include_globs": ["a", "a"]}}, True),
        (
            {
                "database_name": "db1",
                "s3": S3_CFG,
                "embedding_model": DENSE,
                "embedding": {"dense": QWEN},
            },
            False,
        ),
        ({"database_name": "db1", "s3": S3_CFG, "extra": 1}, False),
        ({"database_name": "ab", "github": GITHUB_CFG}, False),  # Chroma: at least 3 characters
        ({"database_name": "db1", "s3": {**S3_CFG, "collection_name": "a..b"}}, False),
    ],
    "CreateSourceResponse": [({}, True)],
    "DenseEmbeddingConfig": [({"model": "text-embedding-3"}, True)],
    "DenseEmbeddingModel": [({}, True), ({"model": "all-MiniLM-L6-v2", "task": {}}, True)],
    "ErrorResponse": [({"error": "x"}, True)],
    "GitRefIdentifier": [({}, True), ({"sha": "a", "branch": "b"}, True), ({"tag": "v1"}, True)],
    "HashMap": [({"k": {"id": JID}}, True)],
    "IndexJobMetadata": [
        ({"database_name": "db1", "collection_name": "col"}, True),
        ({**META_S3, "web_scrape": {}}, True),
        ({"collection_name": "col", "s3": {"bucket_name": "b"}}, True),
    ],
    "IndexJobMetadataKind": [({"s3": {}}, True), ({"github": {}}, True)],
    "InvocationStatusFilter": [("done", True)],
    "Job": [
        ({**JOB, "id": "x"}, True),
        ({**JOB, "status": "complete"}, True),
        ({**JOB, "status": {"complete": {"finished_at": TS, "duration_ms": -1}}}, True),
        ({**JOB, "created_at": "yesterday"}, True),
        ({k: v for k, v in JOB.items() if k != "metadata"}, True),
    ],
    "JobId": [("1234", True)],
    "JobStatus": [
        ("done", True),
        ({"failed": {}}, True),
        ({"complete": {"finished_at": TS}}, True),
        ({"pending": {}}, True),
    ],
    "LatestByKeysRequest": [({}, True), ({"object_keys": [1]}, True)],
    "OrderBy": [("asc", True)],
    "Qwen3EmbeddingTask": [({}, True)],
    "Source": [
        ({k: v for k, v in SOURCE_COMMON.items() if k != "chunking"} | {"s3": S3_CFG}, True),
        (SOURCE_COMMON, True),
        (
            {
                **SOURCE_COMMON,
                "s3": {**S3_CFG, "aws_access_key_id": "A", "aws_secret_access_key": "S"},
            },
            False,  # a Source never carries secrets
        ),
    ],
    "SourceChunkingConfig": [
        ({"type": "semantic"}, True),
        ({"max_size_bytes": 10}, True),
        ({"type": "tree_sitter", "max_size_bytes": -5}, True),
    ],
    "SourceEmbeddingConfig": [({"dense": {"model": "nope"}}, True)],
    "SourceId": [("not-a-uuid", True)],
    "SourceType": [
        ({}, True),
        ({"s3": S3_CFG, "github": GITHUB_CFG}, True),
        ({"s3": {**S3_CFG, "aws_access_key_id": "A", "aws_secret_access_key": "S"}}, False),
        ({"github": {"repository": "not a repo"}}, False),
        ({"web_scrape": {"starting_url": "ftp://example.com"}}, False),
        ({"web_scrape": {**WEB_CFG, "include_path_regexes": ["("]}}, False),
    ],
    "SourceTypeFilter": [("file_upload", True)],
    "SparseEmbeddingConfig": [({"model": "bm25"}, True)],
    "SparseEmbeddingModel": [("bm25", True)],
    "Vec": [({}, True), ([{"id": JID}], True)],
}


def _adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter(SPEC_SCHEMAS[name])


def test_every_spec_schema_is_modelled_and_exercised() -> None:
    assert set(SPEC_SCHEMAS) == set(SPEC_SCHEMA_DEFS)
    assert set(VALID) == set(SPEC_SCHEMA_DEFS)
    assert set(INVALID) == set(SPEC_SCHEMA_DEFS)


@pytest.mark.parametrize(
    ("name", "payload"),
    [(name, p) for name, payloads in VALID.items() for p in payloads],
    ids=lambda v: v if isinstance(v, str) and v in VALID else "",
)
def test_valid_payload_parses_and_dumps_to_spec_valid_json(name: str, payload: Any) -> None:
    assert spec_errors(name, payload) == [], "example must be valid per the spec"
    adapter = _adapter(name)
    parsed = adapter.validate_python(payload)
    for exclude_none in (False, True):
        dumped = adapter.dump_python(parsed, mode="json", exclude_none=exclude_none)
        assert spec_errors(name, dumped) == []
    assert adapter.validate_python(adapter.dump_python(parsed, mode="json")) == parsed


@pytest.mark.parametrize(
    ("name", "payload", "spec_rejects"),
    [(name, p, r) for name, cases in INVALID.items() for p, r in cases],
    ids=lambda v: v if isinstance(v, str) and v in INVALID else "",
)
def test_invalid_payload_is_rejected(name: str, payload: Any, spec_rejects: bool) -> None:
    assert bool(spec_errors(name, payload)) is spec_rejects
    with pytest.raises(ValidationError):
        _adapter(name).validate_python(payload)


def _deref(node: Any, defs: dict[str, Any]) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        target = defs[ref.rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k not in ("$ref", "description")}}
    return node


def _flatten(node: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """Object shape of a schema: union of property schemas over allOf/oneOf/anyOf branches.

    ``required`` is the union over allOf parts and the intersection over alternatives;
    ``null`` alternatives are dropped; enum/const values are collected.
    """
    node = _deref(node, defs)
    props: dict[str, list[Any]] = {}
    enums: set[Any] = set()
    required: set[str] = set(node.get("required", []))
    for key, value in node.get("properties", {}).items():
        props.setdefault(key, []).append(value)
    enums.update(node.get("enum", []))
    if "const" in node:
        enums.add(node["const"])
    for part in node.get("allOf", []):
        sub = _flatten(part, defs)
        required |= sub["required"]
        enums |= sub["enums"]
        for key, values in sub["props"].items():
            props.setdefault(key, []).extend(values)
    branches = [
        b
        for b in node.get("oneOf", []) + node.get("anyOf", [])
        if _deref(b, defs) != {"type": "null"}
    ]
    if branches:
        subs = [_flatten(b, defs) for b in branches]
        object_subs = [s for s in subs if s["props"] or s["required"]]
        if object_subs:
            required |= set.intersection(*(s["required"] for s in object_subs))
        for sub in subs:
            enums |= sub["enums"]
            for key, values in sub["props"].items():
                props.setdefault(key, []).extend(values)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            props.setdefault(f"<{key}>", []).append(node[key])
    return {"props": props, "required": required, "enums": enums}


# Deliberate differences from the spec, by property path.
# S3 ``endpoint_url`` and ``mirror_deletes`` are our extensions; inline AWS keys are
# write-only (create payload only).
# GitHub ``base_url``, ``exclude_globs``, ``watch_branches`` and ``watch_collection`` are our
# extensions, and so is the write-only ``token`` of the create payload. ``schedule`` (GitHub,
# web, S3) and a Job's ``progress`` are our extensions.
_SOURCE_MODELS = ("Source", "SourceType", "CreateSourcePayload")
_GITHUB_EXTENSIONS = {"base_url", "exclude_globs", "watch_branches", "watch_collection", "schedule"}
EXTENSIONS = {
    **{f"{n}.web_scrape": {"schedule"} for n in _SOURCE_MODELS},
    **{path: {"progress"} for path in ("Job", "HashMap.<additionalProperties>", "Vec.<items>")},
    **{f"{n}.s3": {"endpoint_url", "mirror_deletes", "schedule"} for n in _SOURCE_MODELS},
    **{f"{n}.github": set(_GITHUB_EXTENSIONS) for n in ("Source", "SourceType")},
    "CreateSourcePayload.github": _GITHUB_EXTENSIONS | {"token"},
}
WRITE_ONLY = {
    f"{n}.s3": {"aws_access_key_id", "aws_secret_access_key"} for n in ("Source", "SourceType")
}


def _compare(path: str, spec: list[Any], model: list[Any], sdefs: Any, mdefs: Any) -> None:
    if all(node == {} for node in spec):
        return  # the spec allows anything here; the model may narrow it (metadata values)
    s = [_flatten(n, sdefs) for n in spec]
    m = [_flatten(n, mdefs) for n in model]
    s_props = {k: v for f in s for k, v in f["props"].items()}
    m_props = {k: v for f in m for k, v in f["props"].items()}
    expected = (set(s_props) - WRITE_ONLY.get(path, set())) | EXTENSIONS.get(path, set())
    assert set(m_props) == expected, path
    assert set.union(*(f["required"] for f in m)) == set.union(*(f["required"] for f in s)), path
    assert set.union(*(f["enums"] for f in m)) == set.union(*(f["enums"] for f in s)), path
    for key in s_props.keys() & m_props.keys():
        spec_nodes = [n for f in s for n in f["props"].get(key, [])]
        model_nodes = [n for f in m for n in f["props"].get(key, [])]
        _compare(f"{path}.{key}", spec_nodes, model_nodes, sdefs, mdefs)


@pytest.mark.parametrize("mode", ["validation", "serialization"])
@pytest.mark.parametrize("name", sorted(SPEC_SCHEMA_DEFS))
def test_model_json_schema_matches_spec_shape(name: str, mode: Any) -> None:
    model_schema = _adapter(name).json_schema(mode=mode)
    _compare(
        name,
        [SPEC_SCHEMA_DEFS[name]],
        [model_schema],
        SPEC_SCHEMA_DEFS,
        model_schema.get("$defs", {}),
    )


def test_source_payload_defaults_and_secrets() -> None:
    payload = CreateSourcePayload.model_validate(
        {
            "database_name": "db1",
            "s3": {**S3_CFG, "aws_access_key_id": "AKIA", "aws_secret_access_key": "shh"},
        }
    )
    assert payload.source_type == "s3"
    assert payload.resolved_chunking() == TreeSitterChunkingConfig(type="tree_sitter")
    assert payload.resolved_chunking().max_size_bytes == 1500
    assert payload.resolved_embedding_model().model == "all-MiniLM-L6-v2"
    embedding = payload.resolved_embedding()
    assert embedding.dense is not None
    assert embedding.dense.model == "all-MiniLM-L6-v2"
    stored = payload.stored_type(aws_credential_id=9)
    dumped = json.dumps(stored.model_dump(mode="json"))
    assert "shh" not in dumped and "AKIA" not in dumped
    assert stored.s3 is not None and stored.s3.aws_credential_id == 9

    from_dense = CreateSourcePayload.model_validate(
        {"database_name": "db1", "github": GITHUB_CFG, "embedding": {"dense": QWEN}}
    )
    assert from_dense.resolved_embedding_model().model == "Qwen/Qwen3-Embedding-0.6B"
    assert from_dense.resolved_embedding_model().task is not None


def test_source_wire_shape_is_flat_with_one_type_key() -> None:
    source = Source.model_validate({**SOURCE_COMMON, "web_scrape": WEB_CFG})
    dumped = source.model_dump(mode="json")
    assert source.source_type == "web_scrape"
    assert {"github", "s3", "file_upload"}.isdisjoint(dumped)
    assert dumped["web_scrape"]["starting_url"] == WEB_CFG["starting_url"]
    assert dumped["id"] == SID
    assert source.id == UUID(SID)
    assert dumped["created_at"] == TS


def test_job_status_helpers() -> None:
    finished = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    complete = JobStatus.complete(finished, 1500)
    assert complete.model_dump(mode="json") == {
        "complete": {"finished_at": "2025-01-02T03:04:05Z", "duration_ms": 1500}
    }
    assert complete.word is InvocationStatusFilter.COMPLETE
    assert (complete.finished_at, complete.duration_ms, complete.error) == (finished, 1500, None)
    failed = JobStatus.failed("NoSuchKey")
    assert failed.model_dump(mode="json") == {"failed": {"error": "NoSuchKey"}}
    assert (failed.word, failed.error) == (InvocationStatusFilter.FAILED, "NoSuchKey")
    for word in ("pending", "processing", "cancelled"):
        status = getattr(JobStatus, word)()
        assert status.model_dump(mode="json") == word
        assert status.word == word
    with pytest.raises(ValidationError):
        JobStatus.complete(finished.replace(tzinfo=None), 1)


def test_to_chunking_options() -> None:
    assert to_chunking_options(TreeSitterChunkingConfig(type="tree_sitter")) == ChunkingOptions(
        strategy="tree_sitter", max_size_bytes=1500
    )
    lines = LinesChunkingConfig(type="lines", max_lines=12, max_size_bytes=900)
    assert to_chunking_options(lines) == ChunkingOptions(
        strategy="lines", max_size_bytes=900, max_lines=12
    )
    zero = LinesChunkingConfig(type="lines", max_lines=0, max_size_bytes=0)
    assert to_chunking_options(zero) == ChunkingOptions(
        strategy="lines", max_size_bytes=1, max_lines=1
    )


def test_metadata_arrays_are_normalised_for_chroma() -> None:
    adapter = _adapter("CreateJobPayload")
    parsed = adapter.validate_python({"metadata": {"nums": [1, 2.5], "ints": [1, 2], "on": [True]}})
    assert parsed.metadata == {"nums": [1.0, 2.5], "ints": [1, 2], "on": [True]}
    assert [type(v) for v in parsed.metadata["nums"]] == [float, float]
    assert [type(v) for v in parsed.metadata["ints"]] == [int, int]
    assert [type(v) for v in parsed.metadata["on"]] == [bool]
    with pytest.raises(ValidationError):
        adapter.validate_python({"metadata": {"mixed": [True, 1]}})
    with pytest.raises(ValidationError):
        adapter.validate_python({"metadata": {"chroma:document": "x"}})
