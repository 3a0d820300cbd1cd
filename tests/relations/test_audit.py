"""The audit trail: every change to the org and the graph is kept with who made it and when;
every import is one record with its files' SHA-256, who ran it and what it changed."""

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from icr import history
from relations import services
from relations.importing import apply_import, plan_import
from relations.models import (
    Department,
    Edge,
    EdgeType,
    Employee,
    ImportVia,
    OrgImport,
    RelationPair,
    Workflow,
    WorkflowStep,
)
from reviews.models import Criterion
from tests.relations.import_helpers import DATA, company, import_ok, sources
from tests.relations.test_admin import change_url, employee_form


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def hr(client, hr_user):
    client.force_login(hr_user)
    return client


def versions(obj):
    return list(obj.history.order_by("history_date", "history_id"))


# --- HR's changes in the admin ----------------------------------------------------------------


def test_an_admin_change_records_the_new_version_and_the_acting_user(hr, hr_user, company):
    seller = company["seller"]

    response = hr.post(
        change_url("employee", seller.pk), employee_form(seller, title="高级销售代表")
    )

    assert response.status_code == 302
    last = versions(seller)[-1]
    assert (last.title, last.history_type) == ("高级销售代表", "~")
    assert last.history_user_id == hr_user.pk


def test_a_new_manager_in_the_admin_records_the_retired_and_the_new_rank_pair(hr, hr_user, company):
    seller, new = company["seller"], company["commerce_head"]
    old_pair = Edge.objects.active().get(type=EdgeType.RANK, provider_employee=seller).pair

    hr.post(change_url("employee", seller.pk), employee_form(seller, manager=new.pk))

    assert versions(seller)[-1].manager_id == new.pk
    retired = versions(old_pair)[-1]
    assert retired.valid_to is not None and retired.history_user_id == hr_user.pk
    new_pair = Edge.objects.active().get(type=EdgeType.RANK, provider_employee=seller).pair
    (created,) = versions(new_pair)
    assert (created.history_type, created.history_user_id) == ("+", hr_user.pk)
    for edge in new_pair.edges.all():
        assert [(v.history_type, v.history_user_id) for v in versions(edge)] == [("+", hr_user.pk)]
    for edge in old_pair.edges.all():
        assert versions(edge)[-1].valid_to == retired.valid_to


def test_retiring_a_relationship_in_the_admin_records_both_edges(hr, hr_user, company):
    forward = services.create_pair(EdgeType.FUNCTION, company["commerce"], company["sales"])

    hr.post(reverse("admin:relations_edge_delete", args=[forward.pk]), {"post": "yes"})

    for edge in Edge.objects.filter(pair_id=forward.pair_id):
        first, last = versions(edge)
        assert first.valid_to is None and first.history_user_id is None  # not in a request
        assert last.valid_to is not None and last.history_user_id == hr_user.pk


def test_a_changed_service_text_records_both_edges_of_the_pair(company):
    forward = services.create_pair(EdgeType.FUNCTION, company["commerce"], company["sales"])

    services.change_edge(forward, service="合同审核", reverse_service="需求")

    assert versions(forward)[-1].service == "合同审核"
    assert versions(forward.reverse)[-1].service == "需求"


def test_department_parent_and_workflow_steps_are_recorded(company):
    services.set_department_parent(company["commerce"], company["sales"])
    workflow = Workflow.objects.create(code="W1", name="订单")
    steps = [("接单", company["sales"]), ("审核", company["commerce"])]
    services.set_workflow_steps(workflow, steps)
    services.set_workflow_steps(workflow, [("接单", company["sales"])])

    assert versions(company["commerce"])[-1].parent_id == company["sales"].pk
    step_history = WorkflowStep.history.model.objects.filter(workflow_id=workflow.pk)
    assert sorted(step_history.values_list("history_type", flat=True)) == ["+", "+", "+", "-", "-"]
    assert versions(workflow)[0].history_type == "+"


def test_criteria_and_cycles_changed_in_the_admin_are_recorded(hr, hr_user, db):
    criterion = Criterion.objects.create(code="speed", name_zh="速度", name_en="Speed")

    response = hr.post(
        reverse("admin:reviews_criterion_change", args=[criterion.pk]),
        {
            "code": "speed",
            "name_zh": "响应速度",
            "name_en": "Speed",
            "description_zh": "",
            "description_en": "",
            "active": "on",
            "order": "3",
        },
    )

    assert response.status_code == 302
    last = versions(criterion)[-1]
    assert (last.name_zh, last.history_user_id) == ("响应速度", hr_user.pk)


def test_the_history_page_shows_each_version_and_who_made_it(hr, company):
    seller = company["seller"]
    hr.post(change_url("employee", seller.pk), employee_form(seller, title="组长"))

    response = hr.get(reverse("admin:relations_employee_history", args=[seller.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "hr" in page and "组长" in page


def test_an_old_version_is_shown_but_never_restored(hr, company):
    seller = company["seller"]
    hr.post(change_url("employee", seller.pk), employee_form(seller, title="组长"))
    first = versions(seller)[0]
    url = reverse("admin:relations_employee_simple_history", args=[seller.pk, first.history_id])

    assert hr.get(url).status_code == 200
    response = hr.post(url, employee_form(seller, title=first.title))

    assert response.status_code == 403
    seller.refresh_from_db()
    assert seller.title == "组长"


# --- Imports ----------------------------------------------------------------------------------


def test_an_import_is_one_record_with_the_files_hashes_the_user_and_the_summary(hr_user, db):
    files = sources()
    plan = plan_import(**files)

    summary = apply_import(plan, user=hr_user, via=ImportVia.ADMIN)

    (record,) = OrgImport.objects.all()
    assert summary.import_id == record.pk
    assert (record.user, record.via) == (hr_user, ImportVia.ADMIN)
    assert [(f["kind"], f["name"], f["sha256"], f["bytes"]) for f in record.files] == [
        (kind, source.name, hashlib.sha256(source.data).hexdigest(), len(source.data))
        for kind, source in files.items()
    ]
    assert record.changes["employees_created"] == 6
    assert record.summary == summary.as_dict()


def test_every_row_an_import_wrote_has_a_version_pointing_at_the_import(hr_user, db):
    import_ok()
    record = OrgImport.objects.get()
    Employee.objects.filter(employee_id="E006").update(title="x")  # behind the trail's back

    for model in (Department, Employee, RelationPair, Edge):
        rows = model.history.model.objects.all()
        assert rows.count() == model.objects.count()
        assert set(rows.values_list("history_import", "history_type")) == {(record.pk, "+")}
    assert Employee.history.model.objects.get(employee_id="E006").title == "实习生"

    changed = sources()
    changed["employees"] = changed["employees"].__class__(
        "employees.csv",
        (DATA / "employees.csv").read_bytes().replace(b"E003,\xe5\xae\x9e", b"E001,\xe5\xae\x9e"),
    )
    apply_import(plan_import(**changed), user=hr_user)
    second = OrgImport.objects.latest("id")
    moved = Employee.history.model.objects.filter(history_import=second.pk)
    assert list(moved.values_list("employee_id", "manager_id", "history_user_id")) == [
        ("E006", Employee.objects.get(employee_id="E001").pk, hr_user.pk)
    ]


def test_recording_an_import_costs_the_same_queries_for_any_number_of_rows(db):
    def apply_counting(size: int) -> int:
        plan = plan_import(**sources(**company(size)))
        assert plan.errors == []
        with CaptureQueriesContext(connection) as queries:
            apply_import(plan)
        return len(queries.captured_queries)

    with transaction.atomic():
        small = apply_counting(10)
        transaction.set_rollback(True)
    assert apply_counting(200) == small
    assert Employee.history.model.objects.count() == 200


def test_a_noop_import_is_recorded_too(db):
    import_ok()
    import_ok()

    second = OrgImport.objects.latest("id")
    assert second.changes["employees_created"] == 0
    assert Employee.history.model.objects.filter(history_import=second.pk).count() == 0


def test_the_import_command_records_the_system_account(db, monkeypatch):
    monkeypatch.setenv("LOGNAME", "hr-batch")
    monkeypatch.setenv("USER", "hr-batch")

    call_command(
        "import_org",
        "--departments",
        str(DATA / "departments.csv"),
        "--employees",
        str(DATA / "employees.csv"),
        stdout=StringIO(),
    )

    record = OrgImport.objects.get()
    assert (record.via, record.system_user, record.user) == (ImportVia.COMMAND, "hr-batch", None)
    assert (
        record.files[0]["sha256"]
        == hashlib.sha256((DATA / "departments.csv").read_bytes()).hexdigest()
    )


def test_the_imports_list_shows_who_when_the_hashes_and_the_changes(hr, hr_user, db):
    files = sources()
    apply_import(plan_import(**files), user=hr_user, via=ImportVia.ADMIN)
    record = OrgImport.objects.get()

    listing = hr.get(reverse("admin:relations_orgimport_changelist")).content.decode()
    detail = hr.get(reverse("admin:relations_orgimport_change", args=[record.pk])).content.decode()

    digest = hashlib.sha256(files["employees"].data).hexdigest()
    assert digest in listing and "hr" in listing and "Employees created: 6" in listing
    assert digest in detail and "Departments: 5" in detail
    assert hr.post(reverse("admin:relations_orgimport_delete", args=[record.pk])).status_code == 403


def test_an_import_confirmed_in_the_admin_names_the_hr_user(hr, hr_user, db):
    files = sources()
    upload = {
        key: StringIO(source.data.decode()) for key, source in files.items() if source is not None
    }
    for key, handle in upload.items():
        handle.name = f"{key}.csv"
    preview = hr.post(reverse("admin:import_org"), upload)
    token = preview.context["token"]

    hr.post(reverse("admin:import_org_confirm"), {"token": token})

    record = OrgImport.objects.get()
    assert (record.user, record.via) == (hr_user, ImportVia.ADMIN)
    assert set(Employee.history.model.objects.values_list("history_user_id", flat=True)) == {
        hr_user.pk
    }
    done = hr.get(reverse("admin:import_org_done")).content.decode()
    assert reverse("admin:relations_orgimport_change", args=[record.pk]) in done


# --- The trail cannot be rewritten ------------------------------------------------------------


@pytest.mark.postgresql
@pytest.mark.parametrize("statement", ["UPDATE {} SET name = 'x'", "DELETE FROM {}"])
def test_postgresql_refuses_to_change_or_delete_audit_rows(company, statement):
    table = Employee.history.model._meta.db_table
    with pytest.raises(DatabaseError, match="never changed or deleted"), connection.cursor() as c:
        c.execute(statement.format(table))


def test_record_copies_rows_as_they_are_after_the_write(company):
    Employee.objects.filter(pk=company["seller"].pk).update(title="组长")

    history.record(Employee.objects.filter(pk=company["seller"].pk), user_id=42)

    last = versions(company["seller"])[-1]
    assert (last.title, last.history_type, last.history_user_id) == ("组长", "~", 42)


def test_the_history_page_links_a_version_to_the_import_that_wrote_it(hr, db):
    import_ok()
    record = OrgImport.objects.get()
    employee = Employee.objects.get(employee_id="E003")

    page = hr.get(reverse("admin:relations_employee_history", args=[employee.pk])).content.decode()

    assert reverse("admin:relations_orgimport_change", args=[record.pk]) in page


def test_workflow_pairs_an_import_brings_back_point_at_the_import_too(hr_user, db):
    import_ok()
    workflow = Workflow.objects.create(code="W1", name="订单")
    e005 = Employee.objects.get(employee_id="E005")
    services.set_workflow_steps(
        workflow, [("接单", Employee.objects.get(employee_id="E003")), ("审核", e005)]
    )
    services.deactivate_employee(e005)  # the step's pair retires with the person
    assert not RelationPair.objects.active().filter(workflow=workflow).exists()

    apply_import(plan_import(**sources()), user=hr_user)  # E005 is back: the sync makes it

    record = OrgImport.objects.latest("id")
    process = RelationPair.objects.active().get(workflow=workflow)
    (created,) = versions(process)
    assert (created.history_import_id, created.history_user_id) == (record.pk, hr_user.pk)
    for edge in process.edges.all():
        assert versions(edge)[0].history_import_id == record.pk
