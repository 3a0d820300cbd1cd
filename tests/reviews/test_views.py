import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from reviews import services
from reviews.models import Answer, RequestStatus, ReviewRequest
from reviews.tokens import make_request_token


@pytest.fixture
def seller_request(open_cycle, org):
    return ReviewRequest.objects.get(cycle=open_cycle, rater=org["seller"], edge_type="function")


def score_post(req, value="4", action="submit", **extra):
    data = {"action": action, "comment": "", "reason": "", **extra}
    for criterion in services.applicable_criteria(req.cycle, req.edge_type, req.rank_kind):
        data[f"score_{criterion.pk}"] = value
    return data


def test_inbox_lists_requests_by_provider_with_the_count_in_the_navigation(client, org, open_cycle):
    client.force_login(org["sales_head"].user)
    response = client.get(reverse("reviews:inbox"))
    assert response.status_code == 200
    body = response.content.decode()
    # 李销售 rates 王总 (condition), 张三 (task) and 商务部 (function): three groups.
    assert [g.provider for g in response.context["groups"]] == ["商务部", "张三", "王总"]
    assert "合同审核" in body
    assert response.context["reviews_inbox_count"] == 3
    assert 'id="nav-inbox"' in body


def test_inbox_needs_a_login(client, open_cycle):
    response = client.get(reverse("reviews:inbox"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_the_rater_submits_the_form_and_the_inbox_count_drops(client, org, seller_request):
    client.force_login(org["seller"].user)
    url = reverse("reviews:rate", args=[seller_request.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, score_post(seller_request, comment="准时"))
    assert response.status_code == 302
    seller_request.refresh_from_db()
    assert seller_request.status == RequestStatus.ANSWERED
    assert Answer.objects.get().comment == "准时"
    assert client.get(reverse("reviews:inbox")).context["reviews_inbox_count"] == 1


def test_a_double_post_stores_one_answer(client, org, seller_request):
    client.force_login(org["seller"].user)
    url = reverse("reviews:rate", args=[seller_request.pk])
    client.post(url, score_post(seller_request, "5"))
    client.post(url, score_post(seller_request, "5"))
    assert Answer.objects.count() == 1


def test_a_missing_score_shows_an_error_and_saves_nothing(client, org, seller_request):
    client.force_login(org["seller"].user)
    data = score_post(seller_request)
    data.pop(next(k for k in data if k.startswith("score_")))
    response = client.post(reverse("reviews:rate", args=[seller_request.pk]), data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Answer.objects.exists()


def test_save_draft_then_not_received(client, org, seller_request):
    client.force_login(org["seller"].user)
    url = reverse("reviews:rate", args=[seller_request.pk])
    response = client.post(url, {"action": "draft", "comment": "先保存"})
    assert response.status_code == 302
    seller_request.refresh_from_db()
    assert seller_request.status == RequestStatus.PENDING
    assert client.get(url).context["form"].initial["comment"] == "先保存"
    client.post(url, {"action": "submit", "not_received": "on", "reason": "没有合作"})
    seller_request.refresh_from_db()
    assert seller_request.status == RequestStatus.DECLINED


def test_someone_else_gets_a_404(client, org, seller_request):
    client.force_login(org["ceo"].user)
    url = reverse("reviews:rate", args=[seller_request.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, score_post(seller_request)).status_code == 404
    assert not Answer.objects.exists()


def test_after_the_deadline_the_form_says_the_cycle_is_closed(client, org, seller_request):
    client.force_login(org["seller"].user)
    url = reverse("reviews:rate", args=[seller_request.pk])
    with time_machine.travel(seller_request.cycle.deadline + dt.timedelta(hours=1)):
        response = client.get(url)
        assert response.context["closed"] is True
        assert "form" not in response.context
        client.post(url, score_post(seller_request))
    assert not Answer.objects.exists()


def test_the_email_link_opens_the_form_after_login_as_the_rater(client, org, seller_request):
    token = make_request_token(seller_request.pk, seller_request.cycle_id)
    url = reverse("reviews:token", args=[token])
    response = client.get(url)
    assert response.status_code == 302 and reverse("login") in response["Location"]
    client.force_login(org["seller"].user)
    response = client.get(url)
    assert response["Location"] == reverse("reviews:rate", args=[seller_request.pk])


def test_the_email_link_lets_nobody_else_in(client, org, seller_request):
    client.force_login(org["ceo"].user)
    token = make_request_token(seller_request.pk, seller_request.cycle_id)
    assert client.get(reverse("reviews:token", args=[token])).status_code == 404


def test_a_token_for_another_cycle_or_altered_is_refused(client, org, seller_request):
    client.force_login(org["seller"].user)
    wrong_cycle = make_request_token(seller_request.pk, seller_request.cycle_id + 1)
    assert client.get(reverse("reviews:token", args=[wrong_cycle])).status_code == 404
    token = make_request_token(seller_request.pk, seller_request.cycle_id)
    altered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(reverse("reviews:token", args=[altered])).status_code == 404


def test_after_an_answer_the_next_request_opens_and_says_how_many_are_left(client, org, open_cycle):
    from django.contrib.messages import get_messages

    head = org["sales_head"]  # three requests: 商务部, 张三, 王总
    client.force_login(head.user)
    pending = list(
        ReviewRequest.objects.filter(cycle=open_cycle, rater=head).order_by("provider_name", "id")
    )
    first, *rest = [r for r in pending if r.provider_name == "商务部"] + [
        r for r in pending if r.provider_name != "商务部"
    ]
    response = client.post(reverse("reviews:rate", args=[first.pk]), score_post(first))
    assert response["Location"] == reverse("reviews:rate", args=[rest[0].pk])
    assert "2 more to rate" in str(list(get_messages(response.wsgi_request))[-1])
    for req in rest[:-1]:
        client.post(reverse("reviews:rate", args=[req.pk]), score_post(req))
    last = client.post(reverse("reviews:rate", args=[rest[-1].pk]), score_post(rest[-1]))
    assert last["Location"] == reverse("reviews:inbox")
    assert "That was the last one" in str(list(get_messages(last.wsgi_request))[-1])


def test_the_inbox_marks_a_saved_draft(client, org, seller_request):
    client.force_login(org["seller"].user)
    inbox = reverse("reviews:inbox")
    assert "icr-draft" not in client.get(inbox).content.decode()
    client.post(reverse("reviews:rate", args=[seller_request.pk]), {"action": "draft"})
    html = client.get(inbox).content.decode()
    assert html.count("icr-draft") == 1 and "Continue" in html


def test_a_score_beside_not_received_is_refused_not_dropped(client, org, seller_request):
    client.force_login(org["seller"].user)
    data = score_post(seller_request, not_received="on", reason="没有合作")
    response = client.post(reverse("reviews:rate", args=[seller_request.pk]), data)
    assert response.status_code == 200
    assert "did not receive this service" in str(response.context["form"].errors["not_received"])
    assert not Answer.objects.exists()


def test_each_criterion_is_one_row_of_five_choices_and_the_reason_follows_the_tick(
    client, org, seller_request
):
    client.force_login(org["seller"].user)
    html = client.get(reverse("reviews:rate", args=[seller_request.pk])).content.decode()
    criteria = services.applicable_criteria(
        seller_request.cycle, seller_request.edge_type, seller_request.rank_kind
    )
    assert html.count('role="radiogroup"') == len(criteria)
    assert html.count('class="btn-check"') == 5 * len(criteria)
    assert "data-icr-not-received" in html and "data-icr-reason" in html
    # The anonymity note comes before the first question.
    assert html.index('id="anonymity-note"') < html.index('role="radiogroup"')
