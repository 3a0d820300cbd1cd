"""Write the org chart and the relationship graph in the formats the importer reads.

Active departments and employees only (the import treats its files as the complete list of
active ones). A parent, head or manager who is no longer active is written empty, since the
importer could not resolve it. relations.csv lists every active edge, one row each (both
directions of every pair, rank included), with `id,reverse_id,rank_kind` first; the importer
accepts that header and skips the rank rows, so importing an export changes nothing.

Text a spreadsheet would run as a formula (a name such as "=SUM(A1)" or "-张三") is written with
a leading apostrophe (`icr.spreadsheet.neutralise`), which the importer takes off again.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from icr.spreadsheet import neutralise

from .importing import DEPARTMENT_COLUMNS, EMPLOYEE_COLUMNS, EXPORT_RELATION_COLUMNS
from .models import Department, Direction, Edge, Employee


def _cells(values) -> list:
    return [neutralise(value) for value in values]


def write_departments(out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DEPARTMENT_COLUMNS)
    count = 0
    for code, name, parent_code, parent_active, head_id, head_active in (
        Department.objects.active()
        .order_by("code")
        .values_list(
            "code", "name", "parent__code", "parent__active", "head__employee_id", "head__active"
        )
    ):
        writer.writerow(
            _cells(
                [
                    code,
                    name,
                    parent_code if parent_active else "",
                    head_id if head_active else "",
                ]
            )
        )
        count += 1
    return count


def write_employees(out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EMPLOYEE_COLUMNS)
    count = 0
    for eid, name, email, dept_code, manager_id, manager_active, title in (
        Employee.objects.active()
        .order_by("employee_id")
        .values_list(
            "employee_id",
            "name",
            "email",
            "department__code",
            "manager__employee_id",
            "manager__active",
            "title",
        )
        .iterator(chunk_size=10_000)
    ):
        writer.writerow(
            _cells([eid, name, email, dept_code, manager_id if manager_active else "", title])
        )
        count += 1
    return count


def write_relations(out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_RELATION_COLUMNS)
    rows = (
        Edge.objects.active()
        .order_by("type", "pair_id", "direction")
        .values_list(
            "id",
            "pair_id",
            "direction",
            "rank_kind",
            "type",
            "provider_department__code",
            "provider_employee__employee_id",
            "customer_department__code",
            "customer_employee__employee_id",
            "service",
        )
        .iterator(chunk_size=10_000)
    )
    count = 0
    pending: dict[int, list] = {}  # the first edge of a pair seen, waiting for its reverse's id
    for edge_id, pair_id, direction, rank_kind, *rest in rows:
        row = [edge_id, None, rank_kind, *_cells(v or "" for v in rest)]
        other = pending.pop(pair_id, None)
        if other is None:
            pending[pair_id] = row
            continue
        row[1], other[1] = other[0], edge_id
        first, second = (other, row) if direction == Direction.REVERSE else (row, other)
        writer.writerows([first, second])
        count += 2
    for row in pending.values():  # cannot happen while the pair invariant holds
        writer.writerow(row)
        count += 1
    return count


def export_org(directory: Path, *, excel: bool = False) -> dict[str, int]:
    """Write departments.csv, employees.csv and relations.csv (UTF-8) into `directory`.

    `excel` adds the byte-order mark without which Excel on Chinese Windows reads the files as
    GBK and shows garbled names; import_org reads both.
    """
    directory.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, key, write in (
        ("departments.csv", "departments", write_departments),
        ("employees.csv", "employees", write_employees),
        ("relations.csv", "edges", write_relations),
    ):
        encoding = "utf-8-sig" if excel else "utf-8"
        with open(directory / name, "w", encoding=encoding, newline="") as out:
            counts[key] = write(out)
    return counts
