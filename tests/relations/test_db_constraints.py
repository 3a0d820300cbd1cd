"""The database itself refuses graph rows that break the rules, whoever writes them.

These writes go straight through the ORM, around the services, the way a careless script, a
data migration or a future bug would. Each attempt runs in its own savepoint so a refused
statement does not poison the test's transaction.
"""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

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
from relations.services import End
from tests.factories import DepartmentFactory, EmployeeFactory, WorkflowFactory
from tests.relations.invariants import assert_graph_invariants


def orm_edge(pair, direction, provider, customer, rank_kind="", **extra) -> Edge:
    """An unsaved edge of `pair` with the given ends (Department/Employee, or raw columns)."""
    columns = {}
    for side, end in (("provider", provider), ("customer", customer)):
        if isinstance(end, dict):
            columns.update({f"{side}_{k}": v for k, v in end.items()})
        else:
            columns.update(End.of(end).columns(side))
    return Edge(
        pair=pair,
        direction=direction,
        type=pair.type,
        rank_kind=rank_kind,
        valid_from=pair.valid_from,
        **columns,
        **extra,
    )


def orm_pair(edge_type, provider, customer, kinds=("", "")) -> list[Edge]:
    """A pair and both its edges, the two edges in one INSERT, as the services write them."""
    pair = RelationPair.objects.create(type=edge_type, valid_from=timezone.now())
    return Edge.objects.bulk_create(
        [
            orm_edge(pair, Direction.FORWARD, provider, customer, kinds[0]),
            orm_edge(pair, Direction.REVERSE, customer, provider, kinds[1]),
        ]
    )


def refused(write) -> bool:
    try:
        with transaction.atomic():
            write()
    except IntegrityError:
        return True
    return False


@pytest.fixture
def org(db):
    a, b = DepartmentFactory(), DepartmentFactory()
    boss = EmployeeFactory(department=a)
    worker = EmployeeFactory(department=a)
    return {"a": a, "b": b, "boss": boss, "worker": worker}


def test_a_well_formed_pair_written_directly_is_accepted(org):
    forward, _ = orm_pair(EdgeType.FUNCTION, org["a"], org["b"])
    assert Edge.objects.filter(pair=forward.pair).count() == 2
    assert_graph_invariants()


def test_a_second_active_edge_with_the_same_ends_is_refused(org):
    orm_pair(EdgeType.FUNCTION, org["a"], org["b"])
    assert refused(lambda: orm_pair(EdgeType.FUNCTION, org["a"], org["b"]))
    # The reverse direction is taken too: b → a is the first pair's reverse edge.
    assert refused(lambda: orm_pair(EdgeType.FUNCTION, org["b"], org["a"]))
    assert Edge.objects.count() == 2


def test_the_same_ends_are_free_again_once_retired(org):
    forward, _ = orm_pair(EdgeType.FUNCTION, org["a"], org["b"])
    now = timezone.now()
    RelationPair.objects.filter(pk=forward.pair_id).update(valid_to=now)
    Edge.objects.filter(pair=forward.pair_id).update(valid_to=now)
    assert not refused(lambda: orm_pair(EdgeType.FUNCTION, org["a"], org["b"]))
    assert_graph_invariants()


def test_the_same_ends_with_another_type_or_rank_kind_are_accepted(org):
    orm_pair(EdgeType.FUNCTION, org["a"], org["b"])
    assert not refused(lambda: orm_pair(EdgeType.WORKFLOW, org["a"], org["b"]))


@pytest.mark.parametrize("end", ["a", "worker"])
def test_an_edge_from_an_end_to_itself_is_refused(org, end):
    assert refused(lambda: orm_pair(EdgeType.WORKFLOW, org[end], org[end]))
    assert not Edge.objects.exists()


@pytest.mark.parametrize(
    "end",
    [
        {"department_id": None, "employee_id": None},
        "both",
    ],
    ids=["neither", "both"],
)
@pytest.mark.parametrize("side", ["provider", "customer"])
def test_an_edge_end_is_exactly_one_of_department_or_employee(org, end, side):
    if end == "both":
        end = {"department_id": org["b"].pk, "employee_id": org["boss"].pk}
    other = org["a"]
    ends = (end, other) if side == "provider" else (other, end)
    assert refused(lambda: orm_pair(EdgeType.WORKFLOW, *ends))
    assert not Edge.objects.exists()


@pytest.mark.parametrize(
    "edge_type,kinds",
    [
        (EdgeType.RANK, (RankKind.CONDITION, RankKind.TASK)),
        (EdgeType.RANK, (RankKind.TASK, RankKind.TASK)),
        (EdgeType.RANK, ("", "")),
        (EdgeType.FUNCTION, (RankKind.TASK, RankKind.CONDITION)),
    ],
)
def test_a_rank_kind_that_does_not_match_type_and_direction_is_refused(org, edge_type, kinds):
    ends = (org["a"], org["b"]) if edge_type == EdgeType.FUNCTION else (org["worker"], org["boss"])
    assert refused(lambda: orm_pair(edge_type, *ends, kinds=kinds))
    assert not Edge.objects.exists()


def test_rank_edges_are_between_two_people(org):
    kinds = (RankKind.TASK, RankKind.CONDITION)
    assert refused(lambda: orm_pair(EdgeType.RANK, org["worker"], org["a"], kinds=kinds))
    assert not refused(lambda: orm_pair(EdgeType.RANK, org["worker"], org["boss"], kinds=kinds))


def test_an_edge_cannot_end_before_it_starts(org):
    forward, _ = orm_pair(EdgeType.FUNCTION, org["a"], org["b"])
    past = forward.valid_from - timedelta(days=1)
    assert refused(lambda: RelationPair.objects.filter(pk=forward.pair_id).update(valid_to=past))
    assert refused(lambda: Edge.objects.filter(pair=forward.pair_id).update(valid_to=past))


def test_two_edges_in_the_same_direction_of_a_pair_are_refused(org):
    pair = RelationPair.objects.create(type=EdgeType.FUNCTION, valid_from=timezone.now())
    edges = [
        orm_edge(pair, Direction.FORWARD, org["a"], org["b"]),
        orm_edge(pair, Direction.FORWARD, org["b"], org["a"]),
    ]
    assert refused(lambda: Edge.objects.bulk_create(edges))


def test_org_rows_cannot_point_at_themselves(org):
    a, boss = org["a"], org["boss"]
    assert refused(lambda: Department.objects.filter(pk=a.pk).update(parent=a))
    assert refused(lambda: Employee.objects.filter(pk=boss.pk).update(manager=boss))


def test_a_workflow_step_has_exactly_one_owner(org):
    wf = WorkflowFactory()
    assert refused(
        lambda: WorkflowStep.objects.create(
            workflow=wf, position=1, name="x", owner_department=org["a"], owner_employee=org["boss"]
        )
    )
    assert refused(lambda: WorkflowStep.objects.create(workflow=wf, position=1, name="x"))


# --- The pair trigger (PostgreSQL) --------------------------------------------------------
# A check constraint sees one row; the pair rules span two. On PostgreSQL the statement
# trigger of migration 0002 refuses a statement that leaves a pair unmirrored. SQLite has no
# statement triggers: there the same write goes through and the invariant check must catch it,
# so the test still fails if either safety net has a hole.


def refused_by_database_or_caught(write) -> None:
    if connection.vendor == "postgresql":
        assert refused(write)
        assert_graph_invariants()
    else:
        write()
        with pytest.raises(AssertionError):
            assert_graph_invariants()


def test_moving_one_edge_of_a_pair_is_refused(org):
    forward, _ = orm_pair(EdgeType.FUNCTION, org["a"], org["b"])
    c = DepartmentFactory()
    refused_by_database_or_caught(
        lambda: Edge.objects.filter(pk=forward.pk).update(customer_department=c)
    )


def test_changing_the_type_of_one_edge_is_refused(org):
    forward, _ = orm_pair(EdgeType.FUNCTION, org["a"], org["b"])
    refused_by_database_or_caught(
        lambda: Edge.objects.filter(pk=forward.pk).update(type=EdgeType.WORKFLOW)
    )


@pytest.mark.parametrize("direction", [Direction.FORWARD, Direction.REVERSE])
def test_retiring_only_one_edge_of_a_pair_is_refused(org, direction):
    forward, _ = orm_pair(EdgeType.FUNCTION, org["a"], org["b"])
    refused_by_database_or_caught(
        lambda: Edge.objects.filter(pair=forward.pair_id, direction=direction).update(
            valid_to=timezone.now()
        )
    )


def test_retiring_edges_without_their_pair_is_refused(org):
    forward, _ = orm_pair(EdgeType.FUNCTION, org["a"], org["b"])
    refused_by_database_or_caught(
        lambda: Edge.objects.filter(pair=forward.pair_id).update(valid_to=timezone.now())
    )


def test_retiring_the_pair_and_then_both_edges_is_accepted(org):
    forward, _ = orm_pair(EdgeType.FUNCTION, org["a"], org["b"])
    now = timezone.now()
    RelationPair.objects.filter(pk=forward.pair_id).update(valid_to=now)
    assert not refused(lambda: Edge.objects.filter(pair=forward.pair_id).update(valid_to=now))
    assert_graph_invariants()


def test_inserting_a_lone_edge_is_refused(org):
    def lone_edge():
        pair = RelationPair.objects.create(type=EdgeType.FUNCTION, valid_from=timezone.now())
        orm_edge(pair, Direction.FORWARD, org["a"], org["b"]).save()

    refused_by_database_or_caught(lone_edge)


def test_inserting_a_reverse_edge_that_does_not_mirror_is_refused(org):
    c = DepartmentFactory()

    def unmirrored_pair():
        pair = RelationPair.objects.create(type=EdgeType.FUNCTION, valid_from=timezone.now())
        Edge.objects.bulk_create(
            [
                orm_edge(pair, Direction.FORWARD, org["a"], org["b"]),
                orm_edge(pair, Direction.REVERSE, c, org["a"]),
            ]
        )

    refused_by_database_or_caught(unmirrored_pair)


def write_a_pair_in_two_statements(org) -> None:
    pair = RelationPair.objects.create(type=EdgeType.FUNCTION, valid_from=timezone.now())
    orm_edge(pair, Direction.FORWARD, org["a"], org["b"]).save()
    orm_edge(pair, Direction.REVERSE, org["b"], org["a"]).save()


@pytest.mark.postgresql  # the pair trigger of migration 0002
def test_adding_the_reverse_edge_in_a_second_statement_is_refused_on_postgresql(org):
    # The trigger checks after each statement: both edges of a pair go in one INSERT.
    assert refused(lambda: write_a_pair_in_two_statements(org))
    assert not RelationPair.objects.exists()


@pytest.mark.sqlite  # no statement triggers
def test_on_sqlite_a_pair_written_in_two_statements_is_accepted_and_well_formed(org):
    write_a_pair_in_two_statements(org)

    assert_graph_invariants()


@pytest.mark.postgresql  # the triggers of migration 0006 (edges are retired, never deleted)
def test_deleting_an_edge_or_pair_is_refused_on_postgresql(org):
    forward, _ = orm_pair(EdgeType.FUNCTION, org["a"], org["b"])

    assert refused(lambda: Edge.objects.filter(pk=forward.pk).delete())
    assert refused(lambda: RelationPair.objects.filter(pk=forward.pair_id)._raw_delete("default"))
    assert Edge.objects.filter(pair=forward.pair).count() == 2


@pytest.mark.sqlite  # test flushes use DELETE, so SQLite has no delete trigger
def test_on_sqlite_deleting_one_edge_of_a_pair_is_caught_by_the_invariant_checker(org):
    forward, _ = orm_pair(EdgeType.FUNCTION, org["a"], org["b"])

    Edge.objects.filter(pk=forward.pk).delete()

    with pytest.raises(AssertionError):
        assert_graph_invariants()
