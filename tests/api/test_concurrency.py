"""Retries arriving at once: the database keeps one hand-off per key and one stored response."""

import threading

import pytest
from django.db import connection
from django.test import Client

from api.models import IdempotencyRecord, Scope
from reviews.models import Handoff

from .conftest import Api, make_token

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def _at_once(count, send):
    barrier = threading.Barrier(count)
    statuses = []

    def run():
        try:
            barrier.wait()
            statuses.append(send())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


def test_the_same_handoff_sent_eight_times_at_once_is_one_row():
    _token, secret = make_token(Scope.WRITE_EVENTS)
    body = {"workflow": "ORDER", "provider_department": "OPS", "receiver": "E1"}
    statuses = _at_once(
        8, lambda: Api(Client(), secret).post("/handoffs/", body, key="same").status_code
    )
    assert statuses == [200] * 7 + [202]
    assert Handoff.objects.filter(client_key="same").count() == 1


def test_the_same_write_sent_eight_times_at_once_runs_once():
    _token, secret = make_token(Scope.WRITE_ORG)
    document = {"departments": [], "employees": [], "dry_run": False}
    responses = _at_once(
        8, lambda: Api(Client(), secret).post("/org/sync", document, key="k").status_code
    )
    # An empty document is refused (422) the first time; the refusal is what the key keeps.
    assert responses == [422] * 8
    assert IdempotencyRecord.objects.filter(key="k").count() == 1
