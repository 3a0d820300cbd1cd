"""HR's files as an outsider brings them: Excel workbooks, Chinese Windows CSV, broken sets."""

import io
from io import StringIO

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from relations.importing import (
    DEPARTMENT_COLUMNS,
    EMPLOYEE_COLUMNS,
    RELATION_COLUMNS,
    ImportSource,
    plan_import,
)
from relations.models import Employee
from tests.relations.import_helpers import csv_bytes, import_ok, rows_of, sources


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def excel_workbook(header, rows, *, instructions_first: bool = False) -> bytes:
    """A workbook as Excel users leave it: numbers for IDs, padded header, a notes sheet."""
    workbook = openpyxl.Workbook()
    data = workbook.active
    data.title = "数据"
    data.append([f"{column}  " for column in header])
    for row in rows:
        # Excel keeps an ID typed as 1001 as the number 1001.0.
        data.append([float(v) if v.isdigit() else (v or None) for v in row])
    data.cell(row=len(rows) + 5, column=len(header) + 2).number_format = "@"  # formatted, empty
    notes = workbook.create_sheet("填写说明", 0 if instructions_first else None)
    notes.append(["请在“数据”工作表中按表头填写，不要修改表头。"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def numeric_company():
    """The sample company with numeric employee IDs, as many HR systems number people."""
    ids = {f"E00{n}": f"100{n}" for n in range(1, 7)}

    def renumber(rows):
        return [[ids.get(value, value) for value in row] for row in rows]

    return (
        renumber(rows_of("departments.csv")),
        renumber(rows_of("employees.csv")),
        renumber(rows_of("relations.csv")),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("instructions_first", [False, True])
def test_excel_workbook_with_a_notes_sheet_reads_like_the_same_csv(instructions_first):
    departments, employees, relations = numeric_company()
    import_ok(departments=departments, employees=employees, relations=relations)

    plan = plan_import(
        departments=ImportSource(
            "部门.xlsx",
            excel_workbook(DEPARTMENT_COLUMNS, departments, instructions_first=instructions_first),
        ),
        employees=ImportSource(
            "员工.xlsx",
            excel_workbook(EMPLOYEE_COLUMNS, employees, instructions_first=instructions_first),
        ),
        relations=ImportSource(
            "关系.xlsx",
            excel_workbook(RELATION_COLUMNS, relations, instructions_first=instructions_first),
        ),
    )

    assert plan.errors == []
    assert plan.is_noop, plan.changes.lines()
    assert Employee.objects.get(employee_id="1003").manager.employee_id == "1002"


@pytest.mark.django_db
def test_gbk_csv_from_excel_with_padding_and_trailing_lines_changes_nothing_after_utf8():
    import_ok()
    padded = [
        [f" {value} " if value else value for value in row] for row in rows_of("employees.csv")
    ]
    data = csv_bytes(EMPLOYEE_COLUMNS, padded, encoding="gbk") + b",,,,,\r\n\r\n\r\n"

    plan = plan_import(**{**sources(), "employees": ImportSource("员工.csv", data)})

    assert plan.errors == []
    assert plan.is_noop, plan.changes.lines()


@pytest.mark.django_db
def test_errors_are_listed_file_by_file_from_top_to_bottom():
    departments = rows_of("departments.csv")
    departments[0][3] = "E999"  # head who is not in employees.csv: found after other checks
    employees = [*rows_of("employees.csv"), ["E007", "周七", "bad-mail", "HQ", "E001", ""]]
    relations = [["合作", "SALES", "", "FIN", "", ""]]
    departments.append(["X", "未知上级", "NOPE", ""])

    plan = plan_import(**sources(departments=departments, employees=employees, relations=relations))

    assert [(e.file, e.line, e.column) for e in plan.errors] == [
        ("departments.csv", 2, "head_employee_id"),
        ("departments.csv", 7, "parent_code"),
        ("employees.csv", 8, "email"),
        ("relations.csv", 2, "type"),
    ]


@pytest.mark.django_db
def test_command_says_error_in_the_singular_for_one_error(tmp_path):
    (tmp_path / "departments.csv").write_bytes(sources()["departments"].data)
    (tmp_path / "employees.csv").write_bytes(b"")

    with pytest.raises(CommandError) as raised:
        call_command(
            "import_org",
            departments=tmp_path / "departments.csv",
            employees=tmp_path / "employees.csv",
            language="en",
            stderr=StringIO(),
        )

    assert str(raised.value) == "1 error in the files; nothing was imported."


@pytest.mark.django_db
def test_admin_lists_an_empty_upload_with_the_other_files_errors(
    client, hr_user, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    client.force_login(hr_user)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"

    response = client.post(
        reverse("admin:import_org"),
        {
            "departments": SimpleUploadedFile("departments.csv", sources()["departments"].data),
            "employees": SimpleUploadedFile("employees.csv", b""),
            "relations": SimpleUploadedFile("relations.csv", png),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    issues = [(e.file, e.line) for e in response.context["errors"]]
    assert issues == [("employees.csv", 1), ("relations.csv", 1)]
    page = response.content.decode()
    assert "The file is empty." in page
    assert "This is not a text file" in page
    assert Employee.objects.count() == 0


def test_a_header_only_employees_file_is_refused_and_deactivates_nobody(db, tmp_path):
    from relations import importing
    from relations.importing import ImportSource
    from relations.models import Employee

    departments = "code,name,parent_code,head_employee_id\nHQ,总部,,\n".encode()
    employees = "employee_id,name,email,department_code,manager_employee_id,title\n"
    first = importing.plan_import(
        departments=ImportSource("departments.csv", departments),
        employees=ImportSource(
            "employees.csv", (employees + "E1,张三,z@example.com,HQ,,\n").encode()
        ),
    )
    importing.apply_import(first)
    plan = importing.plan_import(
        departments=ImportSource("departments.csv", departments),
        employees=ImportSource("employees.csv", employees.encode()),
    )
    assert [(e.file, e.line) for e in plan.errors] == [("employees.csv", 2)]
    assert Employee.objects.active().count() == 1
