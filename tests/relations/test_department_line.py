"""Front line or functional: an optional column of the departments import, in the export and
the templates, inherited by sub-departments without their own."""

import csv
import io

import openpyxl
import pytest
from django.core.management import call_command

from relations.exporting import TEMPLATE_ROWS, template_csv, template_xlsx
from relations.importing import (
    DEPARTMENT_LINE_COLUMNS,
    EMPLOYEE_COLUMNS,
    RELATION_COLUMNS,
    ImportSource,
    apply_import,
    plan_import,
)
from relations.models import Department, LineKind, effective_lines
from tests.relations.import_helpers import csv_bytes, import_ok, rows_of

LINES = {"HQ": "", "SALES": "一线", "COM": "functional", "FIN": "职能", "SALES-N": ""}


def _with_lines(lines=LINES):
    return [[*row, lines.get(row[0], "")] for row in rows_of("departments.csv")]


def _sources(departments, *, xlsx=False):
    if xlsx:
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(list(DEPARTMENT_LINE_COLUMNS))
        for row in departments:
            sheet.append(row)
        out = io.BytesIO()
        workbook.save(out)
        dept_source = ImportSource("部门.xlsx", out.getvalue())
    else:
        dept_source = ImportSource(
            "departments.csv", csv_bytes(DEPARTMENT_LINE_COLUMNS, departments)
        )
    return {
        "departments": dept_source,
        "employees": ImportSource(
            "employees.csv", csv_bytes(EMPLOYEE_COLUMNS, rows_of("employees.csv"))
        ),
        "relations": ImportSource(
            "relations.csv", csv_bytes(RELATION_COLUMNS, rows_of("relations.csv"))
        ),
    }


def _lines() -> dict[str, str]:
    return dict(Department.objects.values_list("code", "line"))


@pytest.mark.parametrize("xlsx", [False, True], ids=["csv", "xlsx"])
@pytest.mark.django_db
def test_the_line_column_sets_each_departments_line_in_english_or_chinese(xlsx):
    plan = plan_import(**_sources(_with_lines(), xlsx=xlsx))
    assert plan.errors == []
    apply_import(plan)
    assert _lines() == {
        "HQ": "",
        "SALES": LineKind.FRONT,
        "COM": LineKind.FUNCTIONAL,
        "FIN": LineKind.FUNCTIONAL,
        "SALES-N": "",
    }
    # The audit trail has the version the import wrote.
    assert Department.objects.get(code="SALES").history.first().line == LineKind.FRONT


@pytest.mark.django_db
def test_without_the_column_lines_stay_and_an_empty_value_unsets_one():
    apply_import(plan_import(**_sources(_with_lines())))
    plan, _summary = import_ok()  # the plain four columns
    assert plan.is_noop
    assert _lines()["SALES"] == LineKind.FRONT
    apply_import(plan_import(**_sources(_with_lines({**LINES, "SALES": ""}))))
    assert _lines()["SALES"] == ""
    assert _lines()["COM"] == LineKind.FUNCTIONAL


@pytest.mark.django_db
def test_an_unknown_line_is_reported_on_its_line_and_column():
    plan = plan_import(**_sources(_with_lines({**LINES, "FIN": "后勤"})))
    assert [(e.file, e.line, e.column) for e in plan.errors] == [("departments.csv", 5, "line")]
    assert "后勤" in plan.errors[0].message


@pytest.mark.django_db
def test_the_export_writes_the_line_and_imports_again_unchanged(tmp_path):
    apply_import(plan_import(**_sources(_with_lines())))
    call_command("export_org", str(tmp_path), stdout=io.StringIO())
    with open(tmp_path / "departments.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(DEPARTMENT_LINE_COLUMNS)
    assert dict((r[0], r[4]) for r in rows[1:])["SALES"] == "front"
    again = plan_import(
        departments=ImportSource("departments.csv", (tmp_path / "departments.csv").read_bytes()),
        employees=ImportSource("employees.csv", (tmp_path / "employees.csv").read_bytes()),
        relations=ImportSource("relations.csv", (tmp_path / "relations.csv").read_bytes()),
    )
    assert again.errors == [] and again.is_noop


def test_the_templates_show_the_optional_line_column():
    assert template_csv("departments").splitlines()[0] == ",".join(DEPARTMENT_LINE_COLUMNS)
    sheet = openpyxl.load_workbook(io.BytesIO(template_xlsx("departments"))).active
    assert [c.value for c in next(sheet.iter_rows())] == list(DEPARTMENT_LINE_COLUMNS)
    assert TEMPLATE_ROWS["departments"][1][1][4] == "functional"


def test_a_sub_department_takes_the_nearest_line_above_it():
    parents = {1: None, 2: 1, 3: 2, 4: 3, 5: None, 6: 7, 7: 6}  # 6 and 7: a broken loop
    lines = {2: "front", 4: "functional"}
    assert effective_lines(parents, lines) == {
        1: "",
        2: "front",
        3: "front",
        4: "functional",
        5: "",
        6: "",
        7: "",
    }


@pytest.mark.django_db
def test_the_database_refuses_an_unknown_line():
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Department.objects.create(code="X", name="X", line="elsewhere")
