"""The demo company that `make run` loads: complete, kept on the next run, never in production."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.db.models import Count
from django.utils import translation
from django_celery_beat.models import PeriodicTask

from relations import demo, services
from relations.models import (
    Department,
    Direction,
    Edge,
    EdgeType,
    Employee,
    RelationPair,
    Workflow,
)
from relations.roles import HR_GROUP, roles_of
from relations.tasks import SYNC_GRAPH_TASK
from tests.conftest import kept_for_the_module, sign_in_request


def setup_demo(*args: str) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command("setup_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def loaded_once(django_db_setup, django_db_blocker):
    """The demo, loaded once for this module's tests (`kept_for_the_module`). Tests that need
    an empty database are in tests/test_demo_guard.py."""
    with kept_for_the_module(django_db_blocker, DEBUG=True):
        yield setup_demo()


@pytest.fixture
def loaded(loaded_once, db):
    return loaded_once


def test_demo_has_sixty_people_in_ten_chinese_named_departments_with_heads(loaded):
    departments = list(Department.objects.all())
    assert Employee.objects.filter(active=True).count() == 60
    assert len(departments) == 10
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in d.name) for d in departments)
    assert all(d.head is not None and d.head.department_id == d.pk for d in departments)
    roots = [d for d in departments if d.parent_id is None]
    assert len(roots) == 1
    # A tree with more than one level below the root.
    assert any(d.parent_id and d.parent.parent_id for d in departments)


def test_demo_has_every_relationship_type_each_with_its_reverse(loaded):
    by_type = dict(
        Edge.objects.active().values_list("type").annotate(n=Count("id")).order_by("type")
    )
    assert set(by_type) == set(EdgeType.values)
    assert by_type[EdgeType.FUNCTION] >= 6
    assert by_type[EdgeType.WORKFLOW] >= 2
    for pair in RelationPair.objects.active().prefetch_related("edges"):
        assert sorted(e.direction for e in pair.edges.all()) == [
            Direction.FORWARD,
            Direction.REVERSE,
        ]


def test_demo_rank_edges_follow_every_reporting_line(loaded):
    with_manager = set(
        Employee.objects.filter(manager__isnull=False).values_list("id", "manager_id")
    )
    task_edges = set(
        Edge.objects.active()
        .filter(type=EdgeType.RANK, rank_kind="task")
        .values_list("provider_employee_id", "customer_employee_id")
    )
    assert len(with_manager) == 59
    assert task_edges == with_manager


def test_demo_workflow_steps_give_the_process_edges(loaded):
    order = Workflow.objects.get(code="WF-ORDER")
    steps = list(order.steps.order_by("position"))
    assert len(steps) >= 4
    assert any(s.owner_employee_id for s in steps)
    assert any(s.owner_department_id for s in steps)
    first, second = steps[0], steps[1]
    assert (
        Edge.objects.active()
        .filter(
            type=EdgeType.PROCESS,
            provider_department=first.owner_department,
            customer_department=second.owner_department,
        )
        .exists()
    )
    # The demo is what the sync would make: nothing to add or retire.
    assert services.sync_process_edges() == {"created": 0, "retired": 0}
    assert services.sync_rank_edges() == {"created": 0, "retired": 0}


def test_every_role_can_sign_in_with_the_printed_demo_password(loaded):
    assert demo.DEMO_PASSWORD in loaded
    hr = authenticate(sign_in_request(), username="hr", password=demo.DEMO_PASSWORD)
    assert hr is not None and hr.is_staff
    assert hr.groups.filter(name=HR_GROUP).exists()
    assert roles_of(hr).is_hr
    examples = demo.login_examples()
    assert any(is_head for _, is_head in examples)
    assert any(not is_head for _, is_head in examples)
    for person, is_head in examples:
        assert f"username {person.employee_id}" in loaded
        user = authenticate(
            sign_in_request(), username=person.employee_id, password=demo.DEMO_PASSWORD
        )
        assert user is not None
        assert roles_of(user).is_head == is_head
    assert authenticate(
        sign_in_request(), username=demo.PEOPLE[-1].email, password=demo.DEMO_PASSWORD
    )


def test_hr_group_can_use_the_admin_for_the_org(loaded):
    hr = get_user_model().objects.get(username="hr")
    assert hr.has_perm("relations.change_employee")
    assert hr.has_perm("relations.add_department")
    assert not hr.is_superuser


def test_running_again_keeps_the_data(loaded):
    sales = Department.objects.get(code="SALES")
    sales.name = "销售一部"
    sales.save()
    employees, edges = Employee.objects.count(), Edge.objects.count()

    output = setup_demo()

    assert "already loaded" in output
    assert demo.DEMO_PASSWORD in output
    assert Department.objects.get(code="SALES").name == "销售一部"
    assert (Employee.objects.count(), Edge.objects.count()) == (employees, edges)


def test_setup_registers_the_nightly_graph_sync(loaded):
    assert PeriodicTask.objects.filter(task=SYNC_GRAPH_TASK, enabled=True).count() == 1
