"""Spreadsheets (``.xlsx``, ``.xlsm``, ``.xltx``, ``.xls``, ``.csv``) as markdown tables.

Each worksheet becomes a ``## <sheet name>`` heading, recorded as a sheet location, and one
markdown table of its used cells: the first non-empty row is the header, fully empty rows
and columns are left out. Values are written as a reader sees them: whole numbers without a
decimal point, other numbers to Excel's 15 significant digits, dates in ISO form.

Rows are streamed twice, first to find the columns in use, then to write the table lines,
so a large sheet is never held as a grid of cells, only as its markdown lines.
"""

import contextlib
import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sync_pipelines.core.documents.builder import MarkdownBuilder
from sync_pipelines.core.documents.errors import (
    ParseError,
    check_not_encrypted_ooxml,
    decode_utf8,
)
from sync_pipelines.core.types import ParsedDocument

Rows = Callable[[], Iterable[Sequence[object]]]
"""Returns a fresh iterator over a sheet's rows each time it is called (one per pass)."""

_SNIFF_CHARS = 64 * 1024
_SNIFF_DELIMITERS = ",;\t|"


def parse_xlsx(key: str, data: bytes) -> ParsedDocument:
    """Parse an Excel workbook (``.xlsx``, ``.xlsm``, ``.xltx``) with openpyxl.

    Formula cells give the value the program that saved the file computed (a file never
    opened by a spreadsheet program has none). Chart sheets are skipped.

    Args:
        key: The object key, for errors.
        data: The workbook bytes.

    Returns:
        Markdown with one ``## <sheet>`` heading and table per worksheet, and a sheet
        location at each heading.

    Raises:
        ParseError: The workbook is password-protected.
    """
    check_not_encrypted_ooxml(key, data, "Excel workbook")
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        doc = MarkdownBuilder()
        for sheet in book.worksheets:  # chart sheets are in book.chartsheets
            sheet.reset_dimensions()  # a stale <dimension> would cut rows off

            def rows(sheet: Any = sheet) -> Iterable[Sequence[object]]:
                return sheet.iter_rows(values_only=True)  # type: ignore[no-any-return]

            _add_sheet(doc, str(sheet.title), rows)
        return doc.build("markdown")
    finally:
        book.close()


def parse_xls(key: str, data: bytes) -> ParsedDocument:
    """Parse an Excel 97-2003 workbook (``.xls``) with xlrd.

    Args:
        key: The object key, for errors.
        data: The workbook bytes.

    Returns:
        The same shape as :func:`parse_xlsx`.

    Raises:
        ParseError: The workbook is password-protected.
    """
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except xlrd.XLRDError as exc:
        if "encrypted" in str(exc).lower():
            raise ParseError(
                key, "encrypted Excel 97-2003 workbook (a password is required)"
            ) from None
        raise
    try:
        doc = MarkdownBuilder()
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)

            def rows(sheet: Any = sheet) -> Iterator[list[object]]:
                for row in range(sheet.nrows):
                    yield [
                        _xls_value(ctype, value, book.datemode)
                        for ctype, value in zip(
                            sheet.row_types(row), sheet.row_values(row), strict=True
                        )
                    ]

            _add_sheet(doc, str(sheet.name), rows)
            book.unload_sheet(index)
        return doc.build("markdown")
    finally:
        book.release_resources()


def parse_csv(key: str, data: bytes) -> ParsedDocument:
    """Parse a CSV file as one markdown table (no sheet location: CSV has no sheets).

    The dialect (delimiter, quoting) is sniffed from the first 64 KiB, falling back to
    comma-separated.

    Args:
        key: The object key, for errors.
        data: UTF-8 text, a byte-order mark allowed.

    Raises:
        ParseError: The bytes hold a NUL byte or are not valid UTF-8 (naming the offset).
    """
    text = decode_utf8(key, data)
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    with contextlib.suppress(csv.Error):  # too little to go on: comma-separated
        dialect = csv.Sniffer().sniff(sample, delimiters=_SNIFF_DELIMITERS)

    def rows() -> Iterable[Sequence[object]]:
        return csv.reader(io.StringIO(text, newline=""), dialect)

    doc = MarkdownBuilder()
    doc.block("\n".join(_table_lines(rows)))
    return doc.build("markdown")


def _add_sheet(doc: MarkdownBuilder, name: str, rows: Rows) -> None:
    doc.mark(sheet=name)
    doc.block(f"## {_one_line(name)}")
    doc.block("\n".join(_table_lines(rows)))


def _table_lines(rows: Rows) -> Iterator[str]:
    """The lines of a markdown table of the rows' used columns, the first row as header."""
    used: set[int] = set()
    for row in rows():
        used.update(i for i, value in enumerate(row) if not _blank(value))
    columns = sorted(used)
    if not columns:
        return
    header = True
    for row in rows():
        width = len(row)
        cells = [_format(row[i]) if i < width else "" for i in columns]
        if not any(cells):
            continue
        yield "| " + " | ".join(cells) + " |"
        if header:
            yield "|" + " --- |" * len(columns)
            header = False


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _format(value: object) -> str:
    """A cell as table text: numbers without float noise, dates in ISO form, pipes escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float):
        text = _number(value)
    elif isinstance(value, dt.datetime):
        text = value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    elif isinstance(value, dt.date | dt.time):
        text = value.isoformat()
    else:
        text = str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return text.replace("|", "\\|").replace("\n", "<br>")


def _number(value: float) -> str:
    """Excel's 15 significant digits: ``42.0`` is ``42``, ``0.1 + 0.2`` is ``0.3``."""
    return f"{value:.15g}" if value else "0"  # no "-0"


def _xls_value(ctype: int, value: Any, datemode: int) -> object:
    """An xlrd cell as the Python value openpyxl would give."""
    import xlrd

    if ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(value)
    if ctype == xlrd.XL_CELL_ERROR:
        return str(xlrd.error_text_from_code.get(value, "#ERROR"))
    if ctype == xlrd.XL_CELL_DATE:
        try:
            year, month, day, hour, minute, second = xlrd.xldate_as_tuple(value, datemode)
        except xlrd.xldate.XLDateError:
            return float(value)  # out of range for a date: show the serial number
        if (year, month, day) == (0, 0, 0):
            return dt.time(hour, minute, second)
        return dt.datetime(year, month, day, hour, minute, second)
    return value  # text (str) or number (float)


def _one_line(text: str) -> str:
    return " ".join(text.split())
