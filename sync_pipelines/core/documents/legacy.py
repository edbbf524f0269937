"""Legacy binary Office files (``.doc``, ``.ppt``) converted by LibreOffice in headless mode.

No maintained library with a permissive licence reads them, so they are converted to their
Office Open XML form (``.docx``, ``.pptx``) by ``soffice --headless --convert-to`` and parsed
as such. LibreOffice is a system package (``scripts/install_libreoffice.sh``); without it,
these two types fail with a reason that says so. Each conversion uses its own temporary
profile, so conversions may run in parallel.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

from sync_pipelines.core.documents.errors import ParseError

CONVERT_TIMEOUT_S = 300


def soffice() -> str | None:
    """The LibreOffice executable on ``PATH``, if any."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(key: str, data: bytes, source_suffix: str, target_suffix: str, label: str) -> bytes:
    """Convert a document with LibreOffice and return the converted bytes.

    Args:
        key: The document's key, for errors.
        data: Its bytes.
        source_suffix: Its suffix, e.g. ``".doc"``.
        target_suffix: The suffix to convert to, e.g. ``".docx"``.
        label: What errors call the document, e.g. ``"Word 97-2003 document"``.

    Raises:
        ParseError: LibreOffice is missing, timed out or could not convert the file.
    """
    program = soffice()
    if program is None:
        raise ParseError(
            key,
            f"{label}s need LibreOffice to be read; install it with "
            "scripts/install_libreoffice.sh (or save the file as "
            f"{target_suffix})",
        )
    with tempfile.TemporaryDirectory(prefix="chroma-sync-soffice-") as tmp:
        folder = Path(tmp)
        source = folder / f"document{source_suffix}"
        source.write_bytes(data)
        out = folder / "out"
        command = [
            program,
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            target_suffix.lstrip("."),
            "--outdir",
            str(out),
            str(source),
        ]
        try:
            subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=CONVERT_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ParseError(
                key, f"LibreOffice did not convert the {label} within {CONVERT_TIMEOUT_S} s"
            ) from None
        converted = out / f"document{target_suffix}"
        if not converted.is_file() or converted.stat().st_size == 0:
            raise ParseError(key, f"corrupt {label} (LibreOffice could not read it)")
        return converted.read_bytes()
