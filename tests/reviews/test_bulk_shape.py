"""The shape for million-row cycles (no per-row FK checks) keeps integrity and few queries."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from reviews import services
from reviews.models import Answer, AnswerScore, ReviewRequest


@pytest.fixture
def request_of_seller(open_cycle, org):
    return ReviewRequest.objects.select_related("cycle").get(
        cycle=open_cycle, rater=org["seller"], edge_type="function"
    )


def full_scores(request):
    return {
        c.pk: 4
        for c in services.applicable_criteria(request.cycle, request.edge_type, request.rank_kind)
    }


def test_an_employee_who_has_requests_cannot_be_deleted(request_of_seller, org):
    with pytest.raises(ProtectedError):
        org["seller"].delete()
    if connection.vendor == "postgresql":
        # Also behind Django's back: the database refuses (reviews 0004 trigger).
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM relations_employee WHERE id = %s", [org["seller"].pk])
    assert ReviewRequest.objects.filter(rater=org["seller"]).exists()


def test_a_cycle_that_has_requests_cannot_be_deleted(open_cycle):
    with pytest.raises(ProtectedError):
        open_cycle.delete()
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM reviews_cycle WHERE id = %s", [open_cycle.pk])
    assert ReviewRequest.objects.filter(cycle=open_cycle).exists()


def test_a_submission_takes_a_fixed_small_number_of_queries(
    request_of_seller, django_assert_num_queries
):
    criteria = services.applicable_criteria(
        request_of_seller.cycle, request_of_seller.edge_type, request_of_seller.rank_kind
    )
    scores = full_scores(request_of_seller)
    # Lock (request and cycle), then the write (+ savepoint pair of the test's own transaction).
    # On PostgreSQL the write is one statement; on SQLite: insert the answer, insert its
    # scores, mark the request.
    postgresql = connection.vendor == "postgresql"
    with django_assert_num_queries(4 if postgresql else 6):
        services.submit_answer(request_of_seller, scores=scores, criteria=criteria)
    # Again (a replay): the answer is updated and its scores replaced (on SQLite the old
    # ones deleted first), still one statement on PostgreSQL.
    with django_assert_num_queries(4 if postgresql else 7):
        services.submit_answer(request_of_seller, scores=scores, criteria=criteria)
    assert Answer.objects.filter(cycle=request_of_seller.cycle).count() == 1
    assert AnswerScore.objects.count() == len(scores)
