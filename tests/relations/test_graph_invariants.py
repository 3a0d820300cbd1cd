"""The invariant checker notices a broken graph, so tests that rely on it can fail.

Each test breaks one rule with a direct write the database allows on both backends (the writes
it refuses are in test_db_constraints.py) and expects `assert_graph_invariants()` to say which.
"""

import pytest
from django.utils import timezone

from relations import services
from relations.models import Department, Edge, EdgeType, Employee, RelationPair
from relations.services import End, PairSpec
from tests.factories import WorkflowFactory
from tests.relations.invariants import assert_graph_invariants


def broken(match: str):
    return pytest.raises(AssertionError, match=match)


def test_a_consistent_company_passes(company):
    services.create_pair(EdgeType.FUNCTION, company["sales"], company["commerce"])
    services.create_pair(EdgeType.PROCESS, company["commerce"], company["hq"])  # set by HR
    services.set_workflow_steps(WorkflowFactory(), [("a", company["hq"]), ("b", company["sales"])])
    assert assert_graph_invariants() == Edge.objects.count() == 2 * 6


def test_a_manager_changed_without_syncing_the_rank_edges(company):
    Employee.objects.filter(pk=company["seller"].pk).update(manager=company["commerce_head"])
    with broken("rank edges do not match the reporting line"):
        assert_graph_invariants()


def test_a_rank_pair_nobody_reports_along(company):
    ceo, commerce_head = company["ceo"], company["commerce_head"]
    services.create_pairs(
        [PairSpec(type=EdgeType.RANK, provider=End.of(ceo), customer=End.of(commerce_head))]
    )
    with broken("extra"):
        assert_graph_invariants()


def test_a_leaver_with_active_edges(company):
    Employee.objects.filter(pk=company["seller"].pk).update(active=False)
    with broken("leaver"):
        assert_graph_invariants()


def test_a_closed_department_with_active_edges(company):
    services.create_pair(EdgeType.FUNCTION, company["sales"], company["commerce"])
    Department.objects.filter(pk=company["sales"].pk).update(active=False)
    with broken("inactive dept"):
        assert_graph_invariants()


def test_workflow_steps_changed_without_syncing_the_process_edges(company):
    wf = WorkflowFactory()
    services.set_workflow_steps(wf, [("a", company["hq"]), ("b", company["sales"])])
    wf.steps.filter(position=2).update(owner_department=company["commerce"])
    with broken("process edges do not match workflow steps"):
        assert_graph_invariants()


def test_a_workflow_process_pair_its_steps_do_not_make(company):
    spec = PairSpec(
        type=EdgeType.PROCESS,
        provider=End.of(company["hq"]),
        customer=End.of(company["sales"]),
        workflow_id=WorkflowFactory().pk,
    )
    services.create_pairs([spec])
    with broken("process edges"):
        assert_graph_invariants()


def test_deleted_edges(company):
    count = assert_graph_invariants()
    # Fewer edges than before is caught whoever removed them; on PostgreSQL the database
    # refuses the delete itself (tests/relations/test_db_constraints.py), so pretend here.
    with broken("edges were deleted"):
        assert_graph_invariants(previous_edge_count=count + 2)


def test_a_pair_retired_without_its_edges(company):
    # The PostgreSQL trigger watches edges only: a write to the pair row alone slips past it.
    RelationPair.objects.filter(type=EdgeType.RANK).update(valid_to=timezone.now())
    with broken("valid_to differs"):
        assert_graph_invariants()


def test_a_pair_without_edges(company):
    RelationPair.objects.create(type=EdgeType.FUNCTION, valid_from=timezone.now())
    with broken("pairs without edges"):
        assert_graph_invariants()


def test_a_cycle_in_the_department_tree(company):
    # A two-step cycle: each row alone passes the "not own parent" check constraint.
    Department.objects.filter(pk=company["hq"].pk).update(parent=company["sales"])
    with broken("department tree"):
        assert_graph_invariants()


def test_a_cycle_in_the_reporting_line(company):
    Employee.objects.filter(pk=company["ceo"].pk).update(manager=company["seller"])
    with broken("reporting line"):
        assert_graph_invariants()
