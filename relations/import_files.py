"""Read HR's tabular files (CSV in any common Chinese-Windows encoding, or .xlsx) into rows.

Reading never raises on bad input: every problem becomes an `ImportIssue` so that the importer
can list all of them at once. Limits come from settings and are checked before anything large
is decoded or unpacked. A .xlsx is a zip archive: before openpyxl opens it, its entry count and
declared sizes are checked, then every part is inflated through `zipfile` in chunks that are
counted and thrown away, stopping at the limits, so what the archive declares does not matter.
Beside the total, a part that openpyxl reads whole (everything but the worksheets, which it
streams: the shared strings, the styles…) has a limit of its own, since openpyxl holds it in
memory at several times its size.

A value that `export_org` neutralised for spreadsheets ("'=SUM(A1)" for "=SUM(A1)", see
`icr.spreadsheet`) is read as the text it stands for.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.translation import gettext as _

from icr.spreadsheet import restore


@dataclass(frozen=True)
class ImportSource:
    """One uploaded file: its name (the extension decides .csv or .xlsx) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class ImportIssue:
    """One error: file name, line (1 = the header row), column name ("" = the whole file)."""

    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = (
            f"{self.file}:{self.line}:{self.column}" if self.column else f"{self.file}:{self.line}"
        )
        return f"{where}: {self.message}"

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class Table:
    """The data rows of one file, as dicts keyed by column name, with their line numbers."""

    name: str
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    header_ok: bool = False
    failed: bool = False  # could not be read to the end (encoding, limits, broken CSV/xlsx)

    @property
    def ok(self) -> bool:
        """Usable for checks against other files: right header, read to the end."""
        return self.header_ok and not self.failed

    def issue(self, line: int, column: str, message: str) -> ImportIssue:
        return ImportIssue(self.name, line, column, message)

    def fail(self, errors: list[ImportIssue], line: int, message: str) -> None:
        self.failed = True
        errors.append(self.issue(line, "", message))


XLSX_EXTENSIONS = (".xlsx", ".xlsm")
# Control characters that never appear in a text file (tab, newlines and form feed do).
_TEXT_CONTROLS = {"\t", "\n", "\r", "\f", "\v"}


def read_table(
    source: ImportSource, headers: Sequence[Sequence[str]], errors: list[ImportIssue]
) -> Table:
    """Read `source`; its header must name exactly the columns of one of `headers`.

    Problems are appended to `errors`; the returned table has `ok` False when the file could
    not be used at all (then its rows are not checked any further).
    """
    table = Table(source.name)
    max_bytes = settings.ICR_IMPORT_MAX_BYTES
    if len(source.data) > max_bytes:
        errors.append(
            table.issue(
                1,
                "",
                _("The file is %(size)s bytes; at most %(limit)s bytes are accepted.")
                % {"size": len(source.data), "limit": max_bytes},
            )
        )
        table.failed = True
        return table
    if source.name.lower().endswith(XLSX_EXTENSIONS):
        raw_rows = _xlsx_rows(source, headers, table, errors)
    else:
        raw_rows = _csv_rows(source, table, errors)
    if raw_rows is None:
        return table
    _take_rows(raw_rows, headers, table, errors)
    return table


def _take_rows(raw_rows, headers, table: Table, errors: list[ImportIssue]) -> None:
    max_rows = settings.ICR_IMPORT_MAX_ROWS
    header: list[str] | None = None
    for line, cells in raw_rows:
        values = [cell.strip() for cell in cells]
        if header is None:
            if not any(values):
                continue  # blank lines before the header
            header = [v.lstrip("\ufeff") for v in values]
            while header and not header[-1]:
                header.pop()  # Excel sometimes saves trailing empty columns
            if not _check_header(header, headers, table, line, errors):
                return
            table.header_ok = True
            table.columns = header
            continue
        if not any(values):
            continue
        if len(table.rows) >= max_rows:
            errors.append(
                table.issue(
                    line,
                    "",
                    _("The file has more than %(limit)s data rows.") % {"limit": max_rows},
                )
            )
            table.failed = True
            return
        extra = [v for v in values[len(header) :] if v]
        if extra:
            errors.append(
                table.issue(
                    line,
                    "",
                    _("This row has %(count)s values but the header has %(columns)s columns.")
                    % {"count": len(values), "columns": len(header)},
                )
            )
            continue
        values = [restore(v) for v in values]  # as export_org wrote "=SUM(A1)": "'=SUM(A1)"
        values += [""] * (len(header) - len(values))
        table.rows.append((line, dict(zip(header, values, strict=False))))
    if header is None and not table.failed:
        table.fail(errors, 1, _("The file is empty."))


def _check_header(header, headers, table: Table, line: int, errors: list[ImportIssue]) -> bool:
    seen: set[str] = set()
    ok = True
    for column in header:
        if column in seen:
            errors.append(
                table.issue(
                    line, column, _("Column “%(column)s” appears twice.") % {"column": column}
                )
            )
            ok = False
        seen.add(column)
    if any(seen == set(allowed) for allowed in headers):
        return ok
    # Compare with the closest accepted header so the messages are about the likely intent.
    expected = max(headers, key=lambda allowed: len(seen & set(allowed)) - len(allowed) / 100)
    for column in expected:
        if column not in seen:
            errors.append(
                table.issue(
                    line,
                    column,
                    _("Column “%(column)s” is missing; the header must be: %(header)s")
                    % {"column": column, "header": ",".join(expected)},
                )
            )
    for column in header:
        if column not in expected:
            errors.append(
                table.issue(
                    line,
                    column,
                    _("Unknown column “%(column)s”; the header must be: %(header)s")
                    % {"column": column, "header": ",".join(expected)},
                )
            )
    return False


def decode_text(data: bytes) -> str | None:
    """UTF-8 (with or without the BOM Excel writes), else GB18030 (a superset of GBK)."""
    if b"\x00" in data:
        return None  # no text encoding we accept has NUL bytes; this is a binary file
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if any(unicodedata.category(ch) == "Cc" and ch not in _TEXT_CONTROLS for ch in set(text)):
            return None
        return text
    return None


def _csv_rows(source: ImportSource, table: Table, errors: list[ImportIssue]):
    text = decode_text(source.data)
    if text is None:
        errors.append(
            table.issue(
                1,
                "",
                _(
                    "This is not a text file (or not in UTF-8 or GBK/GB18030); "
                    "save it as CSV or as an Excel .xlsx file."
                ),
            )
        )
        table.failed = True
        return None
    return _csv_records(text, table, errors)


def _csv_records(text: str, table: Table, errors: list[ImportIssue]):
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(
                table.issue(
                    reader.line_num,
                    "",
                    _("This line is not valid CSV: %(reason)s") % {"reason": exc},
                )
            )
            table.failed = True
            return
        yield line, cells  # a quoted value may span lines: report the line the record starts on
        line = reader.line_num + 1


def _xlsx_rows(source: ImportSource, headers, table: Table, errors: list[ImportIssue]):
    if not _xlsx_within_limits(source, table, errors):
        return None
    import openpyxl  # imported here: only .xlsx uploads need it

    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it does not read; the data is fine.
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(
                io.BytesIO(source.data), read_only=True, data_only=True
            )
    except Exception:  # openpyxl raises many types for a damaged workbook
        errors.append(table.issue(1, "", _("This is not a readable Excel .xlsx file.")))
        table.failed = True
        return None
    return _xlsx_records(workbook, headers, table, errors)


def _data_sheet(workbook, headers):
    """The first worksheet whose first non-empty row is an accepted header, else the first one.

    HR's workbooks often open with an instructions sheet (填写说明) before the data.
    """
    accepted = [set(header) for header in headers]
    for sheet in workbook.worksheets:
        for values in sheet.iter_rows(values_only=True):
            cells = {_cell_text(v).strip().lstrip("\ufeff") for v in values} - {""}
            if cells:
                if cells in accepted:
                    return sheet
                break
    return workbook.worksheets[0]


def _xlsx_records(workbook, headers, table: Table, errors: list[ImportIssue]):
    try:
        sheet = _data_sheet(workbook, headers)
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, [_cell_text(v) for v in values]
    except Exception:
        errors.append(table.issue(1, "", _("This is not a readable Excel .xlsx file.")))
        table.failed = True
    finally:
        workbook.close()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores 1001 as 1001.0
    return str(value)


# openpyxl (read-only) streams the worksheets and reads every other part whole. It keeps the
# shared strings in memory while the rows are read: 24 MB of them took 10 s and 134 MB more.
_STREAMED_PART = re.compile(r"xl/worksheets/[^/]+\.xml\Z")
# Excel stores or deflates its parts; zipfile inflates bzip2 and LZMA without a bound per read.
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_CHUNK = 1024 * 1024
_UNREADABLE_ZIP = (
    zipfile.BadZipFile,  # also a part whose CRC does not match, as when its size was a lie
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,  # encrypted
    NotImplementedError,
)


def _xlsx_within_limits(source: ImportSource, table: Table, errors: list[ImportIssue]) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(source.data)) as archive:
            problem = _archive_problem(archive)
    except _UNREADABLE_ZIP:
        problem = _("This is not a readable Excel .xlsx file.")
    if problem is None:
        return True
    errors.append(table.issue(1, "", problem))
    table.failed = True
    return False


def _archive_problem(archive: zipfile.ZipFile) -> str | None:
    entries = archive.infolist()
    max_entries = settings.ICR_XLSX_MAX_ENTRIES
    if len(entries) > max_entries:
        return _("The .xlsx file holds %(count)s parts; at most %(limit)s are accepted.") % {
            "count": len(entries),
            "limit": max_entries,
        }
    if any(entry.compress_type not in _ZIP_METHODS for entry in entries):
        return _("This is not a readable Excel .xlsx file.")
    max_unpacked = settings.ICR_XLSX_MAX_UNCOMPRESSED_BYTES
    declared = sum(entry.file_size for entry in entries)
    if declared > max_unpacked:  # refused without inflating anything
        return _(
            "The .xlsx file unpacks to %(size)s bytes; at most %(limit)s bytes are accepted."
        ) % {"size": declared, "limit": max_unpacked}
    max_part = settings.ICR_XLSX_MAX_PART_BYTES
    unpacked = 0
    for entry in entries:
        part_limit = None if _STREAMED_PART.match(entry.filename) else max_part
        size = 0
        with archive.open(entry) as part:
            while chunk := part.read(_CHUNK):
                size += len(chunk)
                unpacked += len(chunk)
                if unpacked > max_unpacked:
                    return _(
                        "The .xlsx file unpacks to more than %(limit)s bytes; at most "
                        "%(limit)s bytes are accepted."
                    ) % {"limit": max_unpacked}
                if part_limit is not None and size > part_limit:
                    return _(
                        "The part %(part)s of the .xlsx file unpacks to more than %(limit)s "
                        "bytes; at most %(limit)s bytes are accepted for a part other than a "
                        "worksheet."
                    ) % {"part": entry.filename, "limit": part_limit}
    return None
