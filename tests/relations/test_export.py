"""export_org writes what import_org reads: importing an export changes nothing."""

import csv
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from relations import services
from relations.importing import (
    DEPARTMENT_COLUMNS,
    EMPLOYEE_IM_COLUMNS,
    EXPORT_RELATION_COLUMNS,
    ImportSource,
    plan_import,
)
from relations.models import Department, Edge, Employee, Workflow
from tests.relations.import_helpers import formula_like_org, import_ok, rows_of


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def exported_sources(directory):
    return {
        name: ImportSource(f"{name}.csv", (directory / f"{name}.csv").read_bytes())
        for name in ("departments", "employees", "relations")
    }


@pytest.mark.django_db
def test_export_writes_the_three_files_with_their_headers(tmp_path):
    import_ok()

    call_command("export_org", str(tmp_path), stdout=StringIO())

    departments = read(tmp_path / "departments.csv")
    employees = read(tmp_path / "employees.csv")
    relations = read(tmp_path / "relations.csv")
    # The optional line column (front line or functional) comes last, empty when unset.
    assert departments[0] == [*DEPARTMENT_COLUMNS, "line"]
    assert sorted(departments[1:]) == sorted([*row, ""] for row in rows_of("departments.csv"))
    # The export writes the optional messaging ID column too (empty: nobody has one here).
    assert employees[0] == list(EMPLOYEE_IM_COLUMNS)
    assert sorted(row[:-1] for row in employees[1:]) == sorted(rows_of("employees.csv"))
    assert {row[-1] for row in employees[1:]} == {""}
    assert relations[0] == list(EXPORT_RELATION_COLUMNS)
    assert len(relations) - 1 == Edge.objects.active().count()


@pytest.mark.django_db
def test_every_active_edge_is_one_row_pointing_at_its_reverse(tmp_path):
    import_ok()

    call_command("export_org", str(tmp_path), stdout=StringIO())

    rows = {int(row[0]): row for row in read(tmp_path / "relations.csv")[1:]}
    assert set(rows) == set(Edge.objects.active().values_list("id", flat=True))
    for edge_id, row in rows.items():
        edge = Edge.objects.get(pk=edge_id)
        assert int(row[1]) == edge.reverse.pk
        assert rows[int(row[1])][1] == str(edge_id)
        assert row[2] == edge.rank_kind
        assert row[3] == edge.type
    task = next(row for row in rows.values() if row[2] == "task" and row[5] == "E003")
    assert task[3:8] == ["rank", "", "E003", "", "E002"]


@pytest.mark.django_db
def test_importing_an_export_changes_nothing(tmp_path):
    import_ok()
    workflow = Workflow.objects.create(code="W1", name="订单")
    services.set_workflow_steps(
        workflow,
        [
            ("接单", Department.objects.get(code="SALES")),
            ("开票", Department.objects.get(code="FIN")),
        ],
    )
    before = list(Edge.objects.order_by("id").values_list("id", "valid_to", "service"))
    call_command("export_org", str(tmp_path), stdout=StringIO())

    plan = plan_import(**exported_sources(tmp_path))

    assert plan.errors == []
    assert plan.is_noop
    out = StringIO()
    call_command(
        "import_org",
        departments=tmp_path / "departments.csv",
        employees=tmp_path / "employees.csv",
        relations=tmp_path / "relations.csv",
        language="en",
        stdout=out,
    )
    assert "Nothing changed." in out.getvalue()
    assert list(Edge.objects.order_by("id").values_list("id", "valid_to", "service")) == before


@pytest.mark.django_db
def test_export_leaves_out_who_has_left(tmp_path):
    import_ok()
    import_ok(employees=[row for row in rows_of("employees.csv") if row[0] != "E006"])

    call_command("export_org", str(tmp_path), stdout=StringIO())

    assert "E006" not in (tmp_path / "employees.csv").read_text(encoding="utf-8")
    assert "E006" not in (tmp_path / "relations.csv").read_text(encoding="utf-8")
    assert plan_import(**exported_sources(tmp_path)).is_noop


@pytest.mark.django_db
def test_formula_like_text_is_neutralised_and_imports_back_unchanged(tmp_path):
    formula_like_org()
    before = sorted(Employee.objects.values_list("employee_id", "name", "title"))

    call_command("export_org", str(tmp_path), stdout=StringIO())

    assert ["FIN", "'=SUM(A1)", "HQ", "", ""] in read(tmp_path / "departments.csv")
    employees = {row[0]: row for row in read(tmp_path / "employees.csv")[1:]}
    assert employees["E003"][1] == "'-张三"
    assert employees["E005"][1] == "'@x"
    assert employees["'+E006"][1] == "'+1"
    assert employees["'+E006"][4] == "E003"
    assert employees["E004"][5] == "''=1"  # one apostrophe more, so that import takes one off
    assert employees["E001"][5] == "'总经理"  # not formula-like: left as it is
    services = [row[8] for row in read(tmp_path / "relations.csv")[1:]]
    assert "'+合同审核" in services
    plan = plan_import(**exported_sources(tmp_path))
    assert plan.errors == []
    assert plan.is_noop, plan.changes.lines()
    assert sorted(Employee.objects.values_list("employee_id", "name", "title")) == before
