"""The pure sidecar validator of the S3 ``metadata`` auto-sync mode.

Contract: a sidecar is a UTF-8 JSON object of at most 64 KiB with ``version`` "chroma-v1", a
non-empty ``id`` of at most 120 bytes (the custom_id), a ``path`` that is a full object key
inside the source's prefix (no leading ``/``, no ``..`` segment, not a folder, not a sidecar),
an optional valid Chroma ``target_collection_name`` and optional flat ``metadata`` without
reserved keys; anything else is refused with a ``SidecarError`` whose message names the field
and the reason.
"""

import json
from typing import Any

import pytest

from sync_pipelines.core.sidecars import (
    MAX_SIDECAR_BYTES,
    Sidecar,
    SidecarError,
    is_sidecar_key,
    parse_sidecar,
)


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def base(**fields: Any) -> dict[str, Any]:
    return {"version": "chroma-v1", "id": "doc-1", "path": "docs/a.pdf", **fields}


def test_valid_sidecar_with_every_field() -> None:
    document = base(
        target_collection_name="hand.book-2",
        metadata={"team": "ops", "year": 2024, "score": 0.5, "ok": True, "tags": ["a", "b"]},
    )

    sidecar = parse_sidecar(encode(document), path_prefix="docs/")

    assert sidecar == Sidecar(
        object_key="docs/a.pdf",
        custom_id="doc-1",
        target_collection_name="hand.book-2",
        metadata={"team": "ops", "year": 2024, "score": 0.5, "ok": True, "tags": ["a", "b"]},
    )


def test_minimal_sidecar_has_no_target_nor_metadata() -> None:
    sidecar = parse_sidecar(encode(base()))

    assert (sidecar.target_collection_name, sidecar.metadata) == (None, None)
    assert sidecar.custom_id == "doc-1"


def test_mixed_number_arrays_become_floats() -> None:
    sidecar = parse_sidecar(encode(base(metadata={"xs": [1, 2.5]})))

    assert sidecar.metadata == {"xs": [1.0, 2.5]}


def test_id_of_exactly_120_bytes_is_accepted() -> None:
    custom_id = "é" * 60  # 120 bytes of UTF-8

    assert parse_sidecar(encode(base(id=custom_id))).custom_id == custom_id


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe", "not UTF-8 text"),
        (b"{not json", "not valid JSON: Expecting property name enclosed in double quotes"),
        (b'{"version": NaN}', "not valid JSON: NaN is not a JSON number"),
        (b"[1, 2]", "must be a JSON object"),
        (encode(base(extra=1)), "unknown field 'extra'"),
        (encode({"version": "chroma-v1", "path": "a"}), "missing field 'id'"),
        (encode({"version": "chroma-v1", "id": "x"}), "missing field 'path'"),
        (encode(base(version="chroma-v2")), "version must be 'chroma-v1', got 'chroma-v2'"),
        (encode(base(id="")), "id must be a non-empty string"),
        (encode(base(id=7)), "id must be a non-empty string"),
        (encode(base(id="x" * 121)), "id must be at most 120 bytes of UTF-8"),
        (encode(base(id="a\x00b")), "sidecar.id must not contain NUL characters"),
        (encode(base(path="")), "path must be a non-empty string"),
        (encode(base(path="/docs/a.pdf")), "path must be a full object key, not start with '/'"),
        (encode(base(path="docs/../secret.txt")), "path must not contain '..' segments"),
        (encode(base(path="docs/folder/")), "path must name an object, not a folder"),
        (encode(base(path="docs/b.meta.json")), "path must not name another sidecar"),
        (encode(base(path="k" * 1025)), "path must be at most 1024 bytes of UTF-8"),
        (encode(base(target_collection_name="ab")), "target_collection_name 'ab' must be 3-512"),
        (encode(base(target_collection_name="a..b")), "must not contain two consecutive periods"),
        (encode(base(target_collection_name=5)), "target_collection_name must be a string"),
        (encode(base(metadata=[1])), "metadata: metadata must be an object"),
        (
            encode(base(metadata={"document_key": "x"})),
            "metadata: metadata key 'document_key' is reserved",
        ),
        (encode(base(metadata={"custom_id": "x"})), "metadata key 'custom_id' is reserved"),
        (encode(base(metadata={"chroma:x": 1})), "metadata key 'chroma:x' is reserved"),
        (encode(base(metadata={"n": {"a": 1}})), "metadata values must be strings, numbers"),
        (encode(base(metadata={"xs": [1, "a"]})), "metadata array 'xs' must hold values of one"),
        (encode(base(metadata={"xs": []})), "metadata array 'xs' must not be empty"),
        (encode(base(metadata={"n": 2**64})), "sidecar.metadata.n must be an integer that fits"),
        (b'{"version": "chroma-v1", "id": "x", "path": "a", "metadata": {"f": 1e999}}', "finite"),
    ],
)
def test_invalid_sidecars_are_refused_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(SidecarError) as caught:
        parse_sidecar(data)

    assert reason in str(caught.value)


def test_path_outside_the_prefix_is_refused() -> None:
    with pytest.raises(SidecarError) as caught:
        parse_sidecar(encode(base(path="other/a.pdf")), path_prefix="docs/")

    assert str(caught.value) == "path 'other/a.pdf' is outside the source's path_prefix 'docs/'"


def test_oversized_sidecar_is_refused_before_parsing() -> None:
    data = encode(base(metadata={"pad": "x" * MAX_SIDECAR_BYTES}))

    with pytest.raises(SidecarError) as caught:
        parse_sidecar(data)

    assert str(caught.value) == f"sidecar is {len(data)} bytes, over the 65536-byte cap"


def test_sidecar_keys_end_in_meta_json() -> None:
    assert is_sidecar_key("docs/a.pdf.meta.json")
    assert not is_sidecar_key("docs/a.pdf")
    assert not is_sidecar_key("docs/meta.json")
