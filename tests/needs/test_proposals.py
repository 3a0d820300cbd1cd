"""Relationships nobody wrote down: an employee proposes, HR accepts or declines in the admin."""

import pytest
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse

from needs import services
from needs.models import ProposalStatus, RelationshipProposal
from relations.models import Direction, Edge, EdgeType
from reviews.models import ReviewRequest
from tests.relations.invariants import assert_graph_invariants


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _propose(client, **data):
    return client.post(reverse("needs:propose"), data)


def test_an_employee_proposes_and_hr_s_acceptance_makes_a_pair_from_the_next_cycle(
    corp, cycles, hr_user
):
    seller = corp["people"]["E021"]
    edges_before = assert_graph_invariants()
    response = _propose(
        _client(seller.user),
        type=EdgeType.FUNCTION,
        my_end=f"dept:{corp['sales'].pk}",
        side="customer",
        other_department=corp["fin"].pk,
        service="客户开票",
        reverse_service="开票信息",
        note="每月都在做，但没有记录",
    )
    assert response.status_code == 302
    proposal = RelationshipProposal.objects.get()
    assert proposal.status == ProposalStatus.PENDING and proposal.proposer == seller
    assert (proposal.provider, proposal.customer) == (corp["fin"], corp["sales"])
    # A cycle already open asked its questions when it opened: the new pair is not in it.
    open_cycle = cycles.run(close=False, edge_types=[EdgeType.FUNCTION])

    admin = _client(hr_user)
    changelist = reverse("admin:needs_relationshipproposal_changelist")
    assert "客户开票" in admin.get(changelist).content.decode()
    # Only HR reaches it; HR cannot add proposals: they are the employees'.
    for user in (corp["heads"]["FIN"].user, seller.user):
        response = _client(user).get(changelist)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert admin.get(reverse("admin:needs_relationshipproposal_add")).status_code == 403
    admin.post(
        changelist,
        {"action": "accept_selected", "_selected_action": [proposal.pk]},
    )
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ACCEPTED and proposal.decided_by == hr_user
    forward = proposal.pair.edges.get(direction=Direction.FORWARD)
    reverse_edge = proposal.pair.edges.get(direction=Direction.REVERSE)
    assert (forward.provider, forward.customer, forward.service) == (
        corp["fin"],
        corp["sales"],
        "客户开票",
    )
    assert (reverse_edge.provider, reverse_edge.customer) == (corp["sales"], corp["fin"])
    assert reverse_edge.service == "开票信息"
    assert assert_graph_invariants(previous_edge_count=edges_before) == edges_before + 2

    assert not ReviewRequest.objects.filter(cycle=open_cycle, edge=forward).exists()
    from reviews import services as reviews

    reviews.close_cycle(open_cycle)
    next_cycle = cycles.run(close=False, edge_types=[EdgeType.FUNCTION])
    assert ReviewRequest.objects.filter(cycle=next_cycle, edge=forward).count() == 6
    # The proposer sees the decision.
    page = _client(seller.user).get(reverse("needs:mine")).content.decode()
    assert 'data-status="accepted"' in page


def test_hr_declines_with_a_note_and_nothing_changes_in_the_graph(corp, hr_user):
    proposal = services.propose_relationship(
        corp["people"]["E031"],
        edge_type=EdgeType.FUNCTION,
        provider=corp["fin"],
        customer=corp["ops_a"],
        service="预算核对",
    )
    edges = Edge.objects.count()
    admin = _client(hr_user)
    admin.post(
        reverse("admin:needs_relationshipproposal_change", args=[proposal.pk]),
        {"decision_note": "已由 预算 流程覆盖"},
    )
    admin.post(
        reverse("admin:needs_relationshipproposal_changelist"),
        {"action": "decline_selected", "_selected_action": [proposal.pk]},
    )
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.DECLINED and proposal.pair is None
    assert proposal.decision_note == "已由 预算 流程覆盖"
    assert Edge.objects.count() == edges
    with pytest.raises(services.NeedError):
        services.accept_proposal(proposal, user=hr_user)
    # The database refuses an accepted proposal without its pair.
    with pytest.raises(IntegrityError):
        RelationshipProposal.objects.filter(pk=proposal.pk).update(status=ProposalStatus.ACCEPTED)


def test_only_what_the_proposer_takes_part_in_may_be_proposed(corp):
    seller = corp["people"]["E021"]
    with pytest.raises(services.NeedError, match="take part"):
        services.propose_relationship(
            seller,
            edge_type=EdgeType.FUNCTION,
            provider=corp["fin"],
            customer=corp["ops"],
            service="x",
        )
    # Through the page: a department that is not theirs is not a choice.
    response = _propose(
        _client(seller.user),
        type=EdgeType.FUNCTION,
        my_end=f"dept:{corp['fin'].pk}",
        side="provider",
        other_department=corp["ops"].pk,
        service="x",
    )
    assert response.status_code == 400 and not RelationshipProposal.objects.exists()
    # As a person: fine.
    services.propose_relationship(
        seller,
        edge_type=EdgeType.PROCESS,
        provider=seller,
        customer=corp["people"]["E031"],
        service="签好的合同",
    )
    with pytest.raises(services.NeedError, match="reporting line"):
        services.propose_relationship(
            seller,
            edge_type=EdgeType.RANK,
            provider=seller,
            customer=corp["heads"]["SALES"],
            service="x",
        )
    with pytest.raises(services.NeedError, match="already exists"):
        services.propose_relationship(
            seller,
            edge_type=EdgeType.FUNCTION,
            provider=corp["ops"],
            customer=corp["sales"],
            service="x",
        )
    services.propose_relationship(
        seller,
        edge_type=EdgeType.FUNCTION,
        provider=corp["fin"],
        customer=corp["sales"],
        service="x",
    )
    with pytest.raises(services.NeedError, match="already proposed"):
        services.propose_relationship(
            corp["people"]["E022"],
            edge_type=EdgeType.FUNCTION,
            provider=corp["fin"],
            customer=corp["sales"],
            service="y",
        )


def test_acceptance_that_the_graph_refuses_leaves_the_proposal_pending(corp, hr_user):
    from relations import services as graph

    proposal = services.propose_relationship(
        corp["people"]["E021"],
        edge_type=EdgeType.FUNCTION,
        provider=corp["fin"],
        customer=corp["sales"],
        service="x",
    )
    graph.create_pair(EdgeType.FUNCTION, corp["fin"], corp["sales"], service="HR 先建了")
    with pytest.raises(services.NeedError, match="already exists"):
        services.accept_proposal(proposal, user=hr_user)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING and proposal.pair is None
