"""Test documents made by a real office program: LibreOffice in headless mode.

Sources are written by the project's own test code (python-docx, openpyxl, python-pptx,
HTML, Pillow); LibreOffice converts them into the formats no library here writes (``.doc``,
``.xls``, ``.xlsm``, ``.xltx``, ``.ppt``, ``.odt``, ``.ods``, ``.odp``, ``.epub``, PDF).
LibreOffice is installed by ``scripts/install_libreoffice.sh``; the suite requires it.
"""

import shutil
import subprocess
from pathlib import Path

_FILTERS = {
    ".doc": "doc:MS Word 97",
    ".xls": "xls:MS Excel 97",
    ".ppt": "ppt:MS PowerPoint 97",
    ".xlsm": "xlsm:Calc MS Excel 2007 VBA XML",
    ".xltx": "xltx:Calc MS Excel 2007 XML Template",
    ".epub": "epub",
}


def soffice() -> str:
    """The LibreOffice executable; fails the test when it is not installed."""
    program = shutil.which("soffice")
    assert program, "LibreOffice is required: run scripts/install_libreoffice.sh"
    return program


def convert(source: Path, suffix: str, out_dir: Path) -> Path:
    """Convert ``source`` to ``suffix`` (``".doc"``, ``".pdf"``, ...) with LibreOffice.

    Returns:
        The converted file, ``out_dir/<source stem><suffix>``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    profile = out_dir / ".lo-profile"
    target = _FILTERS.get(suffix, suffix.lstrip("."))
    subprocess.run(
        [
            soffice(),
            f"-env:UserInstallation={profile.resolve().as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            target,
            "--outdir",
            str(out_dir),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    result = out_dir / f"{source.stem}{suffix}"
    assert result.is_file(), f"LibreOffice did not write {result}"
    return result
