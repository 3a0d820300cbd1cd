"""Service commitments: what a provider owes along a relationship, written by the providing
department's head or HR, shown to raters on the rating form."""

import pytest
from django.urls import reverse

from relations.models import Edge, EdgeType
from reviews import services
from reviews.models import Criterion, ReviewRequest, ServiceCommitment


@pytest.fixture
def contract_review(org):
    """商务部 provides 合同审核 to 销售部 (the forward edge of the function pair)."""
    return Edge.objects.get(
        type=EdgeType.FUNCTION,
        provider_department=org["commerce"],
        customer_department=org["sales"],
    )


def _post(client, edge, **data):
    payload = {"deliverable": "合同审核", "due": "2 个工作日内", "standard": "", "active": "on"}
    payload.update(data)
    return client.post(reverse("reviews:commitment_add", args=[edge.pk]), payload)


def test_the_providing_departments_head_writes_a_commitment(client, org, contract_review):
    timeliness = Criterion.objects.get(code="timeliness")
    client.force_login(org["commerce_head"].user)
    page = client.get(reverse("reviews:commitments"))
    assert page.status_code == 200
    assert [e.pk for e in page.context["edges"]] == [contract_review.pk]
    response = _post(client, contract_review, criterion=str(timeliness.pk))
    assert response.status_code == 302, response.content.decode()[:2000]
    commitment = ServiceCommitment.objects.get()
    assert commitment.text == "合同审核 · 2 个工作日内"
    assert commitment.criterion == timeliness
    assert commitment.created_by == org["commerce_head"].user
    assert commitment.history.count() == 1  # audited
    assert "合同审核 · 2 个工作日内" in client.get(reverse("reviews:commitments")).content.decode()


def test_another_departments_head_can_neither_see_nor_write_its_commitments(
    client, org, contract_review
):
    commitment = services.save_commitment(
        user=org["commerce_head"].user, edge=contract_review, deliverable="合同审核"
    )
    client.force_login(org["sales_head"].user)  # heads 销售部, the customer
    listing = client.get(reverse("reviews:commitments"))
    assert contract_review.pk not in [e.pk for e in listing.context["edges"]]
    assert _post(client, contract_review, deliverable="改写").status_code == 404
    edit = reverse("reviews:commitment_edit", args=[contract_review.pk, commitment.pk])
    assert client.get(edit).status_code == 404
    assert client.post(edit, {"deliverable": "改写", "active": "on"}).status_code == 404
    with pytest.raises(services.ReviewError):
        services.save_commitment(
            user=org["sales_head"].user,
            edge=contract_review,
            deliverable="改写",
            commitment=commitment,
        )
    commitment.refresh_from_db()
    assert commitment.deliverable == "合同审核"


def test_an_employee_who_heads_nothing_has_no_commitments_page(client, org, contract_review):
    client.force_login(org["seller"].user)
    assert client.get(reverse("reviews:commitments")).status_code == 404
    assert _post(client, contract_review).status_code == 404


def test_the_head_above_and_hr_may_write_them_too(client, org, contract_review, hr_user):
    ceo = org["ceo"].user  # heads 总部, above 商务部
    assert services.may_write_commitments(ceo, contract_review)
    client.force_login(hr_user)
    assert _post(client, contract_review).status_code == 302
    commitment = ServiceCommitment.objects.get()
    edit = reverse("reviews:commitment_edit", args=[contract_review.pk, commitment.pk])
    client.force_login(ceo)
    response = client.post(edit, {"deliverable": "合同审核", "due": "1 个工作日内"})
    assert response.status_code == 302
    commitment.refresh_from_db()
    assert commitment.due == "1 个工作日内" and not commitment.active


def test_rank_relationships_and_foreign_criteria_are_refused(org, contract_review):
    rank = Edge.objects.filter(type=EdgeType.RANK).first()
    with pytest.raises(services.ReviewError):
        services.save_commitment(user=org["ceo"].user, edge=rank, deliverable="每周面谈")
    task_only = Criterion.objects.get(code="task_results")
    with pytest.raises(services.ReviewError):
        services.save_commitment(
            user=org["commerce_head"].user,
            edge=contract_review,
            deliverable="合同审核",
            criterion=task_only,
        )
    assert not ServiceCommitment.objects.exists()


def test_an_empty_commitment_is_refused_by_the_database_too(contract_review):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceCommitment.objects.create(edge=contract_review, deliverable="")


def test_the_rating_form_shows_the_commitments_and_the_criterion_tied_to_one(
    client, org, contract_review, open_cycle
):
    timeliness = Criterion.objects.get(code="timeliness")
    services.save_commitment(
        user=org["commerce_head"].user,
        edge=contract_review,
        deliverable="合同审核",
        due="2 个工作日内完成",
        criterion=timeliness,
    )
    services.save_commitment(
        user=org["commerce_head"].user, edge=contract_review, deliverable="旧承诺", active=False
    )
    req = ReviewRequest.objects.get(cycle=open_cycle, rater=org["seller"], edge=contract_review)
    client.force_login(org["seller"].user)
    page = client.get(reverse("reviews:rate", args=[req.pk]))
    body = page.content.decode()
    assert 'id="commitments"' in body and "合同审核 · 2 个工作日内完成" in body
    assert "旧承诺" not in body
    assert "Commitment: 合同审核 · 2 个工作日内完成" in body
    # Shown under the tied criterion only.
    fieldset = body.split(f'name="score_{timeliness.pk}"')[0].rsplit("<fieldset", 1)[1]
    assert "Commitment:" in fieldset
    zh = client.get(reverse("reviews:rate", args=[req.pk]), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert "服务方的承诺" in zh.content.decode()
    assert "承诺：合同审核 · 2 个工作日内完成" in zh.content.decode()


def test_hr_manages_commitments_in_the_admin(client, hr_user, contract_review):
    client.force_login(hr_user)
    response = client.post(
        reverse("admin:reviews_servicecommitment_add"),
        {"edge": contract_review.pk, "deliverable": "合同审核", "due": "", "standard": ""},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ServiceCommitment.objects.get().created_by == hr_user
    listing = client.get(reverse("admin:reviews_servicecommitment_changelist"))
    assert listing.status_code == 200 and "合同审核" in listing.content.decode()
