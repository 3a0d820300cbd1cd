"""The employee file's optional `im_user_id` column: each person's user ID on WeCom, DingTalk or
Feishu, in CSV and Excel, written back by the export and the templates so files round-trip."""

import io
from io import StringIO

import openpyxl
import pytest

from relations.exporting import TEMPLATE_ROWS, write_employees
from relations.importing import (
    EMPLOYEE_COLUMNS,
    EMPLOYEE_IM_COLUMNS,
    ImportSource,
    apply_import,
    plan_import,
)
from relations.models import Employee
from tests.relations.import_helpers import csv_bytes, rows_of, sources

pytestmark = pytest.mark.django_db

IM_IDS = {"E001": "wangzong", "E002": "li.xs", "E003": "", "E004": "zhao"}


def with_ids(ids=IM_IDS):
    return [[*row, ids.get(row[0], "")] for row in rows_of("employees.csv")]


def employees_source(rows, header=EMPLOYEE_IM_COLUMNS, *, excel=False) -> ImportSource:
    if not excel:
        return ImportSource("employees.csv", csv_bytes(header, rows))
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return ImportSource("employees.xlsx", out.getvalue())


def plan_with(employees: ImportSource):
    return plan_import(**{**sources(), "employees": employees})


def im_ids() -> dict[str, str]:
    return dict(Employee.objects.values_list("employee_id", "im_user_id"))


@pytest.mark.parametrize("excel", [False, True])
def test_the_column_sets_the_ids_of_new_and_existing_employees(excel):
    plan = plan_with(employees_source(with_ids(), excel=excel))
    assert plan.errors == []
    apply_import(plan)
    assert {k: v for k, v in im_ids().items() if k in IM_IDS} == IM_IDS
    changed = {**IM_IDS, "E002": "li.new", "E004": ""}
    plan = plan_with(employees_source(with_ids(changed), excel=excel))
    assert plan.changes.im_ids_changed == 2
    assert sorted(plan.changes.samples["im_ids_changed"]) == ["李销售 (E002)", "赵商务 (E004)"]
    apply_import(plan)
    assert im_ids()["E002"] == "li.new" and im_ids()["E004"] == ""


def test_a_file_without_the_column_leaves_the_ids_alone():
    apply_import(plan_with(employees_source(with_ids())))
    plan = plan_with(employees_source(rows_of("employees.csv"), EMPLOYEE_COLUMNS))
    assert plan.errors == [] and plan.changes.is_noop
    apply_import(plan)
    assert im_ids()["E001"] == "wangzong"


def test_one_id_for_two_people_is_refused():
    plan = plan_with(employees_source(with_ids({"E001": "same", "E004": "same"})))
    assert [(e.column, e.line) for e in plan.errors] == [("im_user_id", 5)]
    assert "line 2" in plan.errors[0].message


def test_the_export_and_the_template_import_back_as_no_change():
    apply_import(plan_with(employees_source(with_ids())))
    out = StringIO()
    write_employees(out)
    header, *lines = out.getvalue().splitlines()
    assert header.split(",") == list(EMPLOYEE_IM_COLUMNS)
    assert any(line.endswith(",wangzong") for line in lines)
    plan = plan_with(ImportSource("employees.csv", out.getvalue().encode()))
    assert plan.errors == [] and plan.changes.is_noop
    columns, _rows = TEMPLATE_ROWS["employees"]
    assert columns == EMPLOYEE_IM_COLUMNS
