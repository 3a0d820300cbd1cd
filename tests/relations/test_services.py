"""The graph services: every write keeps an edge and its reverse together and the rules intact."""

from datetime import timedelta
from itertools import pairwise

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from relations import services
from relations.models import (
    Department,
    Direction,
    Edge,
    EdgeType,
    Employee,
    RankKind,
    RelationPair,
    WorkflowStep,
)
from relations.services import End, GraphError, PairSpec
from tests.factories import DepartmentFactory, WorkflowFactory
from tests.relations.invariants import assert_graph_invariants


def active_rank_pairs() -> set[tuple[str, str]]:
    return set(
        Edge.objects.active()
        .filter(type=EdgeType.RANK, direction=Direction.FORWARD)
        .values_list("provider_employee__employee_id", "customer_employee__employee_id")
    )


def edge_state() -> list[tuple]:
    return list(
        Edge.objects.order_by("id").values_list(
            "id", "pair_id", "provider_department", "provider_employee",
            "customer_department", "customer_employee", "service", "valid_to",
        )
    )  # fmt: skip


# --- create_pair ---------------------------------------------------------------------------


def test_create_pair_writes_both_edges_in_one_statement(company):
    sales, commerce = company["sales"], company["commerce"]
    with CaptureQueriesContext(connection) as ctx:
        forward = services.create_pair(
            EdgeType.FUNCTION, sales, commerce, service="合同", reverse_service="需求"
        )
    # One INSERT for both edges: PostgreSQL's pair trigger sees them together.
    edge_inserts = [q for q in ctx.captured_queries if 'INSERT INTO "relations_edge"' in q["sql"]]
    assert len(edge_inserts) == 1

    reverse = forward.reverse
    assert forward.direction == Direction.FORWARD and reverse.direction == Direction.REVERSE
    assert (forward.provider, forward.customer) == (sales, commerce)
    assert (reverse.provider, reverse.customer) == (commerce, sales)
    assert (forward.service, reverse.service) == ("合同", "需求")
    assert forward.pair_id == reverse.pair_id
    assert reverse.reverse == forward
    assert forward.is_active and reverse.is_active and forward.pair.is_active
    assert_graph_invariants()


@pytest.mark.parametrize("flip", [False, True], ids=["same-direction", "opposite-direction"])
def test_create_pair_refuses_an_existing_relationship(company, flip):
    sales, commerce = company["sales"], company["commerce"]
    services.create_pair(EdgeType.FUNCTION, sales, commerce)
    before = edge_state()
    ends = (commerce, sales) if flip else (sales, commerce)
    with pytest.raises(GraphError):
        services.create_pair(EdgeType.FUNCTION, *ends)
    assert edge_state() == before


def test_create_pair_allows_the_same_ends_with_another_type(company):
    sales, commerce = company["sales"], company["commerce"]
    services.create_pair(EdgeType.FUNCTION, sales, commerce)
    services.create_pair(EdgeType.WORKFLOW, sales, commerce)
    assert Edge.objects.active().count() == 4 + 2 * 3  # plus the three rank pairs
    assert_graph_invariants()


def test_create_pair_after_retirement_makes_a_new_pair_and_keeps_the_old(company):
    sales, commerce = company["sales"], company["commerce"]
    old = services.create_pair(EdgeType.FUNCTION, sales, commerce)
    services.retire_edge(old)
    new = services.create_pair(EdgeType.FUNCTION, sales, commerce)
    assert new.pair_id != old.pair_id
    old.refresh_from_db()
    assert old.valid_to is not None and old.reverse.valid_to is not None
    assert_graph_invariants()


@pytest.mark.parametrize("end", ["sales", "seller"])
def test_create_pair_refuses_a_self_relation(company, end):
    with pytest.raises(GraphError):
        services.create_pair(EdgeType.WORKFLOW, company[end], company[end])
    assert not Edge.objects.exclude(type=EdgeType.RANK).exists()


@pytest.mark.parametrize("end", ["seller", "sales"])
def test_create_pair_refuses_a_leaver_or_closed_department(company, end):
    obj = company[end]
    type(obj).objects.filter(pk=obj.pk).update(active=False)
    obj.refresh_from_db()
    with pytest.raises(GraphError):
        services.create_pair(EdgeType.WORKFLOW, company["commerce"], obj)
    assert not Edge.objects.exclude(type=EdgeType.RANK).exists()


def test_create_pair_refuses_derived_pairs(company):
    # Rank follows the reporting line and a workflow's process pairs its steps; a hand-made pair
    # would either break that rule or be silently retired by the next sync.
    before = edge_state()
    with pytest.raises(GraphError):
        services.create_pair(EdgeType.RANK, company["commerce_head"], company["seller"])
    with pytest.raises(GraphError):
        services.create_pair(
            EdgeType.PROCESS, company["sales"], company["commerce"], workflow=WorkflowFactory()
        )
    assert edge_state() == before


def test_rank_relationships_connect_two_people(company):
    spec = PairSpec(
        type=EdgeType.RANK, provider=End.of(company["sales"]), customer=End.of(company["ceo"])
    )
    before = edge_state()
    with pytest.raises(GraphError):
        services.create_pairs([spec])
    assert edge_state() == before


def test_create_pairs_gives_rank_pairs_task_forward_and_condition_reverse(db):
    dept = DepartmentFactory()
    boss, worker = (
        Employee.objects.create(employee_id=eid, name=eid, department=dept) for eid in "AB"
    )
    (pair,) = services.create_pairs(
        [PairSpec(type=EdgeType.RANK, provider=End.of(worker), customer=End.of(boss))]
    )
    kinds = dict(pair.edges.values_list("direction", "rank_kind"))
    assert kinds == {Direction.FORWARD: RankKind.TASK, Direction.REVERSE: RankKind.CONDITION}


# --- change_edge / retire_edge --------------------------------------------------------------


@pytest.mark.parametrize("via", [Direction.FORWARD, Direction.REVERSE])
def test_change_edge_service_is_written_in_place_on_both(company, via):
    forward = services.create_pair(
        EdgeType.FUNCTION, company["sales"], company["commerce"], service="a", reverse_service="b"
    )
    edge = forward if via == Direction.FORWARD else forward.reverse
    changed = services.change_edge(edge, service="new", reverse_service="new back")
    assert changed.pk == edge.pk
    assert changed.service == "new" and changed.reverse.service == "new back"
    assert RelationPair.objects.count() == 4  # no new pair: three rank and this one
    assert_graph_invariants()


def test_change_edge_service_alone_keeps_the_reverse_text(company):
    forward = services.create_pair(
        EdgeType.FUNCTION, company["sales"], company["commerce"], service="a", reverse_service="b"
    )
    services.change_edge(forward, service="c")
    forward.refresh_from_db()
    assert (forward.service, forward.reverse.service) == ("c", "b")


@pytest.mark.parametrize("via", [Direction.FORWARD, Direction.REVERSE])
def test_change_edge_ends_retires_the_old_pair_and_creates_a_new_one(company, via):
    sales, commerce, hq = company["sales"], company["commerce"], company["hq"]
    forward = services.create_pair(
        EdgeType.FUNCTION, sales, commerce, service="a", reverse_service="b"
    )
    edge = forward if via == Direction.FORWARD else forward.reverse
    edges_before = Edge.objects.count()

    changed = services.change_edge(edge, customer=hq)

    assert changed.direction == edge.direction
    assert changed.pair_id != edge.pair_id
    assert changed.customer == hq and changed.provider == edge.provider
    assert changed.service == edge.service and changed.reverse.service == edge.reverse.service
    edge.refresh_from_db()
    assert edge.valid_to is not None and edge.reverse.valid_to is not None  # history kept
    assert Edge.objects.count() == edges_before + 2
    assert_graph_invariants(previous_edge_count=edges_before)


def test_change_edge_to_existing_ends_is_refused_and_changes_nothing(company):
    sales, commerce, hq = company["sales"], company["commerce"], company["hq"]
    edge = services.create_pair(EdgeType.FUNCTION, sales, commerce)
    services.create_pair(EdgeType.FUNCTION, sales, hq)
    before = edge_state()
    with pytest.raises(GraphError):
        services.change_edge(edge, customer=hq)
    with pytest.raises(GraphError):
        services.change_edge(edge, customer=sales)
    assert edge_state() == before


def test_change_edge_refuses_a_retired_edge(company):
    edge = services.create_pair(EdgeType.FUNCTION, company["sales"], company["commerce"])
    services.retire_edge(edge)
    edge.refresh_from_db()
    with pytest.raises(GraphError):
        services.change_edge(edge, service="x")


def test_change_edge_refuses_a_stale_copy_of_a_retired_edge(company):
    edge = services.create_pair(EdgeType.FUNCTION, company["sales"], company["commerce"])
    stale = Edge.objects.get(pk=edge.pk)
    services.retire_edge(edge)
    before = edge_state()
    with pytest.raises(GraphError):
        services.change_edge(stale, service="x")
    with pytest.raises(GraphError):
        services.change_edge(stale, customer=company["hq"])
    assert edge_state() == before


def test_change_edge_can_reword_a_rank_edge_but_not_move_it(company):
    task = Edge.objects.get(
        type=EdgeType.RANK, direction=Direction.FORWARD, provider_employee=company["seller"]
    )
    services.change_edge(task, service="周报")
    task.refresh_from_db()
    assert task.service == "周报"
    before = edge_state()
    with pytest.raises(GraphError):
        services.change_edge(task, customer=company["ceo"])
    assert edge_state() == before
    assert_graph_invariants()


@pytest.mark.parametrize("via", [Direction.FORWARD, Direction.REVERSE])
def test_retire_edge_retires_both_directions(company, via):
    forward = services.create_pair(EdgeType.WORKFLOW, company["seller"], company["commerce"])
    edge = forward if via == Direction.FORWARD else forward.reverse
    count = Edge.objects.count()
    services.retire_edge(edge)
    forward.refresh_from_db()
    assert forward.valid_to is not None
    assert forward.reverse.valid_to == forward.valid_to == forward.pair.valid_to
    assert Edge.objects.count() == count
    assert_graph_invariants(previous_edge_count=count)


def test_retire_edge_refuses_a_rank_edge(company):
    task = Edge.objects.get(type=EdgeType.RANK, provider_employee=company["seller"])
    with pytest.raises(GraphError):
        services.retire_edge(task)
    assert_graph_invariants()


# --- People and the reporting line ----------------------------------------------------------


def test_hire_gives_task_edge_to_manager_and_condition_edge_back(company):
    assert active_rank_pairs() == {("E002", "E001"), ("E003", "E002"), ("E004", "E001")}
    task = Edge.objects.active().get(type=EdgeType.RANK, provider_employee=company["seller"])
    condition = task.reverse
    assert (task.rank_kind, condition.rank_kind) == (RankKind.TASK, RankKind.CONDITION)
    assert condition.provider == company["sales_head"] and condition.customer == company["seller"]
    assert task.service and condition.service
    assert_graph_invariants()


def test_hire_creates_a_login_without_usable_password(company):
    seller = company["seller"]
    new = services.hire_employee(employee_id="E100", name="新人", department=company["sales"])
    assert new.user.username == "E100"
    assert not new.user.has_usable_password()
    assert seller.user.username == "E003"


@pytest.mark.parametrize("flag", ["is_staff", "is_superuser"])
def test_hire_does_not_adopt_an_administrators_login(company, django_user_model, flag):
    # Otherwise the new hire's password-set link would take over the administrator's account.
    admin = django_user_model.objects.create_user(username="admin", password="x", **{flag: True})
    with pytest.raises(GraphError):
        services.hire_employee(employee_id="admin", name="冒名", department=company["sales"])
    assert not Employee.objects.filter(employee_id="admin").exists()
    admin.refresh_from_db()
    assert admin.check_password("x") and not hasattr(admin, "employee")


def test_hire_adopts_an_unlinked_ordinary_login_with_the_same_name(company, django_user_model):
    user = django_user_model.objects.create_user(username="E100")
    new = services.hire_employee(employee_id="E100", name="新人", department=company["sales"])
    assert new.user == user


def test_create_login_does_not_take_a_colleagues_login(company):
    other = Employee.objects.create(employee_id="E003X", name="x", department=company["sales"])
    other.employee_id = "E003"  # the seller's login name
    with pytest.raises(GraphError):
        services.create_login(other)
    assert Employee.objects.get(pk=other.pk).user is None


def test_nobody_joins_returns_to_or_hangs_under_a_closed_department(company):
    sales, seller = company["sales"], company["seller"]
    services.deactivate_employee(seller)
    closed = DepartmentFactory(parent=company["hq"], active=False)
    before = (edge_state(), list(Employee.objects.values_list()))
    with pytest.raises(GraphError):
        services.hire_employee(employee_id="E100", name="新人", department=closed)
    with pytest.raises(GraphError):
        services.move_employee(company["commerce_head"], closed)
    with pytest.raises(GraphError):
        services.set_department_parent(sales, closed)
    Employee.objects.filter(pk=seller.pk).update(department=closed)
    seller.refresh_from_db()
    with pytest.raises(GraphError):
        services.reactivate_employee(seller)
    Employee.objects.filter(pk=seller.pk).update(department=sales)
    assert (edge_state(), list(Employee.objects.values_list())) == before
    assert Department.objects.get(pk=sales.pk).parent == company["hq"]


def test_a_leaver_cannot_become_a_manager(company):
    sales_head = company["sales_head"]
    services.deactivate_employee(sales_head)
    before = (edge_state(), list(Employee.objects.values_list()))
    with pytest.raises(GraphError):
        services.hire_employee(
            employee_id="E100", name="新人", department=company["sales"], manager=sales_head
        )
    with pytest.raises(GraphError):
        services.change_manager(company["commerce_head"], sales_head)
    assert (edge_state(), list(Employee.objects.values_list())) == before


def test_hire_refuses_a_duplicate_employee_id(company):
    with pytest.raises(GraphError):
        services.hire_employee(employee_id="E003", name="重复", department=company["sales"])
    assert Employee.objects.count() == 4


def test_a_new_hire_cannot_become_their_managers_manager(company):
    new = services.hire_employee(
        employee_id="E100", name="新人", department=company["sales"], manager=company["seller"]
    )
    with pytest.raises(GraphError):
        services.change_manager(company["ceo"], new)
    assert active_rank_pairs() >= {("E100", "E003")}
    assert_graph_invariants()


def test_change_manager_replaces_the_rank_pair(company):
    seller = company["seller"]
    old = Edge.objects.active().get(type=EdgeType.RANK, provider_employee=seller)
    services.change_manager(seller, company["commerce_head"])
    old.refresh_from_db()
    assert old.valid_to is not None and old.reverse.valid_to is not None
    assert ("E003", "E004") in active_rank_pairs() and ("E003", "E002") not in active_rank_pairs()
    assert_graph_invariants()


def test_change_manager_to_nobody_retires_the_rank_pair(company):
    services.change_manager(company["seller"], None)
    assert active_rank_pairs() == {("E002", "E001"), ("E004", "E001")}
    assert_graph_invariants()


@pytest.mark.parametrize(
    "who,new_manager", [("ceo", "seller"), ("ceo", "sales_head"), ("sales_head", "sales_head")]
)
def test_change_manager_refuses_a_cycle_and_changes_nothing(company, who, new_manager):
    before = (edge_state(), list(Employee.objects.values_list("id", "manager_id")))
    with pytest.raises(GraphError):
        services.change_manager(company[who], company[new_manager])
    assert (edge_state(), list(Employee.objects.values_list("id", "manager_id"))) == before


def test_move_employee_keeps_the_rank_edges(company):
    before = active_rank_pairs()
    services.move_employee(company["seller"], company["commerce"])
    assert Employee.objects.get(employee_id="E003").department == company["commerce"]
    assert active_rank_pairs() == before
    assert_graph_invariants()


def test_deactivate_retires_all_edges_and_disables_the_login(
    company, client, django_capture_on_commit_callbacks
):
    sales_head = company["sales_head"]
    services.create_pair(EdgeType.WORKFLOW, sales_head, company["commerce"])
    client.force_login(sales_head.user)
    assert Session.objects.count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        services.deactivate_employee(sales_head)

    assert not Edge.objects.active().touching_employee(sales_head.pk).exists()
    assert Edge.objects.touching_employee(sales_head.pk).count() == 6  # kept, retired
    sales_head.user.refresh_from_db()
    assert not sales_head.user.is_active
    assert Session.objects.count() == 0
    # Their report lost the rank pair with them; the others keep theirs.
    assert active_rank_pairs() == {("E004", "E001")}
    assert_graph_invariants()


def test_reactivate_restores_the_rank_edges(company):
    services.deactivate_employee(company["sales_head"])
    services.reactivate_employee(company["sales_head"])
    assert active_rank_pairs() == {("E002", "E001"), ("E003", "E002"), ("E004", "E001")}
    company["sales_head"].user.refresh_from_db()
    assert company["sales_head"].user.is_active
    assert_graph_invariants()


# --- Departments ------------------------------------------------------------------------------


@pytest.mark.parametrize("dept,parent", [("hq", "sales"), ("sales", "sales")])
def test_set_department_parent_refuses_a_cycle(company, dept, parent):
    sub = DepartmentFactory(parent=company["sales"])
    with pytest.raises(GraphError):
        services.set_department_parent(company[dept], company[parent])
    with pytest.raises(GraphError):
        services.set_department_parent(company["hq"], sub)
    company["hq"].refresh_from_db()
    company["sales"].refresh_from_db()
    assert company["hq"].parent is None and company["sales"].parent == company["hq"]


def test_set_department_parent_moves_a_subtree(company):
    services.set_department_parent(company["sales"], company["commerce"])
    company["sales"].refresh_from_db()
    assert company["sales"].parent == company["commerce"]
    assert company["sales"].ancestor_ids() == [company["commerce"].pk, company["hq"].pk]


# --- Workflows and process edges --------------------------------------------------------------


def process_pairs() -> set[tuple]:
    return {
        (e.provider, e.customer)
        for e in Edge.objects.active()
        .with_ends()
        .filter(type=EdgeType.PROCESS, direction=Direction.FORWARD)
    }


def test_workflow_steps_make_process_edges_between_consecutive_steps(company):
    wf = WorkflowFactory()
    sales, commerce, hq, seller = (company[k] for k in ("sales", "commerce", "hq", "seller"))
    services.set_workflow_steps(
        wf, [("报价", sales), ("审批", hq), ("签约", hq), ("交付", commerce), ("回款", seller)]
    )
    # Two steps owned by the same end make no edge: nobody is their own customer.
    assert process_pairs() == {(sales, hq), (hq, commerce), (commerce, seller)}
    edge = Edge.objects.active().get(type=EdgeType.PROCESS, provider_department=sales)
    assert edge.pair.workflow == wf and "报价" in edge.service
    assert_graph_invariants()


def test_reordering_steps_re_derives_the_process_edges(company):
    wf = WorkflowFactory()
    sales, commerce, hq = company["sales"], company["commerce"], company["hq"]
    services.set_workflow_steps(wf, [("a", sales), ("b", commerce), ("c", hq)])
    count = Edge.objects.count()
    result = services.set_workflow_steps(wf, [("b", commerce), ("a", sales), ("c", hq)])
    # commerce↔sales stays one pair (either direction); commerce→hq is replaced by sales→hq.
    assert result == {"created": 1, "retired": 1}
    assert {frozenset(p) for p in process_pairs()} == {
        frozenset({commerce, sales}),
        frozenset({sales, hq}),
    }
    assert_graph_invariants(previous_edge_count=count)


def test_clearing_or_deactivating_a_workflow_retires_its_process_edges(company):
    wf = WorkflowFactory()
    services.set_workflow_steps(wf, [("a", company["sales"]), ("b", company["commerce"])])
    services.set_workflow_steps(wf, [])
    assert process_pairs() == set()
    services.set_workflow_steps(wf, [("a", company["sales"]), ("b", company["commerce"])])
    type(wf).objects.filter(pk=wf.pk).update(active=False)
    services.sync_process_edges()
    assert process_pairs() == set()
    assert_graph_invariants()


def test_a_leaving_step_owner_takes_the_process_edges_along(company):
    wf = WorkflowFactory()
    seller, sales = company["seller"], company["sales"]
    services.set_workflow_steps(wf, [("a", sales), ("b", seller), ("c", company["hq"])])
    services.deactivate_employee(seller)
    assert process_pairs() == set()
    assert_graph_invariants()
    services.reactivate_employee(seller)
    assert len(process_pairs()) == 2
    assert_graph_invariants()


def test_an_hr_set_process_pair_is_left_alone_by_the_workflow_sync(company):
    sales, commerce, hq = company["sales"], company["commerce"], company["hq"]
    hr_pair = services.create_pair(EdgeType.PROCESS, sales, commerce, service="样品")
    services.set_workflow_steps(WorkflowFactory(), [("a", hq), ("b", sales)])
    hr_pair.refresh_from_db()
    assert hr_pair.is_active and hr_pair.pair.workflow is None
    assert process_pairs() == {(sales, commerce), (hq, sales)}
    assert_graph_invariants()


def test_an_hr_set_process_pair_stands_for_the_same_steps(company):
    sales, commerce = company["sales"], company["commerce"]
    hr_pair = services.create_pair(EdgeType.PROCESS, commerce, sales)
    services.set_workflow_steps(WorkflowFactory(), [("a", sales), ("b", commerce)])
    assert process_pairs() == {(commerce, sales)}  # no second pair with the same ends
    assert_graph_invariants()
    # Retired by HR, the steps still link the two: the pair comes back as the workflow's.
    services.retire_edge(hr_pair)
    assert process_pairs() == {(sales, commerce)}
    assert Edge.objects.active().get(provider_department=sales, type="process").pair.workflow
    assert_graph_invariants()


def test_a_workflows_process_pair_cannot_be_retired_or_moved_by_hand(company):
    sales, commerce = company["sales"], company["commerce"]
    services.set_workflow_steps(WorkflowFactory(), [("a", sales), ("b", commerce)])
    edge = Edge.objects.active().get(type=EdgeType.PROCESS, direction=Direction.FORWARD)
    before = edge_state()
    with pytest.raises(GraphError):
        services.retire_edge(edge)
    with pytest.raises(GraphError):
        services.change_edge(edge, customer=company["hq"])
    assert edge_state() == before
    services.change_edge(edge, service="图纸")  # the wording may change
    assert Edge.objects.get(pk=edge.pk).service == "图纸"


def test_two_workflows_in_opposite_order_share_one_pair(company):
    sales, commerce = company["sales"], company["commerce"]
    services.set_workflow_steps(WorkflowFactory(), [("a", sales), ("b", commerce)])
    services.set_workflow_steps(WorkflowFactory(), [("b", commerce), ("a", sales)])
    assert len(process_pairs()) == 1
    assert_graph_invariants()


# --- Query counts do not grow with the number of rows ----------------------------------------


def insert_statements(model, rows: int) -> int:
    """How many INSERTs Django needs for `rows` objects: 1 on PostgreSQL; SQLite caps the
    variables per statement, so there a bulk insert is split into batches."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    batch = connection.ops.bulk_batch_size(fields, [None] * rows)
    return -(-rows // batch)


def batching(pairs: int) -> int:
    return insert_statements(RelationPair, pairs) + insert_statements(Edge, 2 * pairs)


def queries_of(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def make_company(size: int):
    """A boss and `size` people under them in a chain, written directly (no sync yet)."""
    dept = DepartmentFactory()
    people = Employee.objects.bulk_create(
        Employee(employee_id=f"P{size}-{i:04d}", name=f"员工{i}", department=dept)
        for i in range(size + 1)
    )
    for upper, lower in pairwise(people):
        lower.manager = upper
    Employee.objects.bulk_update(people[1:], ["manager"])
    return people


@pytest.mark.django_db
def test_sync_rank_edges_query_count_does_not_grow_with_size():
    counts = {}
    for size in (10, 100):
        people = make_company(size)
        create = queries_of(services.sync_rank_edges)
        # Everyone now reports to the boss: every pair but the first is replaced.
        Employee.objects.filter(pk__in=[p.pk for p in people[2:]]).update(manager=people[0])
        replace = queries_of(services.sync_rank_edges)
        counts[size] = (create - batching(size), replace - batching(size - 1))
    assert counts[100] == counts[10]
    assert_graph_invariants()


@pytest.mark.django_db
def test_sync_process_edges_query_count_does_not_grow_with_size():
    counts = {}
    for size in (10, 100):
        owners = [DepartmentFactory() for _ in range(size + 1)]
        wf = WorkflowFactory()
        counts[size] = (
            queries_of(
                lambda wf=wf, owners=owners: services.set_workflow_steps(
                    wf, [(f"s{i}", o) for i, o in enumerate(owners)]
                )
            )
            - batching(size)
            - insert_statements(WorkflowStep, size + 1)
        )
    assert counts[100] == counts[10]
    assert_graph_invariants()


@pytest.mark.django_db
def test_create_and_retire_pairs_query_count_does_not_grow_with_size():
    counts = {}
    for size in (10, 100):
        depts = [DepartmentFactory() for _ in range(size + 1)]
        specs = [
            PairSpec(type=EdgeType.FUNCTION, provider=End.of(a), customer=End.of(b))
            for a, b in pairwise(depts)
        ]
        created: list = []
        create = queries_of(
            lambda specs=specs, out=created: out.extend(services.create_pairs(specs))
        )
        at = timezone.now() + timedelta(seconds=1)
        retire = queries_of(
            lambda created=created, at=at: services.retire_pairs([p.pk for p in created], at=at)
        )
        counts[size] = (create - batching(size), retire)
    assert counts[100] == counts[10]
    assert_graph_invariants()


@pytest.mark.django_db
def test_deactivating_many_people_costs_a_fixed_number_of_queries():
    counts = {}
    for size in (10, 100):
        people = make_company(size)
        services.sync_rank_edges()
        counts[size] = queries_of(
            lambda people=people: services.deactivate_employees([p.pk for p in people[1:]])
        )
    assert counts[100] == counts[10]
    assert_graph_invariants()
