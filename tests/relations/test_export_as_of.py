"""The org chart and the relationship graph as of a date: what export_org would have written then.

The files come from the audit trail; for a moment after the last change they are exactly the
files export_org writes from the tables.
"""

import datetime as dt
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from relations import services
from relations.exporting import parse_as_of
from relations.models import Edge, EdgeType, Employee, Workflow
from tests.relations.import_helpers import import_ok, rows_of
from tests.relations.test_admin import change_url, employee_form

SHANGHAI = ZoneInfo("Asia/Shanghai")
IMPORTED = dt.datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
CHANGED = dt.datetime(2026, 3, 5, 15, 30, tzinfo=SHANGHAI)
FILES = ("departments.csv", "employees.csv", "relations.csv")


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def hr(client, hr_user):
    client.force_login(hr_user)
    return client


def export(directory, *args) -> dict[str, bytes]:
    call_command("export_org", str(directory), *args, stdout=StringIO())
    return {name: (directory / name).read_bytes() for name in FILES}


def change_in_the_admin(hr) -> None:
    """A new manager, a new title, a departure, a renamed department and a new service text."""
    e006 = Employee.objects.get(employee_id="E006")
    e002 = Employee.objects.get(employee_id="E002")
    e005 = Employee.objects.get(employee_id="E005")
    assert (
        hr.post(
            change_url("employee", e006.pk), employee_form(e006, manager=e002.pk, title="销售代表")
        ).status_code
        == 302
    )
    response = hr.post(change_url("employee", e005.pk), employee_form(e005, active=""))
    assert response.status_code == 302
    sales_n = e006.department
    response = hr.post(
        change_url("department", sales_n.pk),
        {
            "code": sales_n.code,
            "name": "华北销售",
            "parent": sales_n.parent_id,
            "head": "",
            "active": "on",
        },
    )
    assert response.status_code == 302
    edge = Edge.objects.active().filter(type=EdgeType.FUNCTION).order_by("id").first()
    services.change_edge(edge, service="合同与价格审核")


@pytest.fixture
def org(tmp_path, hr):
    """The sample files imported on 2 March, changed in the admin on 5 March; the exports
    written right after each, from the tables."""
    with time_machine.travel(IMPORTED, tick=False):
        import_ok()
        workflow = Workflow.objects.create(code="W1", name="订单")
        services.set_workflow_steps(
            workflow,
            [
                ("接单", Employee.objects.get(employee_id="E003")),
                ("审核", Employee.objects.get(employee_id="E005")),
            ],
        )
        before = export(tmp_path / "before")
    with time_machine.travel(CHANGED, tick=False):
        change_in_the_admin(hr)
        after = export(tmp_path / "after")
    assert before != after
    return {"before": before, "after": after}


def test_as_of_a_date_between_gives_the_export_of_before_the_change(org, tmp_path):
    assert export(tmp_path / "x", "--as-of", "2026-03-04") == org["before"]
    assert export(tmp_path / "y", "--as-of", "2026-03-05 15:29") == org["before"]


def test_as_of_a_date_after_the_last_change_gives_todays_export(org, tmp_path):
    assert export(tmp_path / "x", "--as-of", "2026-03-05") == org["after"]
    assert export(tmp_path / "y", "--as-of", "2030-01-01T00:00:00+00:00") == org["after"]
    assert export(tmp_path / "now") == org["after"]


def test_as_of_a_date_before_anything_was_recorded_gives_the_headers_only(org, tmp_path):
    files = export(tmp_path / "x", "--as-of", "2026-03-01")

    assert all(content.count(b"\n") == 1 for content in files.values())


def test_the_excel_flag_works_as_of_a_date_too(org, tmp_path):
    files = export(tmp_path / "x", "--as-of", "2026-03-04", "--excel")

    assert files == {name: "\ufeff".encode() + body for name, body in org["before"].items()}


def test_a_bad_date_is_refused():
    with pytest.raises(CommandError, match="not a date"):
        call_command("export_org", "/nonexistent", "--as-of", "March", stdout=StringIO())


def test_a_date_alone_means_the_end_of_that_day_in_the_site_time_zone(settings):
    assert parse_as_of("2026-03-05") == dt.datetime(2026, 3, 5, 23, 59, 59, 999999, tzinfo=SHANGHAI)
    assert parse_as_of("2026-03-05 08:00") == dt.datetime(2026, 3, 5, 8, 0, tzinfo=SHANGHAI)
    assert parse_as_of("2026-03-05T08:00+00:00") == dt.datetime(2026, 3, 5, 8, tzinfo=dt.UTC)
    for bad in ("", "yesterday", "2026-02-30"):
        with pytest.raises(ValueError):
            parse_as_of(bad)


# --- The page for HR ----------------------------------------------------------------------------


def test_the_hr_page_shows_the_org_chart_and_counts_of_that_moment(org, hr):
    response = hr.get(reverse("admin:org_as_of"), {"at": "2026-03-04"})

    assert response.status_code == 200
    assert response.context["departments"] == 5
    assert response.context["employees"] == 6
    chart = {row["code"]: row for row in response.context["chart"]}
    assert chart["SALES-N"]["name"] == "北区销售" and chart["SALES-N"]["depth"] == 2
    assert chart["SALES-N"]["employees"] == 2
    assert chart["HQ"]["head"] == "王总 (E001)"
    later = hr.get(reverse("admin:org_as_of"), {"at": "2026-03-06"})
    assert later.context["employees"] == 5
    assert {row["code"]: row["name"] for row in later.context["chart"]}["SALES-N"] == "华北销售"


@pytest.mark.parametrize("kind", ["departments", "employees", "relations"])
def test_the_hr_page_downloads_the_export_files_of_that_moment(org, hr, kind):
    response = hr.get(reverse("admin:org_as_of_file", args=[kind]), {"at": "2026-03-04"})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith(f'attachment; filename="{kind}-20260304')
    assert response.content == org["before"][f"{kind}.csv"]


def test_the_hr_page_explains_a_bad_date(hr):
    response = hr.get(reverse("admin:org_as_of"), {"at": "soon"})

    assert response.status_code == 200
    assert "Enter a date" in response.content.decode()
    download = hr.get(reverse("admin:org_as_of_file", args=["employees"]), {"at": "soon"})
    assert download.status_code == 404


def test_only_hr_sees_the_page(client, company):
    client.force_login(company["seller"].user)

    response = client.get(reverse("admin:org_as_of"), {"at": "2026-03-04"})

    assert response.status_code == 302


def test_as_of_between_two_imports_gives_the_export_after_the_first(db, tmp_path):
    """An import writes its rows' versions set-based; they give the same files as the tables."""
    employees = rows_of("employees.csv")
    relations = rows_of("relations.csv")
    with time_machine.travel(IMPORTED, tick=False):
        import_ok()
        first = export(tmp_path / "first")
    employees = [row for row in employees if row[0] != "E005"]  # 钱财务 left
    employees[-1][4] = "E002"  # 孙小二 now reports to 李销售
    relations = [row for row in relations if row[0] != "workflow"] + [
        ["function", "COM", "", "FIN", "", "付款申请"]
    ]
    with time_machine.travel(CHANGED, tick=False):
        import_ok(employees=employees, relations=relations)
        second = export(tmp_path / "second")

    assert first != second
    assert export(tmp_path / "x", "--as-of", "2026-03-04") == first
    assert export(tmp_path / "y", "--as-of", "2026-03-06") == second
