"""Importing HR's files in the admin: upload, preview, confirm, summary."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from relations.models import Department, Edge, EdgeType, Employee
from tests.conftest import PASSWORD

DEPARTMENTS = """code,name,parent_code,head_employee_id
HQ,总部,,E001
SALES,销售部,HQ,E002
COM,商务部,HQ,E004
"""
EMPLOYEES = """employee_id,name,email,department_code,manager_employee_id,title
E001,王总,wang@example.com,HQ,,总经理
E002,李销售,li@example.com,SALES,E001,销售总监
E003,张三,zhang@example.com,SALES,E002,销售代表
E004,赵商务,zhao@example.com,COM,E001,商务经理
"""
RELATIONS = (
    "type,provider_department,provider_employee,customer_department,customer_employee,service\n"
    "职能,COM,,SALES,,合同审核\n"
)

UPLOAD = reverse("admin:import_org")
CONFIRM = reverse("admin:import_org_confirm")
DONE = reverse("admin:import_org_done")


@pytest.fixture(autouse=True)
def imports_under_tmp(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path / "imports"


@pytest.fixture
def hr(client, hr_user):
    client.force_login(hr_user)
    return client


def files(departments=DEPARTMENTS, employees=EMPLOYEES, relations=RELATIONS) -> dict:
    data = {
        "departments": SimpleUploadedFile("departments.csv", departments.encode()),
        "employees": SimpleUploadedFile("employees.csv", employees.encode()),
    }
    if relations is not None:
        data["relations"] = SimpleUploadedFile("relations.csv", relations.encode())
    return data


def stored_uploads(folder) -> list:
    return list(folder.iterdir()) if folder.exists() else []


def test_preview_lists_what_will_change_and_writes_nothing(hr, imports_under_tmp):
    response = hr.post(UPLOAD, files())
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="confirm-form"' in html
    rows = {row["key"]: row for row in response.context["change_rows"]}
    assert rows["employees_created"]["count"] == 4
    assert "张三 (E003)" in rows["employees_created"]["names"]
    assert rows["departments_created"]["count"] == 3
    assert {row["type"]: row["created"] for row in response.context["pair_rows"]} == {
        "Rank": 3,
        "Function": 1,
    }
    assert "张三" in html
    assert not Employee.objects.exists() and not Department.objects.exists()
    assert len(stored_uploads(imports_under_tmp)) == 1


def test_confirm_applies_the_import_and_shows_the_summary(hr, imports_under_tmp):
    preview = hr.post(UPLOAD, files())
    response = hr.post(CONFIRM, {"token": preview.context["token"]})
    assert response.status_code == 302 and response["Location"] == DONE
    assert stored_uploads(imports_under_tmp) == []

    done = hr.get(DONE)
    summary = done.context["summary"]
    assert summary["departments"] == 3 and summary["employees"] == 4
    assert summary["edges"]["rank"] == 6 and summary["edges"]["function"] == 2
    assert summary["pairs"] == 4
    assert reverse("admin:relations_edge_changelist") + "?active=yes" in done.content.decode()

    assert Employee.objects.get(employee_id="E003").manager.employee_id == "E002"
    function_edge = Edge.objects.active().get(
        type=EdgeType.FUNCTION, provider_department__code="COM"
    )
    assert function_edge.service == "合同审核"
    assert function_edge.reverse.customer_department.code == "COM"


def test_confirming_twice_does_not_import_twice(hr):
    preview = hr.post(UPLOAD, files())
    token = preview.context["token"]
    hr.post(CONFIRM, {"token": token})
    response = hr.post(CONFIRM, {"token": token}, follow=True)
    assert response.redirect_chain[-1][0] == UPLOAD
    assert "no longer valid" in response.content.decode()
    assert Edge.objects.active().filter(type=EdgeType.FUNCTION).count() == 2


def test_same_files_again_say_nothing_will_change(hr, imports_under_tmp):
    preview = hr.post(UPLOAD, files())
    hr.post(CONFIRM, {"token": preview.context["token"]})
    again = hr.post(UPLOAD, files())
    html = again.content.decode()
    assert 'id="import-noop"' in html
    assert 'id="confirm-form"' not in html
    assert stored_uploads(imports_under_tmp) == []


def test_changed_files_preview_the_move_and_the_departure(hr):
    preview = hr.post(UPLOAD, files())
    hr.post(CONFIRM, {"token": preview.context["token"]})
    employees = EMPLOYEES.replace(
        "E003,张三,zhang@example.com,SALES,E002", "E003,张三,zhang@example.com,COM,E004"
    )
    employees = employees.replace("E002,李销售,li@example.com,SALES,E001,销售总监\n", "")
    departments = DEPARTMENTS.replace("SALES,销售部,HQ,E002", "SALES,销售部,HQ,")
    response = hr.post(UPLOAD, files(departments=departments, employees=employees))
    rows = {row["key"]: row for row in response.context["change_rows"]}
    assert rows["employees_deactivated"]["names"] == ["李销售 (E002)"]
    assert "张三 (E003)" in rows["employees_moved"]["names"]
    hr.post(CONFIRM, {"token": response.context["token"]})
    assert not Employee.objects.get(employee_id="E002").active
    assert (
        Edge.objects.active()
        .filter(
            type=EdgeType.RANK,
            provider_employee__employee_id="E003",
            customer_employee__employee_id="E004",
        )
        .exists()
    )


def test_bad_files_list_every_error_and_offer_no_confirm(hr, imports_under_tmp):
    employees = EMPLOYEES.replace("zhang@example.com", "not-an-email").replace(
        "E004,赵商务,zhao@example.com,COM", "E004,赵商务,zhao@example.com,NOPE"
    )
    response = hr.post(UPLOAD, files(employees=employees))
    html = response.content.decode()
    errors = response.context["errors"]
    assert len(errors) >= 2
    assert {(e.file, e.line, e.column) for e in errors} >= {
        ("employees.csv", 4, "email"),
        ("employees.csv", 5, "department_code"),
    }
    assert 'id="import-errors"' in html and 'id="confirm-form"' not in html
    assert "“not-an-email” is not a valid e-mail address." in html
    assert stored_uploads(imports_under_tmp) == []
    assert not Employee.objects.exists()


def test_only_csv_and_xlsx_files_are_taken(hr):
    data = files()
    data["employees"] = SimpleUploadedFile("employees.txt", EMPLOYEES.encode())
    response = hr.post(UPLOAD, data)
    assert response.status_code == 200
    assert "only .csv and .xlsx" in response.content.decode()
    assert "token" not in response.context


def test_a_confirm_without_this_sessions_preview_is_refused(hr, client, hr_user, django_user_model):
    preview = hr.post(UPLOAD, files())
    token = preview.context["token"]
    other_hr = django_user_model.objects.create_user(
        username="hr2", password=PASSWORD, is_staff=True
    )
    other_hr.groups.set(hr_user.groups.all())
    from django.test import Client

    other = Client()
    other.force_login(other_hr)
    response = other.post(CONFIRM, {"token": token})
    assert response.status_code == 302 and response["Location"] == UPLOAD
    assert not Employee.objects.exists()


def test_import_pages_are_for_hr_only(client, company):
    client.force_login(company["seller"].user)
    assert client.get(UPLOAD).status_code == 302
    assert client.post(UPLOAD, files()).status_code == 302
    assert client.post(CONFIRM, {"token": "x" * 32}).status_code == 302
    assert client.get(DONE).status_code == 302


def test_an_oversized_file_is_refused_with_the_limit(hr, settings):
    settings.ICR_IMPORT_MAX_BYTES = 1024 * 1024
    big = EMPLOYEES + "E999,某人,x@example.com,HQ,,\n" * 40_000
    response = hr.post(UPLOAD, files(employees=big))
    assert response.status_code == 200
    assert "employees.csv is larger than the limit of 1 MB." in response.content.decode()
    assert not Employee.objects.exists()


KINDS = ("departments", "employees", "relations")


def _download(hr, url_name: str, *args) -> bytes:
    response = hr.get(reverse(url_name, args=args))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    return response.content


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_blank_templates_import_as_they_are(hr, fmt):
    # Headers and an example row each: imported untouched, they make the example company.
    uploads = {
        kind: SimpleUploadedFile(
            f"{kind}.{fmt}", _download(hr, "admin:import_org_template", kind, fmt)
        )
        for kind in KINDS
    }
    preview = hr.post(UPLOAD, uploads)
    html = preview.content.decode()
    assert 'id="confirm-form"' in html, html
    hr.post(CONFIRM, {"token": preview.context["token"]})
    assert set(Department.objects.values_list("code", flat=True)) == {"HQ", "FIN"}
    assert Employee.objects.get(employee_id="E001").department.code == "HQ"
    assert Edge.objects.active().filter(type=EdgeType.FUNCTION).count() == 2


def test_the_current_org_downloads_and_imports_back_as_no_change(hr, imports_under_tmp):
    preview = hr.post(UPLOAD, files())
    hr.post(CONFIRM, {"token": preview.context["token"]})
    page = hr.get(UPLOAD).content.decode()
    for kind in KINDS:
        assert reverse("admin:import_org_current", args=[kind]) in page
        assert reverse("admin:import_org_template", args=[kind, "xlsx"]) in page
    uploads = {
        kind: SimpleUploadedFile(f"{kind}.csv", _download(hr, "admin:import_org_current", kind))
        for kind in KINDS
    }
    again = hr.post(UPLOAD, uploads).content.decode()
    assert 'id="import-noop"' in again
