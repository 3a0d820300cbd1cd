"""A bad file set is rejected whole, with every error located by file, line and column."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import translation

from relations.importing import (
    EMPLOYEE_COLUMNS,
    ImportRejected,
    ImportSource,
    apply_import,
    plan_import,
)
from relations.models import Department, Edge, Employee
from tests.relations.import_helpers import csv_bytes, import_ok, rows_of, sources


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def errors_of(**kwargs) -> list[tuple[str, int, str]]:
    plan = plan_import(**sources(**kwargs))
    return [(e.file, e.line, e.column) for e in plan.errors]


def messages_of(**kwargs) -> list[str]:
    return [str(e) for e in plan_import(**sources(**kwargs)).errors]


def employees_with(*rows):
    return [*rows_of("employees.csv"), *rows]


@pytest.mark.django_db
class TestEmployeesFile:
    def test_unknown_department(self):
        rows = employees_with(["E007", "周七", "", "NOPE", "E001", ""])
        assert errors_of(employees=rows) == [("employees.csv", 8, "department_code")]
        assert "Unknown department “NOPE”." in messages_of(employees=rows)[0]

    def test_unknown_manager(self):
        rows = employees_with(["E007", "周七", "", "HQ", "E999", ""])
        assert errors_of(employees=rows) == [("employees.csv", 8, "manager_employee_id")]
        assert "Unknown manager “E999”." in messages_of(employees=rows)[0]

    def test_reporting_line_cycle(self):
        rows = rows_of("employees.csv")
        rows[0][4] = "E006"  # E001 → E006 → E003 → E002 → E001
        assert errors_of(employees=rows) == [("employees.csv", 2, "manager_employee_id")]
        assert "E001 → E006 → E003 → E002 → E001" in messages_of(employees=rows)[0]

    def test_own_manager(self):
        rows = rows_of("employees.csv")
        rows[0][4] = "E001"
        assert errors_of(employees=rows) == [("employees.csv", 2, "manager_employee_id")]
        assert "cannot be their own manager" in messages_of(employees=rows)[0]

    def test_duplicate_employee_id(self):
        rows = employees_with(["E003", "张三二", "", "HQ", "", ""])
        assert errors_of(employees=rows) == [("employees.csv", 8, "employee_id")]
        assert "already appears on line 4" in messages_of(employees=rows)[0]

    def test_malformed_email(self):
        rows = employees_with(["E007", "周七", "zhou@", "HQ", "", ""])
        assert errors_of(employees=rows) == [("employees.csv", 8, "email")]

    def test_required_value_missing(self):
        rows = employees_with(["E007", "", "", "HQ", "", ""])
        assert errors_of(employees=rows) == [("employees.csv", 8, "name")]

    def test_employee_id_not_usable_as_login(self):
        rows = employees_with(["E 007", "周七", "", "HQ", "", ""])
        assert errors_of(employees=rows) == [("employees.csv", 8, "employee_id")]


@pytest.mark.django_db
class TestDepartmentsFile:
    def test_department_tree_cycle(self):
        rows = rows_of("departments.csv")
        rows[0][2] = "SALES-N"  # HQ → SALES-N → SALES → HQ
        assert errors_of(departments=rows) == [("departments.csv", 2, "parent_code")]
        assert "HQ → SALES-N → SALES → HQ" in messages_of(departments=rows)[0]

    def test_unknown_parent(self):
        rows = [*rows_of("departments.csv"), ["RND", "研发部", "LAB", ""]]
        assert errors_of(departments=rows) == [("departments.csv", 7, "parent_code")]

    def test_duplicate_code(self):
        rows = [*rows_of("departments.csv"), ["FIN", "财务二部", "HQ", ""]]
        assert errors_of(departments=rows) == [("departments.csv", 7, "code")]

    def test_head_not_an_employee(self):
        rows = [*rows_of("departments.csv"), ["RND", "研发部", "HQ", "E404"]]
        assert errors_of(departments=rows) == [("departments.csv", 7, "head_employee_id")]
        assert "“E404” is not an employee in employees.csv" in messages_of(departments=rows)[0]


@pytest.mark.django_db
class TestRelationsFile:
    def rel(self, *row):
        return [*rows_of("relations.csv"), list(row)]

    def test_self_relation(self):
        rows = self.rel("function", "SALES", "", "SALES", "", "")
        assert errors_of(relations=rows) == [("relations.csv", 7, "customer_department")]

    def test_unknown_type(self):
        rows = self.rel("friendship", "SALES", "", "FIN", "", "")
        assert errors_of(relations=rows) == [("relations.csv", 7, "type")]

    def test_both_ends_given(self):
        rows = self.rel("function", "SALES", "E003", "FIN", "", "")
        assert errors_of(relations=rows) == [("relations.csv", 7, "provider_department")]

    def test_neither_end_given(self):
        rows = self.rel("function", "SALES", "", "", "", "")
        assert errors_of(relations=rows) == [("relations.csv", 7, "customer_department")]

    def test_unknown_ends(self):
        rows = self.rel("process", "", "E404", "LAB", "", "")
        assert errors_of(relations=rows) == [
            ("relations.csv", 7, "provider_employee"),
            ("relations.csv", 7, "customer_department"),
        ]

    def test_same_relation_twice(self):
        rows = self.rel("职能", "COM", "", "SALES", "", "又一次")
        assert errors_of(relations=rows) == [("relations.csv", 7, "type")]


@pytest.mark.django_db
class TestFileShape:
    def test_missing_column(self):
        plan = plan_import(
            departments=sources()["departments"],
            employees=ImportSource(
                "employees.csv",
                csv_bytes(EMPLOYEE_COLUMNS[:-1], [row[:-1] for row in rows_of("employees.csv")]),
            ),
        )
        assert [(e.file, e.line, e.column) for e in plan.errors] == [("employees.csv", 1, "title")]

    def test_unknown_column(self):
        plan = plan_import(
            departments=sources()["departments"],
            employees=ImportSource(
                "employees.csv",
                csv_bytes(
                    [*EMPLOYEE_COLUMNS, "phone"],
                    [[*row, "123"] for row in rows_of("employees.csv")],
                ),
            ),
        )
        assert [(e.file, e.line, e.column) for e in plan.errors] == [("employees.csv", 1, "phone")]

    def test_empty_file(self):
        plan = plan_import(
            departments=ImportSource("departments.csv", b""),
            employees=sources()["employees"],
        )
        assert [(e.file, e.line, e.column) for e in plan.errors] == [("departments.csv", 1, "")]
        assert plan.errors[0].message == "The file is empty."

    def test_binary_file(self):
        plan = plan_import(
            departments=sources()["departments"],
            employees=ImportSource("employees.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        )
        assert [(e.file, e.line, e.column) for e in plan.errors] == [("employees.csv", 1, "")]
        assert "not a text file" in plan.errors[0].message

    def test_row_with_more_values_than_the_header(self):
        rows = employees_with(["E007", "周七", "", "HQ", "", "", "extra"])
        assert errors_of(employees=rows) == [("employees.csv", 8, "")]


@pytest.mark.django_db
def test_every_error_of_every_file_is_listed_and_nothing_is_written():
    departments = [*rows_of("departments.csv"), ["FIN", "重复", "HQ", ""]]
    employees = employees_with(
        ["E007", "周七", "bad-mail", "NOPE", "E999", ""],
        ["E008", "吴八", "", "HQ", "E008", ""],
    )
    relations = [
        *rows_of("relations.csv"),
        ["friendship", "SALES", "", "FIN", "", ""],
        ["function", "SALES", "", "SALES", "", ""],
    ]

    plan = plan_import(**sources(departments=departments, employees=employees, relations=relations))

    assert [(e.file, e.line, e.column) for e in plan.errors] == [
        ("departments.csv", 7, "code"),
        ("employees.csv", 8, "email"),
        ("employees.csv", 8, "department_code"),
        ("employees.csv", 8, "manager_employee_id"),
        ("employees.csv", 9, "manager_employee_id"),
        ("relations.csv", 7, "type"),
        ("relations.csv", 8, "customer_department"),
    ]
    with pytest.raises(ImportRejected):
        apply_import(plan)
    assert Department.objects.count() == 0
    assert Employee.objects.count() == 0
    assert get_user_model().objects.count() == 0
    assert Edge.objects.count() == 0


@pytest.mark.django_db
def test_errors_leave_an_existing_company_as_it_was():
    import_ok()
    employees = employees_with(["E007", "周七", "", "NOPE", "", ""])
    employees = [row for row in employees if row[0] != "E006"]

    plan = plan_import(**sources(employees=employees))

    assert plan.errors
    assert Employee.objects.active().count() == 6


@pytest.mark.django_db
def test_command_prints_each_error_as_file_line_column_and_fails(tmp_path):
    (tmp_path / "departments.csv").write_bytes(sources()["departments"].data)
    (tmp_path / "employees.csv").write_bytes(
        sources(employees=employees_with(["E007", "周七", "x@", "NOPE", "", ""]))["employees"].data
    )
    err = StringIO()

    with pytest.raises(CommandError, match="2 errors"):
        call_command(
            "import_org",
            departments=tmp_path / "departments.csv",
            employees=tmp_path / "employees.csv",
            language="en",
            stderr=err,
        )

    lines = err.getvalue().splitlines()
    assert lines == [
        "employees.csv:8:email: “x@” is not a valid e-mail address.",
        "employees.csv:8:department_code: Unknown department “NOPE”.",
    ]
    assert Employee.objects.count() == 0
