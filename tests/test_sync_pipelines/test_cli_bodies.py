"""Request bodies built from CLI flags: each flag lands in the field the spec names.

Contract: ``source_body`` emits exactly one type key with the flags mapped onto the spec's
field names (``--prefix`` -> ``path_prefix``, ``--include`` -> ``include_path_regexes`` for web
and ``include_globs`` for GitHub), omits flags not given, and refuses mixes with a message
naming the flag; every body it builds is accepted by ``CreateSourcePayload``.
"""

import re

import pytest

from sync_pipelines.client.bodies import (
    SourceFlags,
    UsageError,
    invocation_body,
    parse_chunking,
    raw_body,
    source_body,
)
from sync_pipelines.schemas import CreateSourcePayload


def test_github_body() -> None:
    body = source_body(
        SourceFlags(database="db1", github="acme/site", include=["docs/**"], exclude=["*.png"])
    )
    assert body == {
        "database_name": "db1",
        "github": {
            "repository": "acme/site",
            "include_globs": ["docs/**"],
            "exclude_globs": ["*.png"],
        },
    }
    CreateSourcePayload.model_validate(body)


def test_s3_body_with_every_flag() -> None:
    flags = SourceFlags(
        database="db1",
        s3_bucket="bucket",
        region="eu-west-1",
        collection="kb-s3",
        prefix="docs/",
        auto_sync="metadata",
        endpoint_url="http://127.0.0.1:8333",
        aws_access_key_id="AK",
        aws_secret_access_key="SK",
        chunking="tree_sitter:800",
    )
    body = source_body(flags)
    assert body == {
        "database_name": "db1",
        "s3": {
            "bucket_name": "bucket",
            "region": "eu-west-1",
            "collection_name": "kb-s3",
            "path_prefix": "docs/",
            "auto_sync": "metadata",
            "endpoint_url": "http://127.0.0.1:8333",
            "aws_access_key_id": "AK",
            "aws_secret_access_key": "SK",
        },
        "chunking": {"type": "tree_sitter", "max_size_bytes": 800},
    }
    CreateSourcePayload.model_validate(body)


def test_web_body_omits_flags_not_given() -> None:
    body = source_body(SourceFlags(database="db1", web="https://example.com/", page_limit=5))
    assert body == {
        "database_name": "db1",
        "web_scrape": {"starting_url": "https://example.com/", "page_limit": 5},
    }
    CreateSourcePayload.model_validate(body)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tree_sitter", {"type": "tree_sitter"}),
        ("lines", {"type": "lines"}),
        ("lines:60", {"type": "lines", "max_lines": 60}),
        ("lines:60:4000", {"type": "lines", "max_lines": 60, "max_size_bytes": 4000}),
        ('{"type": "lines", "max_lines": 7}', {"type": "lines", "max_lines": 7}),
    ],
)
def test_parse_chunking(text: str, expected: dict[str, object]) -> None:
    assert parse_chunking(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("words", "--chunking 'words': use tree_sitter[:MAX_BYTES]"),
        ("lines:ten", "--chunking 'lines:ten': max_lines must be a whole number, got 'ten'"),
        ("tree_sitter:1:2", "--chunking 'tree_sitter:1:2': too many limits for tree_sitter"),
        ("{nope", "--chunking: not valid JSON"),
    ],
)
def test_parse_chunking_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_chunking(text)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (SourceFlags(database="db1"), "give exactly one of"),
        (SourceFlags(github="a/b"), "--database is required (or set CHROMA_SYNC_DATABASE)"),
        (SourceFlags(database="db1", github="a/b", page_limit=3), "--page-limit applies to"),
        (SourceFlags(database="db1", s3_bucket="b", collection="kb1", include=["x"]), "--include"),
        (SourceFlags(database="db1", web="https://x.org/", collection="kb1"), "--collection"),
    ],
)
def test_source_flag_errors(flags: SourceFlags, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        source_body(flags)


def test_invocation_bodies() -> None:
    assert invocation_body() == {}
    assert invocation_body(collection="kb-1", branch="main") == {
        "target_collection_name": "kb-1",
        "ref_identifier": {"branch": "main"},
    }
    assert invocation_body(sha="abc123") == {"ref_identifier": {"sha": "abc123"}}
    assert invocation_body(object_key="a.md", custom_id="x", metadata='{"n": 1}') == {
        "object_key": "a.md",
        "custom_id": "x",
        "metadata": {"n": 1},
    }
    with pytest.raises(UsageError, match="--metadata: not valid JSON"):
        invocation_body(metadata="{")


def test_raw_body_fills_database_only_when_missing() -> None:
    assert raw_body('{"web_scrape": {}}', "db1", "-") == {"web_scrape": {}, "database_name": "db1"}
    assert raw_body('{"database_name": "x"}', "db", "-") == {"database_name": "x"}
    with pytest.raises(UsageError, match=r"--body f\.json: expected a JSON object"):
        raw_body("[]", None, "f.json")
