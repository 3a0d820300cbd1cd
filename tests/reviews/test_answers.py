import datetime as dt

import pytest
import time_machine

from reviews import services
from reviews.models import (
    Answer,
    AnswerScore,
    Criterion,
    RequestStatus,
    ResponseRate,
    ReviewRequest,
    answer_key,
)


def full_scores(request):
    return {
        c.pk: 4
        for c in services.applicable_criteria(request.cycle, request.edge_type, request.rank_kind)
    }


@pytest.fixture
def request_of_seller(open_cycle, org):
    return ReviewRequest.objects.select_related("cycle").get(
        cycle=open_cycle, rater=org["seller"], edge_type="function"
    )


def test_the_cycle_uses_the_default_criteria(open_cycle):
    # Four for every type, then four for each rank direction (task and condition customer).
    assert [c.code for c in open_cycle.criteria.order_by("order")][:4] == [
        "quality",
        "timeliness",
        "responsiveness",
        "communication",
    ]
    assert open_cycle.criteria.count() == 12
    assert Criterion.objects.get(code="quality").name_zh == "服务质量"


def test_submitting_marks_the_request_answered_and_stores_scores(request_of_seller):
    answer = services.submit_answer(
        request_of_seller, scores=full_scores(request_of_seller), comment="很好"
    )
    request_of_seller.refresh_from_db()
    assert request_of_seller.status == RequestStatus.ANSWERED
    assert request_of_seller.answered_at is not None
    assert answer.submitted and answer.comment == "很好"
    assert sorted(answer.scores.values_list("score", flat=True)) == [4, 4, 4, 4]
    assert answer.provider_department_id == request_of_seller.provider_department_id


def test_a_replayed_submission_stores_one_answer(request_of_seller):
    for score in (3, 5, 5):
        services.submit_answer(
            request_of_seller, scores={k: score for k in full_scores(request_of_seller)}
        )
    assert Answer.objects.count() == 1
    assert AnswerScore.objects.count() == 4
    assert set(AnswerScore.objects.values_list("score", flat=True)) == {5}


def test_an_answer_does_not_carry_the_rater(request_of_seller, settings):
    answer = services.submit_answer(request_of_seller, scores=full_scores(request_of_seller))
    columns = {f.column for f in Answer._meta.concrete_fields}
    assert not {"rater_id", "request_id", "created_at", "updated_at", "answered_at"} & columns
    # The key is an HMAC of the request id: a different secret gives a different key, so a
    # reader of the database without the secret cannot recompute which request it belongs to.
    assert answer.key == answer_key(request_of_seller.pk)
    settings.ICR_ANSWER_KEY_SECRET = "another secret"
    assert answer_key(request_of_seller.pk) != answer.key
    assert services.current_answer(request_of_seller) is None


def test_a_draft_leaves_the_request_pending_and_can_be_submitted_later(request_of_seller):
    first = next(iter(full_scores(request_of_seller)))
    services.submit_answer(request_of_seller, scores={first: 2}, draft=True)
    request_of_seller.refresh_from_db()
    assert request_of_seller.status == RequestStatus.PENDING
    assert services.current_answer(request_of_seller).submitted is False
    services.submit_answer(request_of_seller, scores=full_scores(request_of_seller))
    assert Answer.objects.get().submitted is True


def test_submitting_needs_every_score(request_of_seller):
    first = next(iter(full_scores(request_of_seller)))
    with pytest.raises(services.ReviewError):
        services.submit_answer(request_of_seller, scores={first: 2})
    assert not Answer.objects.exists()


def test_scores_outside_one_to_five_are_refused(request_of_seller):
    with pytest.raises(services.ReviewError):
        services.submit_answer(
            request_of_seller, scores={k: 6 for k in full_scores(request_of_seller)}
        )


def test_not_received_declines_with_a_reason_and_no_scores(request_of_seller):
    answer = services.submit_answer(
        request_of_seller, not_received=True, reason="本季度没有合作", scores={1: 5}
    )
    request_of_seller.refresh_from_db()
    assert request_of_seller.status == RequestStatus.DECLINED
    assert answer.not_received and answer.reason == "本季度没有合作"
    assert not answer.scores.exists()


def test_changing_an_answer_replaces_its_scores_whatever_was_given_before(request_of_seller):
    scores = full_scores(request_of_seller)
    first, *rest = scores
    services.submit_answer(request_of_seller, scores={first: 2, rest[0]: 3}, draft=True)
    services.submit_answer(request_of_seller, scores={k: 5 for k in scores})
    assert dict(AnswerScore.objects.values_list("criterion_id", "score")) == {k: 5 for k in scores}
    # Declining afterwards leaves no score behind, and scoring again brings them all back.
    services.submit_answer(request_of_seller, not_received=True)
    assert not AnswerScore.objects.exists()
    request_of_seller.refresh_from_db()
    assert request_of_seller.status == RequestStatus.DECLINED
    services.submit_answer(request_of_seller, scores={k: 1 for k in scores})
    assert dict(AnswerScore.objects.values_list("criterion_id", "score")) == {k: 1 for k in scores}
    request_of_seller.refresh_from_db()
    assert request_of_seller.status == RequestStatus.ANSWERED
    assert Answer.objects.get().not_received is False


def test_an_answer_can_be_changed_until_the_deadline_but_not_after(request_of_seller):
    services.submit_answer(request_of_seller, scores=full_scores(request_of_seller))
    deadline = request_of_seller.cycle.deadline
    with time_machine.travel(deadline - dt.timedelta(minutes=1)):
        services.submit_answer(
            request_of_seller, scores={k: 1 for k in full_scores(request_of_seller)}
        )
    with (
        time_machine.travel(deadline + dt.timedelta(minutes=1)),
        pytest.raises(services.ReviewError, match="closed"),
    ):
        services.submit_answer(
            request_of_seller, scores={k: 5 for k in full_scores(request_of_seller)}
        )
    assert set(AnswerScore.objects.values_list("score", flat=True)) == {1}


def test_closing_drops_drafts_and_freezes_answers(open_cycle, org):
    requests = list(ReviewRequest.objects.filter(cycle=open_cycle).select_related("cycle"))
    services.submit_answer(requests[0], scores=full_scores(requests[0]))
    services.submit_answer(requests[1], scores={}, comment="draft", draft=True)
    (criterion, *_others) = full_scores(requests[2])
    services.submit_answer(requests[2], scores={criterion: 5}, draft=True)
    assert AnswerScore.objects.filter(answer__submitted=False).exists()
    summary = services.close_cycle(open_cycle)
    # The results are written in the closing transaction.
    assert ResponseRate.objects.filter(cycle=open_cycle).exists()
    assert summary.answered == 1
    assert list(Answer.objects.values_list("submitted", flat=True)) == [True]
    assert AnswerScore.objects.count() == len(full_scores(requests[0]))
    with pytest.raises(services.ReviewError):
        services.submit_answer(requests[0], scores=full_scores(requests[0]))
