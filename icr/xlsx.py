"""A small, fast XLSX writer for the files ICR hands out: sheets of rows, nothing else.

What a manager expects of a table they send on: a bold header row that stays in view (frozen)
with filters on it, numbers stored as numbers (None is an empty cell, never text in a numeric
column), text as inline strings, a width per column. Text a spreadsheet would run as a formula
is neutralised (`icr.spreadsheet.neutralise`) before it is written.

Why not openpyxl, which ICR reads files with: its write-only mode builds each cell as an
object and serialises it through an XML library, about 40 µs a cell; the full export of a
100,000-person company has millions of cells (make bench, section export). Here a row is one
string join, and the zip is compressed at level 1 (most of the time of a higher level for
a few per cent of size).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from icr.spreadsheet import neutralise

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Characters XML 1.0 does not allow, which a name or comment might still hold.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Excel refuses these in sheet names, and names longer than 31 characters.
_SHEET_NAME_ILLEGAL = re.compile(r"[\[\]:*?/\\]")


@dataclass
class Sheet:
    title: str
    header: Sequence[str]
    rows: Iterable[Sequence] = ()
    widths: Sequence[float] = field(default_factory=tuple)


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def sheet_title(text: str, taken: set[str]) -> str:
    """A valid, unique sheet name: Excel's forbidden characters out, at most 31 long."""
    base = _SHEET_NAME_ILLEGAL.sub(" ", text).strip("' ") or "Sheet"
    title, n = base[:31], 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def quote_sheet(title: str) -> str:
    """A sheet name as a formula refers to it: in quotes, a quote doubled."""
    return "'" + title.replace("'", "''") + "'"


def _text_cell(ref: str, value: str, style: int = 0) -> str:
    value = _ILLEGAL_XML.sub("", neutralise(value))
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}" t="inlineStr"{s}><is><t xml:space="preserve">{escape(value)}</t></is></c>'


def _row_xml(number: int, values: Sequence, letters: list[str], style: int = 0) -> str:
    cells = []
    for letter, value in zip(letters, values, strict=False):
        if value is None or value == "":
            continue
        ref = f"{letter}{number}"
        if isinstance(value, bool):
            cells.append(f'<c r="{ref}" t="b"><v>{int(value)}</v></c>')
        elif isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                continue
            cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
        else:
            cells.append(_text_cell(ref, str(value), style))
    return f'<row r="{number}">{"".join(cells)}</row>'


def _sheet_xml(sheet: Sheet, ranges: list[str]) -> Iterable[str]:
    """The worksheet's XML in pieces; appends its filter range (A1:Q123) to `ranges`."""
    width = len(sheet.header)
    letters = [column_letter(i) for i in range(max(width, 1))]
    yield (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        "</sheetView></sheetViews>"
        '<sheetFormatPr defaultRowHeight="15"/>'
    )
    if sheet.widths:
        cols = "".join(
            f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>'
            for i, w in enumerate(sheet.widths)
        )
        yield f"<cols>{cols}</cols>"
    yield "<sheetData>"
    yield _row_xml(1, sheet.header, letters, style=1)
    last = 1
    chunk: list[str] = []
    for last, values in enumerate(sheet.rows, start=2):
        chunk.append(_row_xml(last, values, letters))
        if len(chunk) >= 2000:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)
    yield "</sheetData>"
    ranges.append(f"$A$1:${letters[-1]}${last}")
    yield f'<autoFilter ref="A1:{letters[-1]}{last}"/>'
    yield "</worksheet>"


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def workbook(sheets: Sequence[Sheet]) -> bytes:
    """The .xlsx file of these sheets, in order."""
    taken: set[str] = set()
    titles = [sheet_title(s.title, taken) for s in sheets]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{overrides}</Types>",
        )
        zf.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/'
            f'2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        styles_id = len(sheets) + 1
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'{rels}<Relationship Id="rId{styles_id}" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>',
        )
        zf.writestr("xl/styles.xml", _STYLES)
        ranges: list[str] = []
        for i, sheet in enumerate(sheets, start=1):
            with zf.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as part:
                for piece in _sheet_xml(sheet, ranges):
                    part.write(piece.encode("utf-8"))
        # The workbook last: Excel finds each sheet's filter range under this defined name.
        sheet_entries = "".join(
            f'<sheet name="{escape(t, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
            for i, t in enumerate(titles, start=1)
        )
        names = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
            f"{escape(quote_sheet(t))}!{r}</definedName>"
            for i, (t, r) in enumerate(zip(titles, ranges, strict=True))
        )
        zf.writestr(
            "xl/workbook.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f"<sheets>{sheet_entries}</sheets><definedNames>{names}</definedNames></workbook>",
        )
    return out.getvalue()
