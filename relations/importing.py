"""Import the org chart and HR-set relationships from HR's files, set-based.

Usage (the `import_org` command and the admin upload both do this)::

    plan = plan_import(departments=ImportSource(...), employees=ImportSource(...),
                       relations=ImportSource(...) or None)
    if plan.errors: show them (nothing was written)
    else: show plan.changes; summary = apply_import(plan)

What the files mean:

- `departments.csv` and `employees.csv` are the complete list of active departments and
  employees. Rows are matched to the database by department code and employee id. Anyone or any
  department missing from the file is deactivated: a departing employee's login is disabled,
  their sessions end and all their relationships are retired; a missing department's
  relationships are retired. A file row for an inactive record reactivates it.
- Rank relationships come from `manager_employee_id` with the semantics of
  `services.sync_rank_edges`: a task edge subordinate → manager and its reverse condition edge.
  A changed manager retires the old pair and creates the new one.
- `relations.csv`, when given, is the complete list of HR-set relationships: function and
  workflow pairs, and process pairs without a workflow (process pairs made from a workflow's
  steps belong to the workflow, see `services.sync_process_edges`, and are never retired by an
  import). Each row is one directed edge provider → customer; a row whose reverse is already
  in the database or earlier in the file joins that pair and sets the reverse edge's service
  text. HR-set pairs no longer in the file are retired. Without `relations.csv`, HR-set pairs are
  left alone (except those touching someone or some department deactivated).
  Rows of type rank (as `export_org` writes them) are accepted and skipped: rank comes from the
  managers. The header is either the plain six columns or the export's nine
  (`id,reverse_id,rank_kind` first, whose values are ignored), so importing an export changes
  nothing.
- Column order in a header is free, but the set of columns is exact.

A bad file set is rejected whole: `plan.errors` lists every problem found (file, line, column,
message in the active language) and `apply_import` refuses such a plan.

`apply_import` re-reads the database state the plan was computed from, inside its transaction
and under a lock on PostgreSQL; if anything changed since the preview it raises
`ImportConflict` and writes nothing. The import reads the state with a few `values_list`
queries and writes with the set-based statements of `import_sql`, so its query count does not
depend on the number of rows.

Each applied import is recorded as one `OrgImport` (who, when, the files' SHA-256, what changed,
the summary after) in its transaction, and every row it wrote gets its version in the audit
trail, set-based: one `INSERT ... SELECT` per table and kind of change, pointing at that record.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from dataclasses import dataclass, field, fields
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from icr import history

from . import import_sql
from .import_files import ImportIssue, ImportSource, Table, read_table
from .models import (
    Department,
    Direction,
    Edge,
    EdgeType,
    Employee,
    ImportVia,
    LineKind,
    OrgImport,
    RankKind,
    RelationPair,
)
from .services import GraphError, end_sessions_of_users, rank_service_texts, sync_process_edges

__all__ = [
    "ImportChanges",
    "ImportConflict",
    "ImportIssue",
    "ImportPlan",
    "ImportRejected",
    "ImportSource",
    "ImportSummary",
    "apply_import",
    "plan_import",
    "plan_tables",
]

DEPARTMENT_COLUMNS = ("code", "name", "parent_code", "head_employee_id")
# The optional fifth column: front line or functional (`Department.line`). Without it, an
# import leaves each department's line as it is; with it, an empty value unsets it.
DEPARTMENT_LINE_COLUMNS = (*DEPARTMENT_COLUMNS, "line")
# How HR may write it: the stored value, the English and the Chinese names.
DEPARTMENT_LINES = {
    "": LineKind.UNSET,
    "front": LineKind.FRONT,
    "front line": LineKind.FRONT,
    "front-line": LineKind.FRONT,
    "一线": LineKind.FRONT,
    "前线": LineKind.FRONT,
    "业务一线": LineKind.FRONT,
    "生产一线": LineKind.FRONT,
    "functional": LineKind.FUNCTIONAL,
    "function": LineKind.FUNCTIONAL,
    "职能": LineKind.FUNCTIONAL,
    "机关": LineKind.FUNCTIONAL,
    "职能部门": LineKind.FUNCTIONAL,
}
EMPLOYEE_COLUMNS = (
    "employee_id",
    "name",
    "email",
    "department_code",
    "manager_employee_id",
    "title",
)
# The same with the person's user ID on the company's messaging platform (WeCom, DingTalk,
# Feishu): optional; a file without the column leaves everyone's ID as it is, a file with it
# sets them (an empty cell clears one). The export and the templates write it.
EMPLOYEE_IM_COLUMNS = (*EMPLOYEE_COLUMNS, "im_user_id")
RELATION_COLUMNS = (
    "type",
    "provider_department",
    "provider_employee",
    "customer_department",
    "customer_employee",
    "service",
)
EXPORT_RELATION_COLUMNS = ("id", "reverse_id", "rank_kind", *RELATION_COLUMNS)

# English (any case) and Chinese names of the types; rank rows are skipped (see module doc).
RELATION_TYPES = {
    "function": EdgeType.FUNCTION,
    "职能": EdgeType.FUNCTION,
    "职能客户": EdgeType.FUNCTION,
    "process": EdgeType.PROCESS,
    "工序": EdgeType.PROCESS,
    "工序客户": EdgeType.PROCESS,
    "workflow": EdgeType.WORKFLOW,
    "流程": EdgeType.WORKFLOW,
    "流程客户": EdgeType.WORKFLOW,
    "rank": EdgeType.RANK,
    "职级": EdgeType.RANK,
    "职级客户": EdgeType.RANK,
}
HR_SET_TYPES = (EdgeType.FUNCTION, EdgeType.PROCESS, EdgeType.WORKFLOW)
SAMPLE_SIZE = 20
# The employee id is the login name: the characters Django's username validator accepts.
EMPLOYEE_ID_RE = re.compile(r"^[\w.@+-]+\Z")
# Addresses of this common shape are valid for Django's validate_email too (checked for 100,000
# rows it costs a second); anything else goes through validate_email itself.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
PLAIN_EMAIL_RE = re.compile(
    rf"^[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}\Z"
)


class ImportRejected(GraphError):
    """apply_import was given a plan with errors."""


class ImportConflict(GraphError):
    """The database changed between the plan (preview) and apply_import."""


# --- What the plan reports --------------------------------------------------------------------


def _type_counts() -> dict[str, int]:
    return {t: 0 for t in EdgeType.values}


@dataclass
class ImportChanges:
    """What applying the plan changes. `samples` holds up to 20 display names per counter."""

    departments_created: int = 0
    departments_updated: int = 0
    departments_reactivated: int = 0
    departments_deactivated: int = 0
    employees_created: int = 0
    employees_updated: int = 0
    employees_moved: int = 0  # department or manager changed: rank edges replaced
    employees_reactivated: int = 0
    employees_deactivated: int = 0
    logins_created: int = 0
    logins_updated: int = 0
    im_ids_changed: int = 0  # messaging IDs set, changed or cleared on existing employees
    services_changed: int = 0  # edges whose service text changes
    pairs_created: dict[str, int] = field(default_factory=_type_counts)
    pairs_retired: dict[str, int] = field(default_factory=_type_counts)
    samples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, counter: str, name: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)
        names = self.samples.setdefault(counter, [])
        if len(names) < SAMPLE_SIZE:
            names.append(name)

    @property
    def is_noop(self) -> bool:
        return (
            not any(getattr(self, f.name) for f in fields(self) if f.name not in _NOT_COUNTERS)
            and not any(self.pairs_created.values())
            and not any(self.pairs_retired.values())
        )

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> ImportChanges:
        """As `as_dict` gave it (an import record's); keys it does not know are left out."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def lines(self) -> list[str]:
        """One translated line per non-zero counter, with sample names; for text and preview."""
        out = []
        for name, label in _COUNTER_LABELS.items():
            count = getattr(self, name)
            if not count:
                continue
            line = f"{label}: {count}"
            names = self.samples.get(name)
            if names:
                more = "…" if count > len(names) else ""
                line += f" ({', '.join(names)}{more})"
            out.append(line)
        for edge_type, label in EdgeType.choices:
            for counts, verb in (
                (self.pairs_created, _("created")),
                (self.pairs_retired, _("retired")),
            ):
                if counts[edge_type]:
                    out.append(
                        _("%(type)s relationship pairs %(verb)s: %(count)s")
                        % {"type": label, "verb": verb, "count": counts[edge_type]}
                    )
        return out


_NOT_COUNTERS = {"pairs_created", "pairs_retired", "samples"}
_COUNTER_LABELS = {
    "departments_created": gettext_lazy("Departments created"),
    "departments_updated": gettext_lazy("Departments changed"),
    "departments_reactivated": gettext_lazy("Departments reactivated"),
    "departments_deactivated": gettext_lazy("Departments deactivated"),
    "employees_created": gettext_lazy("Employees created"),
    "employees_updated": gettext_lazy("Employees changed"),
    "employees_moved": gettext_lazy("Employees moved (new department or manager)"),
    "employees_reactivated": gettext_lazy("Employees reactivated"),
    "employees_deactivated": gettext_lazy("Employees deactivated (login disabled, edges retired)"),
    "logins_created": gettext_lazy("Logins created"),
    "logins_updated": gettext_lazy("Logins changed"),
    "im_ids_changed": gettext_lazy("Messaging IDs set or changed"),
    "services_changed": gettext_lazy("Service descriptions changed"),
}


@dataclass
class ImportSummary:
    """The database after the import: active departments, employees, edges by type, pairs."""

    departments: int
    employees: int
    edges: dict[str, int]
    pairs: int
    import_id: int | None = None  # the OrgImport that recorded the import; not in as_dict

    def as_dict(self) -> dict:
        return {
            "departments": self.departments,
            "employees": self.employees,
            "edges": {t: self.edges.get(t, 0) for t in EdgeType.values},
            "pairs": self.pairs,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ImportSummary:
        return cls(
            departments=data.get("departments", 0),
            employees=data.get("employees", 0),
            edges=data.get("edges", {}),
            pairs=data.get("pairs", 0),
        )

    def lines(self) -> list[str]:
        edges = ", ".join(f"{label} {self.edges.get(t, 0)}" for t, label in EdgeType.choices)
        return [
            _("Departments: %(count)s") % {"count": self.departments},
            _("Employees: %(count)s") % {"count": self.employees},
            _("Active edges: %(edges)s") % {"edges": edges},
            _("Relationship pairs: %(count)s") % {"count": self.pairs},
        ]


def current_summary() -> ImportSummary:
    return ImportSummary(
        departments=Department.objects.active().count(),
        employees=Employee.objects.active().count(),
        edges=dict(Edge.objects.active().order_by().values_list("type").annotate(n=Count("id"))),
        pairs=RelationPair.objects.active().count(),
    )


# --- The plan ---------------------------------------------------------------------------------


class EndRef(NamedTuple):
    """An edge end by database id; negative ids are rows the import will create."""

    kind: str  # "department" or "employee"
    id: int


class NewPair(NamedTuple):
    type: str
    provider: EndRef
    customer: EndRef
    service: str
    reverse_service: str


@dataclass
class _Writes:
    """Everything apply_import writes; ids < 0 stand for rows created by the import."""

    new_departments: list[tuple] = field(default_factory=list)  # (tmp, code, name, parent, head,
    # line)
    department_updates: list[tuple] = field(default_factory=list)  # (id, name, parent, head, act,
    # line)
    new_employees: list[tuple] = field(default_factory=list)  # (tmp, eid, name, email, dept,
    # manager, title, user)
    employee_updates: list[tuple] = field(default_factory=list)  # (id, name, email, dept,
    # manager, title, active, user)
    new_users: list[tuple] = field(default_factory=list)  # (tmp, username, email, first_name)
    user_updates: list[tuple] = field(default_factory=list)  # (id, email, is_active)
    im_user_ids: list[tuple] = field(default_factory=list)  # (employee id or tmp, messaging ID)
    retire_pair_ids: list[int] = field(default_factory=list)
    service_updates: list[tuple] = field(default_factory=list)  # (edge id, service)
    new_pairs: list[NewPair] = field(default_factory=list)
    ended_user_ids: list[int] = field(default_factory=list)
    activity_changed: bool = False  # someone or some department (de/re)activated


@dataclass
class ImportPlan:
    errors: list[ImportIssue] = field(default_factory=list)
    changes: ImportChanges = field(default_factory=ImportChanges)
    fingerprint: str = ""
    writes: _Writes = field(default_factory=_Writes, repr=False)
    # The files as the import record keeps them: kind, name, SHA-256 and size of each.
    files: list[dict] = field(default_factory=list)

    @property
    def is_noop(self) -> bool:
        return not self.errors and self.changes.is_noop


def plan_import(
    *,
    departments: ImportSource,
    employees: ImportSource,
    relations: ImportSource | None = None,
) -> ImportPlan:
    """Read and check the files, compare with the database; writes nothing."""
    errors: list[ImportIssue] = []
    dept_table = read_table(departments, [DEPARTMENT_COLUMNS, DEPARTMENT_LINE_COLUMNS], errors)
    emp_table = read_table(employees, [EMPLOYEE_COLUMNS, EMPLOYEE_IM_COLUMNS], errors)
    rel_table = (
        read_table(relations, [RELATION_COLUMNS, EXPORT_RELATION_COLUMNS], errors)
        if relations is not None
        else None
    )
    files = [
        {
            "kind": kind,
            "name": source.name,
            "sha256": hashlib.sha256(source.data).hexdigest(),
            "bytes": len(source.data),
        }
        for kind, source in (
            ("departments", departments),
            ("employees", employees),
            ("relations", relations),
        )
        if source is not None
    ]
    return plan_tables(dept_table, emp_table, rel_table, errors=errors, files=files)


def plan_tables(
    dept_table: Table,
    emp_table: Table,
    rel_table: Table | None,
    *,
    errors: list[ImportIssue],
    files: list[dict],
) -> ImportPlan:
    """The checks and the comparison of `plan_import`, on tables already read (from files, or
    from the API's JSON document: `api.org_sync`); `errors` holds what reading found."""
    for table in (dept_table, emp_table):
        # A header alone would deactivate the whole company: far more likely a wrong file.
        if table.ok and not table.rows:
            table.fail(errors, 2, _("The file has a header but no rows: nothing to import."))
    checked = _check_files(dept_table, emp_table, rel_table, errors)
    # List the errors as HR reads the files: file by file, top to bottom (checks run per kind).
    file_order: dict[str, int] = {}
    for table in (dept_table, emp_table, rel_table):
        if table is not None:
            file_order.setdefault(table.name, len(file_order))
    errors.sort(key=lambda issue: (file_order.get(issue.file, len(file_order)), issue.line))
    plan = ImportPlan(errors=errors, files=files)
    if errors:
        return plan
    state = _read_state()
    _diff(checked, state, plan)
    plan.fingerprint = state.fingerprint
    return plan


def apply_import(
    plan: ImportPlan, *, user=None, via: str = ImportVia.COMMAND, system_user: str = ""
) -> ImportSummary:
    """Write the plan in one transaction; refuses a plan with errors or made on stale data.

    `user` (the signed-in HR user) or `system_user` (the account that ran the command) is who
    the import record and the audit trail name as having made the change.
    """
    if plan.errors:
        raise ImportRejected(_("The files have errors; nothing was imported."))
    with transaction.atomic():
        if import_sql.is_postgres():
            # Writers wait until we commit (readers do not), so the checked state stays true.
            with connection.cursor() as cursor:
                cursor.execute(
                    "LOCK TABLE relations_department, relations_employee, "
                    "relations_relationpair, relations_edge IN SHARE ROW EXCLUSIVE MODE"
                )
        if _read_state().fingerprint != plan.fingerprint:
            raise ImportConflict(
                _("The data changed since the import was previewed; preview it again.")
            )
        at = timezone.now()
        (import_id,) = import_sql.allocate_ids(OrgImport, 1)
        if not plan.changes.is_noop:
            _write(plan.writes, at=at, audit=_Audit(import_id, user.pk if user else None))
        summary = current_summary()
        OrgImport.objects.create(
            id=import_id,
            at=at,
            user=user,
            via=via,
            system_user=system_user,
            files=plan.files,
            changes=plan.changes.as_dict(),
            summary=summary.as_dict(),
        )
        summary.import_id = import_id
        return summary


# --- Checking the files -----------------------------------------------------------------------


@dataclass
class _DeptRow:
    line: int
    code: str
    name: str
    parent_code: str
    head: str
    line_kind: str | None = None  # None: the file has no line column, keep what is there


@dataclass
class _EmpRow:
    line: int
    employee_id: str
    name: str
    email: str
    department_code: str
    manager: str
    title: str
    im_user_id: str | None = None  # None: the file has no im_user_id column


@dataclass
class _RelRow:
    """One relationship from the file, oriented as its first row; the reverse may join it."""

    line: int
    type: str
    provider: tuple[str, str]  # ("department", code) or ("employee", employee id)
    customer: tuple[str, str]
    service: str
    reverse_service: str | None = None  # None: no row for the reverse, keep what is there


@dataclass
class _Files:
    departments: dict[str, _DeptRow]
    employees: dict[str, _EmpRow]
    relations: list[_RelRow] | None
    employees_file: str


def _max_length(model, name: str) -> int:
    return model._meta.get_field(name).max_length


def _check_files(
    dept_table: Table, emp_table: Table, rel_table: Table | None, errors: list[ImportIssue]
) -> _Files:
    depts = _check_departments(dept_table, errors)
    emps = _check_employees(emp_table, depts if dept_table.ok else None, errors)
    if dept_table.ok and emp_table.ok:
        for row in depts.values():
            if row.head and row.head not in emps:
                errors.append(
                    dept_table.issue(
                        row.line,
                        "head_employee_id",
                        _("Department head “%(employee)s” is not an employee in %(file)s.")
                        % {"employee": row.head, "file": emp_table.name},
                    )
                )
    rels = None
    if rel_table is not None:
        rels = _check_relations(
            rel_table, depts if dept_table.ok else None, emps if emp_table.ok else None, errors
        )
    return _Files(depts, emps, rels, emp_table.name)


def _required(table: Table, line: int, row: dict, column: str, errors) -> bool:
    if row[column]:
        return True
    errors.append(table.issue(line, column, _("A value is required.")))
    return False


def _fits(table: Table, line: int, row: dict, column: str, limit: int, errors) -> bool:
    if len(row[column]) <= limit:
        return True
    errors.append(
        table.issue(line, column, _("At most %(limit)s characters are allowed.") % {"limit": limit})
    )
    return False


def _check_departments(table: Table, errors) -> dict[str, _DeptRow]:
    depts: dict[str, _DeptRow] = {}
    if not table.header_ok:
        return depts
    code_max, name_max = _max_length(Department, "code"), _max_length(Department, "name")
    for line, row in table.rows:
        # A row with errors is still kept (unless its code is missing or taken), so that the
        # rows referring to it are checked and not reported as unknown.
        _required(table, line, row, "code", errors)
        _required(table, line, row, "name", errors)
        _fits(table, line, row, "code", code_max, errors)
        _fits(table, line, row, "name", name_max, errors)
        code = row["code"]
        if code and code in depts:
            errors.append(
                table.issue(
                    line,
                    "code",
                    _("Department code “%(code)s” already appears on line %(line)s.")
                    % {"code": code, "line": depts[code].line},
                )
            )
            continue
        line_kind = None
        if "line" in row:
            line_kind = DEPARTMENT_LINES.get(row["line"].lower())
            if line_kind is None:
                errors.append(
                    table.issue(
                        line,
                        "line",
                        _(
                            "“%(value)s” is not a line: write front (一线), functional (职能) "
                            "or leave it empty."
                        )
                        % {"value": row["line"]},
                    )
                )
        if code:
            depts[code] = _DeptRow(
                line, code, row["name"], row["parent_code"], row["head_employee_id"], line_kind
            )
    if table.failed:
        return depts
    _check_tree(
        table,
        depts,
        {code: row.parent_code or None for code, row in depts.items()},
        "parent_code",
        errors,
        unknown=lambda code: _("Unknown parent department “%(code)s”.") % {"code": code},
        own=lambda code: _("Department “%(code)s” cannot be its own parent.") % {"code": code},
        cycle=lambda path: (
            _("These departments form a cycle in the department tree: %(cycle)s") % {"cycle": path}
        ),
    )
    return depts


def _check_employees(table: Table, depts: dict[str, _DeptRow] | None, errors) -> dict[str, _EmpRow]:
    emps: dict[str, _EmpRow] = {}
    if not table.header_ok:
        return emps
    limits = {
        "employee_id": _max_length(Employee, "employee_id"),
        "name": _max_length(Employee, "name"),
        "email": _max_length(Employee, "email"),
        "title": _max_length(Employee, "title"),
    }
    has_im = "im_user_id" in table.columns
    if has_im:
        limits["im_user_id"] = _max_length(Employee, "im_user_id")
    im_lines: dict[str, int] = {}
    for line, row in table.rows:
        for column in ("employee_id", "name", "department_code"):
            _required(table, line, row, column, errors)
        for column, limit in limits.items():
            _fits(table, line, row, column, limit, errors)
        eid = row["employee_id"]
        if eid and not EMPLOYEE_ID_RE.match(eid):
            errors.append(
                table.issue(
                    line,
                    "employee_id",
                    _(
                        "Employee ID “%(id)s” is also the login name: use only letters, digits "
                        "and @ . + - _"
                    )
                    % {"id": eid},
                )
            )
        if row["email"] and not PLAIN_EMAIL_RE.match(row["email"]):
            try:
                validate_email(row["email"])
            except ValidationError:
                errors.append(
                    table.issue(
                        line,
                        "email",
                        _("“%(email)s” is not a valid e-mail address.") % {"email": row["email"]},
                    )
                )
        dept = row["department_code"]
        if dept and depts is not None and dept not in depts:
            errors.append(
                table.issue(
                    line,
                    "department_code",
                    _("Unknown department “%(code)s”.") % {"code": dept},
                )
            )
        if eid and eid in emps:
            errors.append(
                table.issue(
                    line,
                    "employee_id",
                    _("Employee ID “%(id)s” already appears on line %(line)s.")
                    % {"id": eid, "line": emps[eid].line},
                )
            )
            continue
        im_user_id = row["im_user_id"] if has_im else None
        if im_user_id:
            # Two people with one ID would each get the other's messages.
            if im_user_id in im_lines:
                errors.append(
                    table.issue(
                        line,
                        "im_user_id",
                        _("Messaging ID “%(id)s” already appears on line %(line)s.")
                        % {"id": im_user_id, "line": im_lines[im_user_id]},
                    )
                )
            im_lines.setdefault(im_user_id, line)
        if eid:  # kept with errors too, like departments
            emps[eid] = _EmpRow(
                line,
                eid,
                row["name"],
                row["email"],
                dept,
                row["manager_employee_id"],
                row["title"],
                im_user_id,
            )
    if table.failed:
        return emps
    _check_tree(
        table,
        emps,
        {eid: row.manager or None for eid, row in emps.items()},
        "manager_employee_id",
        errors,
        unknown=lambda eid: _("Unknown manager “%(id)s”.") % {"id": eid},
        own=lambda eid: _("Employee “%(id)s” cannot be their own manager.") % {"id": eid},
        cycle=lambda path: (
            _("These employees form a cycle in the reporting line: %(cycle)s") % {"cycle": path}
        ),
    )
    return emps


def _check_tree(
    table: Table, rows: dict, parent: dict[str, str | None], column, errors, *, unknown, own, cycle
) -> None:
    """Department tree and reporting line alike: every parent known, and no cycle."""
    for key, up in parent.items():
        if up and up not in rows:
            errors.append(table.issue(rows[key].line, column, unknown(up)))
    for path in _cycles(parent):
        first = min(path, key=lambda k: rows[k].line)
        message = own(first) if len(path) == 1 else cycle(" → ".join([*path, path[0]]))
        errors.append(table.issue(rows[first].line, column, message))


def _cycles(parent: dict[str, str | None]) -> list[list[str]]:
    """The cycles of a graph where each node has at most one parent (a forest or worse)."""
    done: set[str] = set()
    cycles = []
    for start in parent:
        if start in done:
            continue
        path: list[str] = []
        position: dict[str, int] = {}
        node: str | None = start
        while node is not None and node in parent and node not in done and node not in position:
            position[node] = len(path)
            path.append(node)
            node = parent[node]
        if node is not None and node in position:
            cycles.append(path[position[node] :])
        done.update(path)
    return cycles


def _check_relations(
    table: Table,
    depts: dict[str, _DeptRow] | None,
    emps: dict[str, _EmpRow] | None,
    errors,
) -> list[_RelRow]:
    rels: dict[tuple, _RelRow] = {}  # (type, provider, customer) of the first row
    if not table.header_ok:
        return []
    for line, row in table.rows:
        edge_type = RELATION_TYPES.get(row["type"].lower())
        ok = True
        if edge_type is None:
            ok = False
            errors.append(
                table.issue(
                    line,
                    "type",
                    _(
                        "Unknown relationship type “%(type)s”; use function, process, workflow "
                        "(or 职能, 工序, 流程)."
                    )
                    % {"type": row["type"]},
                )
            )
        ends = []
        for side, label in (("provider", _("provider")), ("customer", _("customer"))):
            end = _relation_end(table, line, row, side, label, depts, emps, errors)
            ok = ok and end is not None
            ends.append(end)
        if not ok or edge_type == EdgeType.RANK:
            continue  # rank rows (from an export) are skipped: rank follows the managers
        provider, customer = ends
        if provider == customer:
            errors.append(
                table.issue(
                    line,
                    f"customer_{customer[0]}",
                    _("A relationship cannot connect “%(end)s” to itself.") % {"end": customer[1]},
                )
            )
            continue
        same = rels.get((edge_type, provider, customer))
        reverse = rels.get((edge_type, customer, provider))
        if same is not None or (reverse is not None and reverse.reverse_service is not None):
            first = same.line if same is not None else reverse.line
            errors.append(
                table.issue(
                    line,
                    "type",
                    _("This relationship already appears in the file (line %(line)s).")
                    % {"line": first},
                )
            )
            continue
        if reverse is not None:
            reverse.reverse_service = row["service"]  # this row is the reverse edge: join
            continue
        rels[(edge_type, provider, customer)] = _RelRow(
            line, edge_type, provider, customer, row["service"]
        )
    return list(rels.values())


def _relation_end(table, line, row, side, label, depts, emps, errors):
    dept, emp = row[f"{side}_department"], row[f"{side}_employee"]
    if dept and emp:
        errors.append(
            table.issue(
                line,
                f"{side}_department",
                _("Give the %(side)s as a department or an employee, not both.") % {"side": label},
            )
        )
        return None
    if not dept and not emp:
        errors.append(
            table.issue(
                line,
                f"{side}_department",
                _("The %(side)s is missing: give a department code or an employee ID.")
                % {"side": label},
            )
        )
        return None
    if row["type"].lower() in ("rank", "职级", "职级客户"):
        return ("employee", emp) if emp else ("department", dept)
    if dept:
        if depts is not None and dept not in depts:
            errors.append(
                table.issue(
                    line,
                    f"{side}_department",
                    _("Unknown department “%(code)s”.") % {"code": dept},
                )
            )
            return None
        return ("department", dept)
    if emps is not None and emp not in emps:
        errors.append(
            table.issue(line, f"{side}_employee", _("Unknown employee “%(id)s”.") % {"id": emp})
        )
        return None
    return ("employee", emp)


# --- The database state the plan is made against ----------------------------------------------


@dataclass
class _State:
    departments: dict[str, tuple]  # code → (id, name, parent_id, head_id, active)
    employees: dict[str, tuple]  # employee_id → (id, name, email, dept_id, manager_id, title,
    # active, user_id)
    users: dict[str, tuple]  # username → (id, email, is_active, privileged)
    users_by_id: dict[int, tuple]
    im_ids: dict[str, str]  # employee_id → messaging ID
    pairs: dict[int, dict]  # non-rank active pairs: id → {type, workflow_id, forward, reverse}
    rank: dict[tuple[int, int], int]  # (subordinate id, manager id) → active rank pair id
    fingerprint: str


def _read_state() -> _State:
    User = get_user_model()
    dept_rows = list(
        Department.objects.order_by("id").values_list(
            "id", "code", "name", "parent_id", "head_id", "active", "line"
        )
    )
    emp_rows = list(
        Employee.objects.order_by("id").values_list(
            "id",
            "employee_id",
            "name",
            "email",
            "department_id",
            "manager_id",
            "title",
            "active",
            "user_id",
        )
    )
    im_rows = list(Employee.objects.order_by("id").values_list("employee_id", "im_user_id"))
    user_rows = list(
        User.objects.order_by("id").values_list(
            "id", User.USERNAME_FIELD, "email", "is_active", "is_staff", "is_superuser"
        )
    )
    edge_rows = list(
        Edge.objects.active()
        .exclude(type=EdgeType.RANK)
        .order_by("id")
        .values_list(
            "id",
            "pair_id",
            "direction",
            "type",
            "provider_department_id",
            "provider_employee_id",
            "customer_department_id",
            "customer_employee_id",
            "service",
            "pair__workflow_id",
        )
    )
    rank_rows = list(
        Edge.objects.active()
        .filter(type=EdgeType.RANK, direction=Direction.FORWARD)
        .order_by("id")
        .values_list("pair_id", "provider_employee_id", "customer_employee_id")
    )
    digest = hashlib.blake2b(digest_size=16)
    for rows in (dept_rows, emp_rows, im_rows, user_rows, edge_rows, rank_rows):
        digest.update(repr(rows).encode())
    pairs: dict[int, dict] = {}
    for edge_id, pair_id, direction, edge_type, pd, pe, cd, ce, service, wf in edge_rows:
        pair = pairs.setdefault(pair_id, {"type": edge_type, "workflow_id": wf})
        provider = EndRef("department", pd) if pd is not None else EndRef("employee", pe)
        customer = EndRef("department", cd) if cd is not None else EndRef("employee", ce)
        pair[direction] = (edge_id, provider, customer, service)
    return _State(
        departments={r[1]: (r[0], *r[2:]) for r in dept_rows},
        employees={r[1]: (r[0], *r[2:]) for r in emp_rows},
        users={r[1]: (r[0], r[2], r[3], r[4] or r[5]) for r in user_rows},
        users_by_id={r[0]: (r[2], r[3]) for r in user_rows},
        im_ids=dict(im_rows),
        pairs=pairs,
        rank={(sub, sup): pair_id for pair_id, sub, sup in rank_rows},
        fingerprint=digest.hexdigest(),
    )


# --- Comparing files and state ----------------------------------------------------------------


def _diff(files: _Files, state: _State, plan: ImportPlan) -> None:
    changes, writes = plan.changes, plan.writes
    dept_ids: dict[str, int] = {}
    for code in files.departments:
        existing = state.departments.get(code)
        dept_ids[code] = existing[0] if existing else -(len(dept_ids) + 1)
    emp_ids: dict[str, int] = {}
    for eid in files.employees:
        existing = state.employees.get(eid)
        emp_ids[eid] = existing[0] if existing else -(len(emp_ids) + 1)

    # Departments
    for code, row in files.departments.items():
        parent = dept_ids[row.parent_code] if row.parent_code else None
        head = emp_ids[row.head] if row.head else None
        existing = state.departments.get(code)
        label = f"{row.name} ({code})"
        if existing is None:
            writes.new_departments.append(
                (dept_ids[code], code, row.name, parent, head, row.line_kind or "")
            )
            changes.note("departments_created", label)
            continue
        line_kind = existing[5] if row.line_kind is None else row.line_kind
        wanted = (existing[0], row.name, parent, head, True, line_kind)
        if wanted != existing:
            writes.department_updates.append(wanted)
            changes.note(
                "departments_reactivated" if not existing[4] else "departments_updated", label
            )
            writes.activity_changed |= not existing[4]
    gone_depts = set()
    for code, existing in state.departments.items():
        if code not in files.departments and existing[4]:
            writes.department_updates.append((*existing[:4], False, existing[5]))
            gone_depts.add(existing[0])
            changes.note("departments_deactivated", f"{existing[1]} ({code})")
            writes.activity_changed = True

    # Employees and their logins
    linked_users = {e[7] for e in state.employees.values() if e[7] is not None}
    new_users = 0
    for eid, row in files.employees.items():
        existing = state.employees.get(eid)
        manager = emp_ids[row.manager] if row.manager else None
        dept = dept_ids[row.department_code]
        label = f"{row.name} ({eid})"
        user_id = existing[7] if existing else None
        if user_id is None:
            user = state.users.get(eid)
            if user is not None and user[3]:
                # Linking would hand an administrator's login (and, through the password-set
                # e-mail, its password) to whoever the file names.
                plan.errors.append(
                    ImportIssue(
                        files.employees_file,
                        row.line,
                        "employee_id",
                        _("The ID “%(id)s” is the login of an administrator account.")
                        % {"id": eid},
                    )
                )
                continue
            if user is not None and user[0] not in linked_users:
                user_id = user[0]  # a login with this name exists and is nobody's yet: link it
                changes.note("logins_updated", eid)
            elif user is not None:
                plan.errors.append(
                    ImportIssue(
                        files.employees_file,
                        row.line,
                        "employee_id",
                        _("The login “%(id)s” already belongs to another employee.") % {"id": eid},
                    )
                )
                continue
            else:
                new_users += 1
                user_id = -new_users
                writes.new_users.append((user_id, eid, row.email, row.name[:150]))
                changes.note("logins_created", eid)
        if user_id > 0 and user_id in state.users_by_id:
            email, is_active = state.users_by_id[user_id]
            coming_back = existing is None or not existing[6]
            wanted_user = (row.email, is_active or coming_back)
            if wanted_user != (email, is_active):
                writes.user_updates.append((user_id, *wanted_user))
                if existing is not None and user_id == existing[7]:
                    changes.note("logins_updated", eid)
        if row.im_user_id is not None:
            current = state.im_ids.get(eid, "") if existing else ""
            if row.im_user_id != current:
                writes.im_user_ids.append((emp_ids[eid], row.im_user_id))
                if existing is not None:
                    changes.note("im_ids_changed", label)
        if existing is None:
            writes.new_employees.append(
                (emp_ids[eid], eid, row.name, row.email, dept, manager, row.title, user_id)
            )
            changes.note("employees_created", label)
            continue
        wanted = (existing[0], row.name, row.email, dept, manager, row.title, True, user_id)
        if wanted != existing:
            writes.employee_updates.append(wanted)
            if not existing[6]:
                changes.note("employees_reactivated", label)
                writes.activity_changed = True
            elif (dept, manager) != existing[3:5]:
                changes.note("employees_moved", label)
            elif wanted[1:6] != existing[1:6]:
                changes.note("employees_updated", label)
    gone_emps = set()
    for eid, existing in state.employees.items():
        if eid in files.employees or not existing[6]:
            continue
        writes.employee_updates.append((*existing[:6], False, existing[7]))
        gone_emps.add(existing[0])
        changes.note("employees_deactivated", f"{existing[1]} ({eid})")
        writes.activity_changed = True
        user_id = existing[7]
        if user_id is not None and user_id in state.users_by_id:
            email, is_active = state.users_by_id[user_id]
            writes.ended_user_ids.append(user_id)
            if is_active:
                writes.user_updates.append((user_id, email, False))

    # Rank pairs follow the reporting line (services.sync_rank_edges, set-based here)
    wanted_rank = {
        (emp_ids[eid], emp_ids[row.manager]) for eid, row in files.employees.items() if row.manager
    }
    retire: dict[int, str] = {}
    for key, pair_id in state.rank.items():
        if key not in wanted_rank:
            retire[pair_id] = EdgeType.RANK
    task_text, condition_text = rank_service_texts()
    for sub, sup in sorted(wanted_rank - state.rank.keys()):
        writes.new_pairs.append(
            NewPair(
                EdgeType.RANK,
                EndRef("employee", sub),
                EndRef("employee", sup),
                task_text,
                condition_text,
            )
        )

    # Other pairs: retire those touching whoever leaves; match the file's HR-set relationships
    gone = {("department", i) for i in gone_depts} | {("employee", i) for i in gone_emps}
    by_ends: dict[tuple, int] = {}
    for pair_id, pair in state.pairs.items():
        _edge_id, provider, customer, _service = pair[Direction.FORWARD]
        if provider in gone or customer in gone:
            retire[pair_id] = pair["type"]
        by_ends[(pair["type"], provider, customer)] = pair_id
    if files.relations is not None:
        ids = {"department": dept_ids, "employee": emp_ids}
        matched: set[int] = set()
        for rel in files.relations:
            provider = EndRef(rel.provider[0], ids[rel.provider[0]][rel.provider[1]])
            customer = EndRef(rel.customer[0], ids[rel.customer[0]][rel.customer[1]])
            pair_id = by_ends.get((rel.type, provider, customer))
            services = {Direction.FORWARD: rel.service, Direction.REVERSE: rel.reverse_service}
            if pair_id is None:
                pair_id = by_ends.get((rel.type, customer, provider))
                services = {Direction.FORWARD: rel.reverse_service, Direction.REVERSE: rel.service}
            if pair_id is None:
                writes.new_pairs.append(
                    NewPair(rel.type, provider, customer, rel.service, rel.reverse_service or "")
                )
                continue
            matched.add(pair_id)
            pair = state.pairs[pair_id]
            for direction, service in services.items():
                edge_id, _p, _c, current = pair[direction]
                if service is not None and service != current:
                    writes.service_updates.append((edge_id, service))
                    changes.services_changed += 1
        for pair_id, pair in state.pairs.items():
            hr_set = pair["type"] != EdgeType.PROCESS or pair["workflow_id"] is None
            if hr_set and pair_id not in matched:
                retire[pair_id] = pair["type"]

    writes.retire_pair_ids = sorted(retire)
    for edge_type in retire.values():
        changes.pairs_retired[edge_type] += 1
    for new in writes.new_pairs:
        changes.pairs_created[new.type] += 1


# --- Writing ----------------------------------------------------------------------------------


class _Audit(NamedTuple):
    import_id: int
    user_id: int | None


def _write(writes: _Writes, *, at, audit: _Audit) -> None:
    User = get_user_model()
    at_value = import_sql.timestamp(at)  # formatted once for 300,000 rows
    # apply_import holds a lock that keeps other writers out of the relations tables.
    dept_map = dict(
        zip(
            (r[0] for r in writes.new_departments),
            import_sql.allocate_ids(Department, len(writes.new_departments), locked=True),
            strict=True,
        )
    )
    emp_map = dict(
        zip(
            (r[0] for r in writes.new_employees),
            import_sql.allocate_ids(Employee, len(writes.new_employees), locked=True),
            strict=True,
        )
    )
    user_map = dict(
        zip(
            (r[0] for r in writes.new_users),
            import_sql.allocate_ids(User, len(writes.new_users)),
            strict=True,
        )
    )

    def dept(value):
        return dept_map[value] if value is not None and value < 0 else value

    def emp(value):
        return emp_map[value] if value is not None and value < 0 else value

    def user(value):
        return user_map[value] if value is not None and value < 0 else value

    new_rows = (
        len(writes.new_users)
        + len(writes.new_departments)
        + len(writes.new_employees)
        + 3 * len(writes.new_pairs)
    )
    with import_sql.foreign_keys_checked_once(
        [Department, Employee, RelationPair, Edge], enabled=new_rows >= import_sql.BULK_ROWS
    ):
        import_sql.insert_rows(
            User,
            [
                "id",
                User.USERNAME_FIELD,
                "email",
                "first_name",
                "password",
                "is_active",
                "date_joined",
            ],
            [
                (user(tmp), username, email, first_name, _unusable_password(), True, at_value)
                for tmp, username, email, first_name in writes.new_users
            ],
        )
        import_sql.insert_rows(
            Department,
            ["id", "code", "name", "parent_id", "head_id", "active", "line"],
            [
                (dept(tmp), code, name, dept(parent), emp(head), True, line_kind)
                for tmp, code, name, parent, head, line_kind in writes.new_departments
            ],
        )
        import_sql.insert_rows(
            Employee,
            [
                "id",
                "employee_id",
                "name",
                "email",
                "department_id",
                "manager_id",
                "title",
                "user_id",
                "active",
            ],
            [
                (emp(tmp), eid, name, email, dept(d), emp(m), title, user(u), True)
                for tmp, eid, name, email, d, m, title, u in writes.new_employees
            ],
        )
        import_sql.update_rows(
            Department,
            ["name", "parent_id", "head_id", "active", "line"],
            [
                (pk, name, dept(p), emp(h), active, line_kind)
                for pk, name, p, h, active, line_kind in writes.department_updates
            ],
        )
        import_sql.update_rows(
            Employee,
            ["name", "email", "department_id", "manager_id", "title", "active", "user_id"],
            [
                (pk, name, email, dept(d), emp(m), title, active, user(u))
                for pk, name, email, d, m, title, active, u in writes.employee_updates
            ],
        )
        import_sql.update_rows(
            Employee, ["im_user_id"], [(emp(pk), value) for pk, value in writes.im_user_ids]
        )
        import_sql.update_rows(User, ["email", "is_active"], writes.user_updates)
        import_sql.retire_pairs(RelationPair, Edge, writes.retire_pair_ids, at)
        import_sql.update_rows(Edge, ["service"], writes.service_updates)
        pair_ids = _create_pairs(writes.new_pairs, dept, emp, at_value)
    _record_history(
        at,
        audit,
        [
            (Department, "id", history.CREATED, list(dept_map.values())),
            (Department, "id", history.CHANGED, [r[0] for r in writes.department_updates]),
            (Employee, "id", history.CREATED, list(emp_map.values())),
            (
                Employee,
                "id",
                history.CHANGED,
                sorted(
                    {r[0] for r in writes.employee_updates}
                    | {pk for pk, _value in writes.im_user_ids if pk > 0}
                ),
            ),
            (RelationPair, "id", history.CREATED, pair_ids),
            (RelationPair, "id", history.CHANGED, writes.retire_pair_ids),
            (Edge, "pair_id", history.CREATED, pair_ids),
            (Edge, "pair_id", history.CHANGED, writes.retire_pair_ids),
            (Edge, "id", history.CHANGED, [r[0] for r in writes.service_updates]),
        ],
    )
    if writes.activity_changed or writes.retire_pair_ids:
        # Steps owned by someone who left or came back change the workflow's process pairs, and
        # a retired HR-set process pair may have stood for a workflow's step pair.
        with history.attributed(user_id=audit.user_id, history_import=audit.import_id):
            sync_process_edges(at=at)
    ended = list(writes.ended_user_ids)
    if ended:
        transaction.on_commit(lambda: end_sessions_of_users(ended))


def _unusable_password() -> str:
    # Like make_password(None): "!" and a random suffix; secrets is 50× faster than
    # get_random_string for 100,000 logins.
    return "!" + secrets.token_urlsafe(30)


def _record_history(at, audit: _Audit, changes: list[tuple]) -> None:
    """The rows the import wrote, into the audit trail: one INSERT ... SELECT per entry.

    Each entry is (model, column, history type, ids): the rows of `model` whose `column` is
    one of `ids`, copied as they are now (after the writes), pointing at the import record.
    """
    for model, column, history_type, ids in changes:
        if not ids:
            continue
        low, high = min(ids), max(ids)
        with contextlib.ExitStack() as stack:
            if high - low + 1 == len(set(ids)):
                # Every id of the range is one of ours (the ids of new rows are allocated as a
                # block under the import's lock): no need to stage them.
                where, params = f"{column} BETWEEN %s AND %s", [low, high]
            else:
                stage = stack.enter_context(import_sql.staged_ids(ids))
                where, params = f"{column} IN (SELECT id FROM {stage})", []  # noqa: S608
            history.record_where(
                model,
                where,
                params,
                history_type,
                at=at,
                user_id=audit.user_id,
                extra={"history_import": audit.import_id},
            )


def _create_pairs(new_pairs: list[NewPair], dept, emp, at) -> list[int]:
    pair_ids = import_sql.allocate_ids(RelationPair, len(new_pairs), locked=True)
    edge_ids = import_sql.allocate_ids(Edge, 2 * len(new_pairs), locked=True)
    import_sql.insert_rows(
        RelationPair,
        ["id", "type", "workflow_id", "valid_from", "valid_to"],
        [(pk, new.type, None, at, None) for pk, new in zip(pair_ids, new_pairs, strict=True)],
    )

    def columns(end: EndRef):
        if end.kind == "department":
            return dept(end.id), None
        return None, emp(end.id)

    edges = []
    for index, (pair_id, new) in enumerate(zip(pair_ids, new_pairs, strict=True)):
        forward_kind, reverse_kind = (
            (RankKind.TASK, RankKind.CONDITION) if new.type == EdgeType.RANK else ("", "")
        )
        provider, customer = columns(new.provider), columns(new.customer)
        edges.append(
            (
                edge_ids[2 * index],
                pair_id,
                Direction.FORWARD,
                new.type,
                forward_kind,
                *provider,
                *customer,
                new.service,
                at,
                None,
            )
        )
        edges.append(
            (
                edge_ids[2 * index + 1],
                pair_id,
                Direction.REVERSE,
                new.type,
                reverse_kind,
                *customer,
                *provider,
                new.reverse_service,
                at,
                None,
            )
        )
    # Both edges of every pair in one statement: the PostgreSQL pair trigger checks them there.
    import_sql.insert_rows(
        Edge,
        [
            "id",
            "pair_id",
            "direction",
            "type",
            "rank_kind",
            "provider_department_id",
            "provider_employee_id",
            "customer_department_id",
            "customer_employee_id",
            "service",
            "valid_from",
            "valid_to",
        ],
        edges,
    )
    return pair_ids
