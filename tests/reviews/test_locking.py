"""Answers and closing under the database's locks, with two real connections.

On PostgreSQL a submission locks its request and only share-locks the cycle, so answers to
different requests go on side by side; closing takes the cycle FOR UPDATE, so it waits for
answers being written, and an answer that waited for a close sees the cycle closed. SQLite runs
one writing transaction at a time: there the second answer waits too, the rest holds the same.
Each "other session" runs in its own thread (its own connection) with a short lock wait, so
waiting shows as an error instead of a hang.
"""

import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from reviews import services
from reviews.models import Answer, CycleStatus, ReviewRequest

pytestmark = pytest.mark.django_db(transaction=True)


def scores_for(request):
    return {
        c.pk: 4
        for c in services.applicable_criteria(request.cycle, request.edge_type, request.rank_kind)
    }


def in_other_session(work):
    """Run `work` in another thread and connection, with a short lock_timeout; its outcome."""
    outcome = {}

    def run():
        try:
            if connection.vendor == "sqlite":
                # Before BEGIN IMMEDIATE, which is where SQLite waits for the write lock.
                with connection.cursor() as cursor:
                    cursor.execute("PRAGMA busy_timeout = 300")
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL lock_timeout = '300ms'")
                outcome["value"] = work()
        except Exception as exc:  # the outcome is what the test looks at
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return outcome


@pytest.fixture
def two_requests(open_cycle):
    requests = list(
        ReviewRequest.objects.select_related("cycle").filter(cycle=open_cycle).order_by("id")[:2]
    )
    assert len(requests) == 2
    return requests


@pytest.mark.postgresql  # a submission locks its own request and only share-locks the cycle
def test_answers_to_two_requests_do_not_wait_for_each_other_on_postgresql(two_requests):
    first, second = two_requests
    with transaction.atomic():
        services.submit_answer(first, scores=scores_for(first))
        # The first answer is not committed yet; the second goes through meanwhile.
        outcome = in_other_session(
            lambda: services.submit_answer(second, scores=scores_for(second))
        )
    assert "error" not in outcome, outcome.get("error")
    assert Answer.objects.filter(cycle=first.cycle, submitted=True).count() == 2


@pytest.mark.sqlite  # one writing transaction at a time
def test_on_sqlite_a_second_answer_waits_for_the_first_and_goes_through_when_sent_again(
    two_requests,
):
    first, second = two_requests
    with transaction.atomic():
        services.submit_answer(first, scores=scores_for(first))
        outcome = in_other_session(
            lambda: services.submit_answer(second, scores=scores_for(second))
        )
    assert isinstance(outcome.get("error"), OperationalError)
    services.submit_answer(second, scores=scores_for(second))
    assert Answer.objects.filter(cycle=first.cycle, submitted=True).count() == 2


def test_closing_waits_for_an_answer_being_written(two_requests):
    first, _second = two_requests
    with transaction.atomic():
        services.submit_answer(first, scores=scores_for(first))
        outcome = in_other_session(lambda: services.close_cycle(first.cycle))
    assert isinstance(outcome.get("error"), OperationalError)  # lock_timeout: it had to wait
    first.cycle.refresh_from_db()
    assert first.cycle.status == CycleStatus.OPEN
    # Once the answer is in, closing goes through and the answer is part of what it froze.
    services.close_cycle(first.cycle)
    assert Answer.objects.filter(cycle=first.cycle, submitted=True).count() == 1


def test_an_answer_waits_for_closing_and_then_finds_the_cycle_closed(two_requests):
    first, _second = two_requests
    with transaction.atomic():
        services.close_cycle(first.cycle)
        waited = in_other_session(lambda: services.submit_answer(first, scores=scores_for(first)))
    assert isinstance(waited.get("error"), OperationalError)
    with pytest.raises(services.ReviewError):
        services.submit_answer(first, scores=scores_for(first))
    assert not Answer.objects.filter(cycle=first.cycle).exists()


def test_a_second_answer_to_the_same_request_waits_and_then_replaces_the_first(two_requests):
    first, _second = two_requests
    with transaction.atomic():
        services.submit_answer(first, scores=scores_for(first))
        # Another tab declines the same request meanwhile: it waits for the first answer.
        waited = in_other_session(lambda: services.submit_answer(first, not_received=True))
    assert isinstance(waited.get("error"), OperationalError)
    services.submit_answer(first, not_received=True)
    answer = Answer.objects.get(cycle=first.cycle)
    assert answer.not_received and not answer.scores.exists()
