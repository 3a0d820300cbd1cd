"""Importing the org chart and HR-set relationships: what changes, and what does not."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from relations import import_sql, services
from relations.importing import ImportConflict, apply_import, plan_import
from relations.models import (
    Department,
    Direction,
    Edge,
    EdgeType,
    Employee,
    RelationPair,
    Workflow,
)
from tests.relations.import_helpers import DATA, company, import_ok, rows_of, sources

User = get_user_model()


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def active_edge(edge_type, provider, customer):
    return Edge.objects.active().filter(type=edge_type, **provider, **customer).get()


def emp(eid):
    return Employee.objects.get(employee_id=eid)


def without(rows, key):
    return [row for row in rows if row[0] != key]


def replace(rows, key, **changes):
    columns = {"name": 1, "email": 2, "department_code": 3, "manager_employee_id": 4, "title": 5}
    out = []
    for row in rows:
        row = list(row)
        if row[0] == key:
            for column, value in changes.items():
                row[columns[column]] = value
        out.append(row)
    return out


@pytest.mark.django_db
def test_first_import_creates_departments_people_logins_and_both_edges_of_every_pair():
    plan, summary = import_ok()

    assert plan.changes.departments_created == 5
    assert plan.changes.employees_created == 6
    assert summary.as_dict() == {
        "departments": 5,
        "employees": 6,
        "edges": {"rank": 10, "function": 4, "process": 2, "workflow": 2},
        "pairs": 9,
    }
    sales = Department.objects.get(code="SALES")
    assert sales.parent.code == "HQ"
    assert sales.head.employee_id == "E002"
    zhang = emp("E003")
    assert (zhang.name, zhang.email, zhang.department.code, zhang.manager.employee_id) == (
        "张三",
        "zhang@example.com",
        "SALES-N",
        "E002",
    )
    # The login: named after the employee id, no usable password until a reset link is used.
    assert zhang.user.username == "E003"
    assert zhang.user.email == "zhang@example.com"
    assert zhang.user.is_active
    assert not zhang.user.has_usable_password()
    # Rank: task edge subordinate → manager, condition edge back.
    task = active_edge(
        EdgeType.RANK, {"provider_employee": zhang}, {"customer_employee": emp("E002")}
    )
    assert task.rank_kind == "task"
    assert task.reverse.rank_kind == "condition"
    assert task.reverse.customer_employee == zhang


@pytest.mark.django_db
def test_reimport_of_the_same_files_changes_nothing_and_says_so():
    import_ok()
    before = list(Edge.objects.order_by("id").values_list("id", "valid_to", "service"))

    plan = plan_import(**sources())
    assert plan.errors == []
    assert plan.is_noop
    apply_import(plan)

    assert list(Edge.objects.order_by("id").values_list("id", "valid_to", "service")) == before
    out = StringIO()
    call_command(
        "import_org",
        departments=DATA / "departments.csv",
        employees=DATA / "employees.csv",
        relations=DATA / "relations.csv",
        language="en",
        stdout=out,
    )
    assert "Nothing changed." in out.getvalue()


@pytest.mark.django_db
def test_moved_employee_gets_rank_edges_replaced():
    import_ok()
    old_task = active_edge(
        EdgeType.RANK, {"provider_employee": emp("E003")}, {"customer_employee": emp("E002")}
    )
    employees = replace(
        rows_of("employees.csv"), "E003", department_code="COM", manager_employee_id="E004"
    )

    plan = plan_import(**sources(employees=employees))
    assert plan.changes.employees_moved == 1
    assert plan.changes.samples["employees_moved"] == ["张三 (E003)"]
    assert plan.changes.pairs_created[EdgeType.RANK] == 1
    assert plan.changes.pairs_retired[EdgeType.RANK] == 1
    apply_import(plan)

    old_task.refresh_from_db()
    assert old_task.valid_to is not None
    assert old_task.reverse.valid_to is not None
    new_task = active_edge(
        EdgeType.RANK, {"provider_employee": emp("E003")}, {"customer_employee": emp("E004")}
    )
    assert new_task.reverse.valid_to is None
    assert emp("E003").department.code == "COM"
    # E006 still reports to E003: that pair is untouched.
    assert (
        Edge.objects.active()
        .filter(type=EdgeType.RANK, provider_employee=emp("E006"), customer_employee=emp("E003"))
        .exists()
    )


@pytest.mark.django_db
def test_employee_missing_from_file_is_deactivated_login_disabled_sessions_ended_edges_retired(
    django_capture_on_commit_callbacks,
):
    relations = [*rows_of("relations.csv"), ["工序", "", "E006", "", "E005", "报销单据"]]
    import_ok(relations=relations)
    leaver = emp("E006")
    session = SessionStore()
    session["_auth_user_id"] = str(leaver.user_id)
    session.create()
    touching = list(Edge.objects.active().touching_employee(leaver.pk).values_list("id", flat=True))
    assert len(touching) == 4  # rank pair with E003 and the process pair with E005

    plan = plan_import(**sources(employees=without(rows_of("employees.csv"), "E006")))
    assert plan.changes.employees_deactivated == 1
    assert plan.changes.samples["employees_deactivated"] == ["孙小二 (E006)"]
    assert "Employees deactivated (login disabled, edges retired): 1 (孙小二 (E006))" in (
        plan.changes.lines()
    )
    with django_capture_on_commit_callbacks(execute=True):
        apply_import(plan)

    leaver.refresh_from_db()
    assert not leaver.active
    assert not User.objects.get(pk=leaver.user_id).is_active
    assert not Session.objects.filter(session_key=session.session_key).exists()
    assert not Edge.objects.filter(id__in=touching, valid_to__isnull=True).exists()
    assert Employee.objects.active().count() == 5


@pytest.mark.django_db
def test_employee_back_in_the_file_is_reactivated_with_login_and_rank_edges():
    import_ok()
    import_ok(employees=without(rows_of("employees.csv"), "E006"))

    plan, _summary = import_ok()

    assert plan.changes.employees_reactivated == 1
    returning = emp("E006")
    assert returning.active
    assert returning.user.is_active
    assert (
        Edge.objects.active()
        .filter(type=EdgeType.RANK, provider_employee=returning, customer_employee=emp("E003"))
        .exists()
    )


@pytest.mark.django_db
def test_department_missing_from_file_is_deactivated_and_its_relationships_retired():
    import_ok()
    fin = Department.objects.get(code="FIN")
    employees = replace(rows_of("employees.csv"), "E005", department_code="HQ")
    departments = without(rows_of("departments.csv"), "FIN")

    plan = plan_import(
        **sources(departments=departments, employees=employees, with_relations=False)
    )
    assert plan.changes.departments_deactivated == 1
    assert plan.changes.pairs_retired == {
        "rank": 0,
        "function": 1,
        "process": 0,
        "workflow": 1,
    }
    apply_import(plan)

    fin.refresh_from_db()
    assert not fin.active
    assert not Edge.objects.active().filter(provider_department=fin).exists()
    assert not Edge.objects.active().filter(customer_department=fin).exists()


@pytest.mark.django_db
def test_changed_names_and_titles_are_updated_in_place():
    import_ok()
    employees = replace(rows_of("employees.csv"), "E005", title="财务经理", email="q@example.com")
    departments = [
        [code, "财务中心" if code == "FIN" else name, parent, head]
        for code, name, parent, head in rows_of("departments.csv")
    ]

    plan, _ = import_ok(departments=departments, employees=employees)

    assert plan.changes.employees_updated == 1
    assert plan.changes.departments_updated == 1
    assert emp("E005").title == "财务经理"
    assert emp("E005").user.email == "q@example.com"
    assert Department.objects.get(code="FIN").name == "财务中心"


@pytest.mark.django_db
def test_relation_row_whose_reverse_is_earlier_in_the_file_joins_that_pair():
    import_ok()
    com, sales = Department.objects.get(code="COM"), Department.objects.get(code="SALES")

    forward = active_edge(
        EdgeType.FUNCTION, {"provider_department": com}, {"customer_department": sales}
    )

    assert forward.service == "合同审核"
    assert forward.reverse.service == "客户需求与订单信息"  # the second row of the file
    assert RelationPair.objects.active().filter(type=EdgeType.FUNCTION).count() == 2


@pytest.mark.django_db
def test_relation_row_whose_reverse_is_in_the_database_joins_that_pair():
    import_ok()
    relations = [*rows_of("relations.csv"), ["流程", "FIN", "", "SALES", "", "发票与回款信息"]]

    plan, _ = import_ok(relations=relations)

    assert plan.changes.services_changed == 1
    assert plan.changes.pairs_created == {"rank": 0, "function": 0, "process": 0, "workflow": 0}
    fin, sales = Department.objects.get(code="FIN"), Department.objects.get(code="SALES")
    edge = active_edge(
        EdgeType.WORKFLOW, {"provider_department": fin}, {"customer_department": sales}
    )
    assert edge.service == "发票与回款信息"
    assert edge.direction == Direction.REVERSE
    assert edge.reverse.service == "订单交付后的开票申请"


@pytest.mark.django_db
def test_relations_file_is_the_complete_list_rows_left_out_are_retired():
    import_ok()
    relations = [row for row in rows_of("relations.csv") if row[0] != "workflow"]

    plan, summary = import_ok(relations=relations)

    assert plan.changes.pairs_retired["workflow"] == 1
    assert summary.edges.get("workflow", 0) == 0
    assert RelationPair.objects.filter(type=EdgeType.WORKFLOW, valid_to__isnull=False).count() == 1


@pytest.mark.django_db
def test_without_relations_file_hr_set_relationships_are_left_alone():
    import_ok()

    plan, summary = import_ok(with_relations=False)

    assert plan.is_noop
    assert summary.edges["function"] == 4


@pytest.mark.django_db
def test_workflow_process_pairs_are_not_retired_by_a_relations_file():
    import_ok()
    workflow = Workflow.objects.create(code="W1", name="订单")
    services.set_workflow_steps(
        workflow,
        [
            ("接单", Department.objects.get(code="SALES")),
            ("开票", Department.objects.get(code="FIN")),
        ],
    )

    plan, summary = import_ok()

    assert plan.is_noop
    assert summary.edges["process"] == 4  # the HR-set pair of the file and the workflow's pair


@pytest.mark.django_db
def test_plan_made_before_someone_else_changed_the_data_is_refused():
    import_ok()
    plan = plan_import(**sources(employees=without(rows_of("employees.csv"), "E006")))
    Department.objects.filter(code="FIN").update(name="改名")

    with pytest.raises(ImportConflict):
        apply_import(plan)

    assert emp("E006").active


@pytest.mark.django_db
def test_dry_run_writes_nothing_and_previews_the_changes():
    out = StringIO()
    call_command(
        "import_org",
        departments=DATA / "departments.csv",
        employees=DATA / "employees.csv",
        relations=DATA / "relations.csv",
        dry_run=True,
        language="en",
        stdout=out,
    )

    assert Department.objects.count() == 0
    assert Employee.objects.count() == 0
    assert User.objects.count() == 0
    assert Edge.objects.count() == 0
    text = out.getvalue()
    assert "Dry run: nothing was written." in text
    assert "Employees created: 6" in text


@pytest.mark.django_db
def test_json_format_prints_one_object_with_the_four_summary_keys():
    out = StringIO()
    call_command(
        "import_org",
        departments=DATA / "departments.csv",
        employees=DATA / "employees.csv",
        relations=DATA / "relations.csv",
        format="json",
        stdout=out,
    )

    summary = json.loads(out.getvalue())
    assert set(summary) == {"departments", "employees", "edges", "pairs"}
    assert summary["edges"] == {"rank": 10, "function": 4, "process": 2, "workflow": 2}
    assert (summary["departments"], summary["employees"], summary["pairs"]) == (5, 6, 9)


@pytest.mark.django_db
def test_text_format_lists_the_changes_and_the_summary():
    out = StringIO()
    call_command(
        "import_org",
        departments=DATA / "departments.csv",
        employees=DATA / "employees.csv",
        relations=DATA / "relations.csv",
        language="en",
        stdout=out,
    )

    text = out.getvalue()
    assert "Departments created: 5" in text
    assert "Rank relationship pairs created: 5" in text
    assert "Employees: 6" in text
    assert "Relationship pairs: 9" in text


class _Rollback(Exception):
    pass


def _queries_of_imports(size: int) -> tuple[int, int]:
    """Query counts of a first import and an unchanged re-import of a company of `size`."""
    files = company(size)
    counts = []
    try:
        with transaction.atomic():
            for _ in range(2):
                with CaptureQueriesContext(connection) as queries:
                    plan = plan_import(**sources(**files))
                    assert plan.errors == []
                    apply_import(plan)
                counts.append(len(queries))
            assert Employee.objects.count() == size
            raise _Rollback
    except _Rollback:
        pass
    return counts[0], counts[1]


@pytest.mark.django_db
def test_query_count_of_an_import_does_not_depend_on_the_number_of_rows():
    assert _queries_of_imports(20) == _queries_of_imports(200)


def _relations_foreign_keys() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid::regclass::text LIKE 'relations_%%' "
            "ORDER BY 1"
        )
        return cursor.fetchall()


@pytest.mark.postgresql  # foreign keys dropped for the load and added back: PostgreSQL's DDL
@pytest.mark.django_db
def test_a_large_load_on_postgresql_checks_foreign_keys_once_and_keeps_them(monkeypatch):
    before = _relations_foreign_keys()
    monkeypatch.setattr(import_sql, "BULK_ROWS", 1)

    with CaptureQueriesContext(connection) as queries:
        _plan, summary = import_ok()

    statements = [q["sql"] for q in queries.captured_queries]
    assert any("DROP CONSTRAINT" in sql for sql in statements)
    assert any("ADD CONSTRAINT" in sql for sql in statements)
    assert before and _relations_foreign_keys() == before
    assert summary.as_dict()["edges"]["rank"] == 10
    assert emp("E003").manager.employee_id == "E002"
