"""Write the org chart and the relationship graph in the formats the importer reads.

Active departments and employees only (the import treats its files as the complete list of
active ones). A parent, head or manager who is no longer active is written empty, since the
importer could not resolve it. relations.csv lists every active edge, one row each (both
directions of every pair, rank included), with `id,reverse_id,rank_kind` first; the importer
accepts that header and skips the rank rows, so importing an export changes nothing.

Text a spreadsheet would run as a formula (a name such as "=SUM(A1)" or "-张三") is written with
a leading apostrophe (`icr.spreadsheet.neutralise`), which the importer takes off again.

`as_of` writes the same files for a past moment, from the audit trail (`icr.history`): what
export_org would have written then. The rows come from one of two sources (`_Now`, `OrgAsOf`)
in the same shape and order, and the same writers format them, so for a moment after the last
change both give the same files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from django.db.models import Count
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from icr.history import state_as_of
from icr.spreadsheet import neutralise

from .importing import (
    DEPARTMENT_LINE_COLUMNS,
    EMPLOYEE_IM_COLUMNS,
    EXPORT_RELATION_COLUMNS,
    RELATION_COLUMNS,
)
from .models import Department, Direction, Edge, EdgeType, Employee


def _cells(values) -> list:
    return [neutralise(value) for value in values]


class _Now:
    """The rows of the export from the tables as they are."""

    def departments(self) -> Iterable[tuple]:
        """(code, name, parent code, parent active, head's employee id, head active, line), by
        code."""
        return (
            Department.objects.active()
            .order_by("code")
            .values_list(
                "code",
                "name",
                "parent__code",
                "parent__active",
                "head__employee_id",
                "head__active",
                "line",
            )
        )

    def employees(self) -> Iterable[tuple]:
        """(employee id, name, e-mail, department code, manager's id, manager active, title,
        messaging ID)."""
        return (
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
                "im_user_id",
            )
            .iterator(chunk_size=10_000)
        )

    def edges(self) -> Iterable[tuple]:
        """(id, pair, direction, rank kind, type, the four end codes, service), by type, pair."""
        return (
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


class OrgAsOf:
    """The same rows as `_Now`, from each row's version at `at` in the audit trail.

    Departments and employees are read whole (one query each, ordered by the database as
    `_Now` orders them) and joined here: the historical tables have no foreign keys to follow.
    """

    def __init__(self, at: dt.datetime):
        self.at = at
        self._departments = list(
            state_as_of(Department, at)
            .order_by("code")
            .values_list("id", "code", "name", "parent_id", "head_id", "active", "line")
        )
        self._employees = list(
            state_as_of(Employee, at)
            .order_by("employee_id")
            .values_list(
                "id",
                "employee_id",
                "name",
                "email",
                "department_id",
                "manager_id",
                "title",
                "active",
                "im_user_id",
            )
        )
        self._dept = {row[0]: (row[1], row[5]) for row in self._departments}
        self._emp = {row[0]: (row[1], row[7]) for row in self._employees}

    def departments(self) -> Iterator[tuple]:
        for _pk, code, name, parent_id, head_id, active, line_kind in self._departments:
            if active:
                parent, head = self._dept.get(parent_id, _NONE), self._emp.get(head_id, _NONE)
                yield (code, name, *parent, *head, line_kind)

    def employees(self) -> Iterator[tuple]:
        for _pk, eid, name, email, dept_id, manager_id, title, active, im_id in self._employees:
            if active:
                dept_code = self._dept.get(dept_id, _NONE)[0]
                manager = self._emp.get(manager_id, _NONE)
                yield (eid, name, email, dept_code, *manager, title, im_id or "")

    def edges(self) -> Iterator[tuple]:
        # Active then: the edge's version at that moment was not retired (as `_Now` reads it).
        rows = (
            state_as_of(Edge, self.at)
            .filter(valid_to__isnull=True)
            .order_by("type", "pair_id", "direction")
            .values_list(
                "id",
                "pair_id",
                "direction",
                "rank_kind",
                "type",
                "provider_department_id",
                "provider_employee_id",
                "customer_department_id",
                "customer_employee_id",
                "service",
            )
            .iterator(chunk_size=10_000)
        )
        for *head, pd, pe, cd, ce, service in rows:
            yield (
                *head,
                self._dept.get(pd, _NONE)[0],
                self._emp.get(pe, _NONE)[0],
                self._dept.get(cd, _NONE)[0],
                self._emp.get(ce, _NONE)[0],
                service,
            )

    def edge_counts(self) -> dict[str, int]:
        """Active edges then, by type."""
        rows = (
            state_as_of(Edge, self.at)
            .filter(valid_to__isnull=True)
            .order_by()
            .values_list("type")
            .annotate(n=Count("history_id"))
        )
        return {**dict.fromkeys(EdgeType.values, 0), **dict(rows)}

    def chart(self) -> list[dict]:
        """The active departments then, parents first and siblings by code, for the HR page:
        depth, code, name, head (if active then) and how many active employees it had."""
        active = [row for row in self._departments if row[5]]
        ids = {row[0] for row in active}
        staff: dict[int, int] = {}
        names = {row[0]: row[2] for row in self._employees}
        for _pk, _eid, _name, _email, dept_id, _m, _t, emp_active, _im in self._employees:
            if emp_active:
                staff[dept_id] = staff.get(dept_id, 0) + 1
        children: dict[int | None, list[tuple]] = {}
        for row in active:  # by code already
            children.setdefault(row[3] if row[3] in ids else None, []).append(row)
        out: list[dict] = []
        seen: set[int] = set()
        stack = [(row, 0) for row in reversed(children.get(None, []))]
        while stack:
            (pk, code, name, _parent, head_id, _active, _line), depth = stack.pop()
            if pk in seen:
                continue
            seen.add(pk)
            head_code, head_active = self._emp.get(head_id, _NONE)
            out.append(
                {
                    "depth": depth,
                    "code": code,
                    "name": name,
                    "head": f"{names[head_id]} ({head_code})" if head_active else "",
                    "employees": staff.get(pk, 0),
                }
            )
            stack.extend((child, depth + 1) for child in reversed(children.get(pk, [])))
        return out

    @property
    def department_count(self) -> int:
        return sum(1 for row in self._departments if row[5])

    @property
    def employee_count(self) -> int:
        return sum(1 for row in self._employees if row[7])


_NONE = (None, None)


def parse_as_of(text: str) -> dt.datetime:
    """The moment a date or a date and time names, in the site's time zone unless it says.

    A date alone means the end of that day: its state after every change made on it.
    Raises ValueError for anything else.
    """
    text = text.strip()
    day = parse_date(text)  # first: parse_datetime reads a date alone as its midnight
    if day is not None:
        moment = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)
        return timezone.make_aware(moment) - dt.timedelta(microseconds=1)
    moment = parse_datetime(text)
    if moment is None:
        raise ValueError(text)
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _source(as_of: dt.datetime | None):
    return _Now() if as_of is None else OrgAsOf(as_of)


def write_departments(out: TextIO, source=None) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DEPARTMENT_LINE_COLUMNS)
    count = 0
    for code, name, parent_code, parent_active, head_id, head_active, line_kind in (
        source or _Now()
    ).departments():
        writer.writerow(
            _cells(
                [
                    code,
                    name,
                    parent_code if parent_active else "",
                    head_id if head_active else "",
                    line_kind or "",
                ]
            )
        )
        count += 1
    return count


def write_employees(out: TextIO, source=None) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EMPLOYEE_IM_COLUMNS)
    count = 0
    for eid, name, email, dept_code, manager_id, manager_active, title, im_id in (
        source or _Now()
    ).employees():
        manager = manager_id if manager_active else ""
        writer.writerow(_cells([eid, name, email, dept_code, manager, title, im_id]))
        count += 1
    return count


def write_relations(out: TextIO, source=None) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_RELATION_COLUMNS)
    rows = (source or _Now()).edges()
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


def export_org(
    directory: Path, *, excel: bool = False, as_of: dt.datetime | None = None
) -> dict[str, int]:
    """Write departments.csv, employees.csv and relations.csv (UTF-8) into `directory`.

    `excel` adds the byte-order mark without which Excel on Chinese Windows reads the files as
    GBK and shows garbled names; import_org reads both. `as_of`: the files as they would have
    been written at that moment.
    """
    directory.mkdir(parents=True, exist_ok=True)
    source = _source(as_of)
    counts = {}
    for name, key, write in (
        ("departments.csv", "departments", write_departments),
        ("employees.csv", "employees", write_employees),
        ("relations.csv", "edges", write_relations),
    ):
        encoding = "utf-8-sig" if excel else "utf-8"
        with open(directory / name, "w", encoding=encoding, newline="") as out:
            counts[key] = write(out, source)
    return counts


# Blank import files: the headers and one example row each, rows that import together (the
# example relationship's departments are the example department and one more).
TEMPLATE_ROWS = {
    "departments": (
        DEPARTMENT_LINE_COLUMNS,
        [["HQ", "总部", "", "E001", ""], ["FIN", "财务部", "HQ", "", "functional"]],
    ),
    "employees": (
        EMPLOYEE_IM_COLUMNS,
        [["E001", "王总", "wang@example.com", "HQ", "", "总经理", "wangzong"]],
    ),
    "relations": (RELATION_COLUMNS, [["职能", "FIN", "", "HQ", "", "费用报销审核"]]),
}


def template_csv(kind: str) -> str:
    """A blank import file as CSV text (UTF-8, to be written with a byte-order mark for
    Excel on Chinese Windows)."""
    columns, rows = TEMPLATE_ROWS[kind]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def template_xlsx(kind: str) -> bytes:
    """A blank import file as an Excel workbook: one sheet, the headers and the example."""
    from openpyxl import Workbook

    columns, rows = TEMPLATE_ROWS[kind]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(kind)
    sheet.append(list(columns))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
