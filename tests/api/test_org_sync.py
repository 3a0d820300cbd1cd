"""Org sync from JSON: the file import's checks, errors as JSON pointers, dry run, summary,
and the same database as the files give."""

import csv
import io

from django.db import transaction

from relations import exporting
from relations.demo import load_demo
from relations.importing import (
    DEPARTMENT_COLUMNS,
    EMPLOYEE_COLUMNS,
    RELATION_COLUMNS,
    ImportSource,
    apply_import,
    plan_import,
)
from relations.models import Department, Edge, Employee, OrgImport, RelationPair

_DOCUMENT: dict = {}


def _demo_document() -> dict:
    """The demo company as the three lists of rows (its export, in the files' columns);
    built once per run (plain data)."""
    if not _DOCUMENT:
        _DOCUMENT.update(_export_demo())
    return {kind: [dict(row) for row in rows] for kind, rows in _DOCUMENT.items()}


def _export_demo() -> dict:
    with transaction.atomic():
        load_demo()
        lists = {}
        for kind, write in (
            ("departments", exporting.write_departments),
            ("employees", exporting.write_employees),
            ("relations", exporting.write_relations),
        ):
            out = io.StringIO()
            write(out)
            lists[kind] = list(csv.DictReader(io.StringIO(out.getvalue())))
        transaction.set_rollback(True)
    lists["relations"] = [
        {c: row[c] for c in RELATION_COLUMNS} for row in lists["relations"] if row["type"] != "rank"
    ]
    return lists


def _csv(columns, rows) -> bytes:
    # The export's optional columns (a department's line, a person's messaging ID) after the
    # required ones, as the file import and the document both take them.
    columns = [*columns, *(c for c in rows[0] if c not in columns)] if rows else columns
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _state() -> dict:
    """The org as natural keys: what two imports of the same company must agree on."""
    dept_code = dict(Department.objects.values_list("id", "code"))
    emp_key = dict(Employee.objects.values_list("id", "employee_id"))

    def end(dept, emp):
        return dept_code.get(dept) or emp_key.get(emp)

    return {
        "departments": sorted(
            (d.code, d.name, dept_code.get(d.parent_id), emp_key.get(d.head_id), d.active)
            for d in Department.objects.all()
        ),
        "employees": sorted(
            (
                e.employee_id,
                e.name,
                e.email,
                dept_code[e.department_id],
                emp_key.get(e.manager_id),
                e.title,
                e.active,
                e.user.username if e.user else None,
            )
            for e in Employee.objects.select_related("user")
        ),
        "edges": sorted(
            (
                e.type,
                e.rank_kind,
                e.direction,
                end(e.provider_department_id, e.provider_employee_id),
                end(e.customer_department_id, e.customer_employee_id),
                e.service,
            )
            for e in Edge.objects.active()
        ),
        "pairs": RelationPair.objects.active().count(),
    }


def test_the_demo_company_gives_the_same_database_through_the_api_and_the_files(api_client, db):
    document = _demo_document()
    assert not Employee.objects.exists()
    with transaction.atomic():
        plan = plan_import(
            departments=ImportSource(
                "departments.csv", _csv(DEPARTMENT_COLUMNS, document["departments"])
            ),
            employees=ImportSource("employees.csv", _csv(EMPLOYEE_COLUMNS, document["employees"])),
            relations=ImportSource("relations.csv", _csv(RELATION_COLUMNS, document["relations"])),
        )
        assert not plan.errors
        by_files = apply_import(plan).as_dict()
        through_files = _state()
        transaction.set_rollback(True)
    assert not Employee.objects.exists()

    response = api_client.post("/org/sync", document, key="sync-1")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["applied"] is True
    assert body["summary"] == by_files
    assert body["changes"]["employees_created"] == 60
    assert _state() == through_files
    assert len(through_files["employees"]) == 60 and through_files["pairs"] > 60
    record = OrgImport.objects.get(pk=body["import_id"])
    assert (record.via, record.system_user) == ("api", "ERP")

    # The same document again changes nothing and writes no import.
    imports = OrgImport.objects.count()
    again = api_client.post("/org/sync", document, key="sync-2").json()
    assert again["applied"] is False
    assert not any(v for k, v in again["changes"].items() if isinstance(v, int))
    assert OrgImport.objects.count() == imports
    assert _state() == through_files

    # The same key again: the stored response, nothing run.
    replay = api_client.post("/org/sync", document, key="sync-1")
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == body


def test_line_errors_come_back_as_json_pointers_and_nothing_is_written(api_client, db):
    document = {
        "departments": [{"code": "HQ", "name": "总部", "parent_code": "", "head_employee_id": ""}],
        "employees": [
            {
                "employee_id": "E1",
                "name": "王",
                "email": "not-an-address",
                "department_code": "HQ",
                "manager_employee_id": "",
                "title": "",
            },
            {"employee_id": "E2", "name": "李", "department_code": "NOPE", "colour": "red"},
        ],
    }
    response = api_client.post("/org/sync", document, key="bad")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert "/employees/0/email" in pointers
    assert "/employees/1/colour" in pointers
    assert "/employees/1/department_code" in pointers
    assert not Department.objects.exists()


def test_a_dry_run_shows_the_changes_and_writes_nothing(api_client, db):
    document = _demo_document()
    response = api_client.post("/org/sync", {**document, "dry_run": True})
    assert response.status_code == 200
    body = response.json()
    assert body["applied"] is False and body["dry_run"] is True
    assert body["changes"]["departments_created"] == 10
    assert not Department.objects.exists()
