"""Org sync from a JSON document, through the file import's own checks and comparison.

The document has the three lists of the import's files, one object per row with the files'
columns as keys: `departments`, `employees` and, optionally, `relations`. Each list becomes
the table a file would have been read into (row i standing on line i + 2, after a header), so
`relations.importing.plan_tables` checks and compares it exactly as it does the files, and its
line errors come back as JSON pointers (`/employees/3/email`). The same document twice: the
second plan changes nothing and nothing is written.
"""

from __future__ import annotations

import hashlib
import json

from django.utils.translation import gettext as _

from relations.import_files import Table
from relations.importing import (
    DEPARTMENT_COLUMNS,
    EMPLOYEE_COLUMNS,
    RELATION_COLUMNS,
    ImportIssue,
    ImportPlan,
    ImportSummary,
    apply_import,
    plan_tables,
)
from relations.models import ImportVia

KINDS = {
    "departments": DEPARTMENT_COLUMNS,
    "employees": EMPLOYEE_COLUMNS,
    "relations": RELATION_COLUMNS,
}


def pointer(issue: ImportIssue) -> str:
    """The JSON pointer (RFC 6901) of what an import error is about."""
    path = f"/{issue.file}"
    if issue.line >= 2:
        path += f"/{issue.line - 2}"
        if issue.column:
            path += "/" + issue.column.replace("~", "~0").replace("/", "~1")
    return path


def _cell(value) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return None
    if isinstance(value, str | int):
        return str(value).strip()
    return None


# Columns a document may leave out, as a file may: absent, the import leaves the value alone
# (an empty one clears it).
OPTIONAL = {"departments": ("line",), "employees": ("im_user_id",), "relations": ()}


def _table(kind: str, rows: list, errors: list[ImportIssue]) -> Table:
    given = {key for row in rows if isinstance(row, dict) for key in row}
    columns = (*KINDS[kind], *(c for c in OPTIONAL[kind] if c in given))
    allowed = (*KINDS[kind], *OPTIONAL[kind])
    table = Table(kind, columns=list(columns), header_ok=True)
    for index, row in enumerate(rows):
        line = index + 2
        if not isinstance(row, dict):
            errors.append(table.issue(line, "", _("Each row is an object.")))
            continue
        values = {}
        for key in row:
            if key not in allowed:
                errors.append(
                    table.issue(
                        line,
                        key,
                        _("Unknown column “%(column)s”; the header must be: %(header)s")
                        % {"column": key, "header": ",".join(allowed)},
                    )
                )
        for column in columns:
            value = _cell(row.get(column))
            if value is None:
                errors.append(table.issue(line, column, _("A text or a number is expected.")))
                value = ""
            values[column] = value
        table.rows.append((line, values))
    return table


def plan_document(document: dict) -> ImportPlan:
    """Check the document and compare it with the database; writes nothing."""
    errors: list[ImportIssue] = []
    tables: dict[str, Table | None] = {}
    files = []
    for kind in KINDS:
        rows = document.get(kind)
        if rows is None and kind == "relations":
            tables[kind] = None
            continue
        if not isinstance(rows, list):
            table = Table(kind)
            errors.append(table.issue(1, "", _("A list of rows is expected.")))
            table.failed = True
            tables[kind] = table
            continue
        tables[kind] = _table(kind, rows, errors)
        data = json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()
        files.append(
            {
                "kind": kind,
                "name": f"{kind}.json",
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
        )
    return plan_tables(
        tables["departments"],
        tables["employees"],
        tables["relations"],
        errors=errors,
        files=files,
    )


def sync(
    document: dict, *, dry_run: bool, user=None, integration: str = ""
) -> tuple[ImportPlan, ImportSummary | None]:
    """Plan, and unless `dry_run` or the plan has errors or changes nothing, apply. The import
    record names `user` (who created the token) and the integration."""
    plan = plan_document(document)
    if plan.errors or dry_run or plan.is_noop:
        return plan, None
    return plan, apply_import(plan, user=user, via=ImportVia.API, system_user=integration[:150])
