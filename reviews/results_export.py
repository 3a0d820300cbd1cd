"""A cycle's results as CSV or XLSX: the stored aggregates with their suppression, nothing else.

Headers in English or Simplified Chinese. A cell a spreadsheet would run as a formula (text
starting with =, +, -, @, or a tab/carriage return) gets a leading apostrophe
(`icr.spreadsheet.neutralise`).
"""

from __future__ import annotations

import csv
import io

from django.utils import translation

from icr.spreadsheet import neutralise

from . import results
from .models import Cycle

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def table(cycle: Cycle, *, language: str | None = None) -> list[list]:
    language = language if language in ("en", "zh-hans") else None
    with translation.override(language or translation.get_language() or "zh-hans"):
        rows = [results.export_headers(), *results.export_rows(cycle)]
        return [
            [neutralise(str(v) if not isinstance(v, int | float) else v) for v in row]
            for row in rows
        ]


def render(cycle: Cycle, fmt: str, *, language: str | None = None) -> tuple[bytes, str]:
    rows = table(cycle, language=language)
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerows(rows)
        # The BOM lets Excel open the UTF-8 file with its Chinese text intact.
        return ("\ufeff" + out.getvalue()).encode("utf-8"), FORMATS["csv"]
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="ICR")
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue(), FORMATS["xlsx"]
