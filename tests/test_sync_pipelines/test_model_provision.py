"""Contract of offline model provisioning (``sync_pipelines.core.model_provision``).

``provision_minilm`` lays the six all-MiniLM-L6-v2 files, each matching its pinned sha256, into
``<dest>/all-MiniLM-L6-v2/onnx`` and into chromadb's cache ``onnx/`` folder (hard-linked where
possible); a second run changes nothing; a damaged installed file is replaced; a source file
that does not match its pin, or a failing fetch, raises ``ModelProvisionError`` and installs
nothing; a complete model chromadb downloaded itself is left alone. The tests install from the
machine's already provisioned model folder, never from the network.
"""

import os
import stat
from pathlib import Path

import pytest

from sync_pipelines.core.embedding import find_model_dir
from sync_pipelines.core.model_provision import (
    PINNED_SHA256,
    REQUIRED_FILES,
    ModelProvisionError,
    main,
    provision_minilm,
    sha256_of,
)
from sync_pipelines.settings import get_settings


@pytest.fixture(scope="module")
def installed() -> Path:
    return find_model_dir(get_settings().resolved_model_dir)


def _hashes(folder: Path) -> dict[str, str]:
    return {path.name: sha256_of(path) for path in sorted(folder.iterdir())}


def test_provision_installs_pinned_files_in_both_places(installed: Path, tmp_path: Path) -> None:
    model_dir = provision_minilm(
        tmp_path / "models", chroma_cache=tmp_path / "cache", source_dir=installed
    )
    assert model_dir == tmp_path / "models" / "all-MiniLM-L6-v2" / "onnx"
    assert _hashes(model_dir) == PINNED_SHA256
    assert _hashes(tmp_path / "cache" / "onnx") == PINNED_SHA256
    assert os.path.samefile(model_dir / "model.onnx", tmp_path / "cache" / "onnx" / "model.onnx")


def test_provision_is_idempotent(installed: Path, tmp_path: Path) -> None:
    provision_minilm(tmp_path / "models", chroma_cache=tmp_path / "cache", source_dir=installed)
    model_dir = tmp_path / "models" / "all-MiniLM-L6-v2" / "onnx"
    before = {name: (model_dir / name).stat() for name in REQUIRED_FILES}
    # A source folder that no longer exists proves the second run needs no source at all.
    again = provision_minilm(
        tmp_path / "models", chroma_cache=tmp_path / "cache", source_dir=tmp_path / "gone"
    )
    assert again == model_dir
    for name in REQUIRED_FILES:
        after = (model_dir / name).stat()
        assert (after.st_ino, after.st_mtime_ns) == (before[name].st_ino, before[name].st_mtime_ns)
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(REQUIRED_FILES)


def test_damaged_installed_file_is_replaced(installed: Path, tmp_path: Path) -> None:
    model_dir = provision_minilm(tmp_path / "models", chroma_cache=None, source_dir=installed)
    (model_dir / "vocab.txt").write_text("corrupted\n")
    provision_minilm(tmp_path / "models", chroma_cache=None, source_dir=installed)
    assert sha256_of(model_dir / "vocab.txt") == PINNED_SHA256["vocab.txt"]


def test_corrupted_source_is_rejected(installed: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in REQUIRED_FILES:
        (source / name).write_bytes((installed / name).read_bytes())
    with (source / "tokenizer.json").open("ab") as handle:
        handle.write(b" ")
    with pytest.raises(ModelProvisionError, match=r"sha256 mismatch for tokenizer\.json"):
        provision_minilm(tmp_path / "models", chroma_cache=tmp_path / "cache", source_dir=source)
    assert not (tmp_path / "models" / "all-MiniLM-L6-v2" / "onnx" / "tokenizer.json").exists()
    assert not (tmp_path / "cache").exists()


def test_failing_fetch_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_uv = bin_dir / "uv"
    fake_uv.write_text("#!/bin/sh\necho 'error: network unreachable' >&2\nexit 2\n")
    fake_uv.chmod(fake_uv.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(ModelProvisionError, match="network unreachable"):
        provision_minilm(tmp_path / "models", chroma_cache=None)
    assert list((tmp_path / "models" / "all-MiniLM-L6-v2").iterdir()) == []


def test_existing_chroma_download_is_kept(installed: Path, tmp_path: Path) -> None:
    theirs = tmp_path / "cache" / "onnx"
    theirs.mkdir(parents=True)
    for name in REQUIRED_FILES:
        (theirs / name).write_bytes(b"chroma's own " + name.encode())
    provision_minilm(tmp_path / "models", chroma_cache=tmp_path / "cache", source_dir=installed)
    assert (theirs / "model.onnx").read_bytes() == b"chroma's own model.onnx"


def test_main_prints_where_it_put_things(
    installed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--dest", str(tmp_path / "m"), "--no-chroma-cache", "--source", str(installed)])
    assert code == 0
    assert capsys.readouterr().out == f"model: {tmp_path / 'm' / 'all-MiniLM-L6-v2' / 'onnx'}\n"
    assert (
        main(["--dest", str(tmp_path / "n"), "--no-chroma-cache", "--source", str(tmp_path)]) == 1
    )
    assert capsys.readouterr().err == "error: source has no model.onnx\n"
