"""Hand-offs: accepted once per key, sampled and spaced per type, asked on the person's
channel (e-mail), and never asked twice for one rater and relationship in an interval."""

import datetime as dt

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from reviews import handoffs, services
from reviews.models import (
    Cycle,
    CycleKind,
    Handoff,
    HandoffOutcome,
    HandoffPolicy,
    NotificationKind,
    NotificationLog,
    ReviewRequest,
)


def _workflow_handoff(line, receiver, ref="T-1"):
    return {
        "workflow": "ORDER",
        "provider_department": "OPS",
        "receiver": receiver.employee_id,
        "external_ref": ref,
    }


def test_a_handoff_is_accepted_once_per_key(api_client, line):
    body = _workflow_handoff(line, line["seller"])
    first = api_client.post("/handoffs/", body, key="k-1")
    again = api_client.post("/handoffs/", body, key="k-1")
    assert first.status_code == 202 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Handoff.objects.count() == 1


def test_a_key_reused_for_another_handoff_is_refused(api_client, line):
    api_client.post("/handoffs/", _workflow_handoff(line, line["seller"]), key="k-1")
    response = api_client.post("/handoffs/", _workflow_handoff(line, line["sales_head"]), key="k-1")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert Handoff.objects.count() == 1


def test_a_handoff_without_a_key_or_a_receiver_is_a_problem(api_client, line):
    assert api_client.post("/handoffs/", _workflow_handoff(line, line["seller"])).status_code == 400
    body = _workflow_handoff(line, line["seller"])
    del body["receiver"]
    response = api_client.post("/handoffs/", body, key="k-2")
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/receiver"


def test_a_handoff_becomes_a_rating_request_by_email(
    api_client, line, django_capture_on_commit_callbacks
):
    api_client.post("/handoffs/", _workflow_handoff(line, line["seller"]), key="k-1")
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.process_handoffs()
    assert counts[HandoffOutcome.ASKED] == 1
    handoff = Handoff.objects.get()
    request = ReviewRequest.objects.get(pk=handoff.request_id)
    assert request.rater == line["seller"]
    assert request.edge_id == line["edge"].pk
    assert request.cycle.kind == CycleKind.HANDOFFS
    log = NotificationLog.objects.get(kind=NotificationKind.HANDOFF)
    assert log.offset == request.pk
    (message,) = mail.outbox
    assert message.to == [line["seller"].email]
    assert "运营部" in message.body
    assert api_client.get(f"/handoffs/{handoff.pk}").json()["outcome"] == "asked"


def test_a_process_handoff_at_a_step_finds_the_process_relationship(api_client, line):
    body = {
        "step_id": line["step"].pk,
        "provider_employee": line["operator"].employee_id,
        "receiver": line["seller"].employee_id,
    }
    api_client.post("/handoffs/", body, key="p-1")
    services.process_handoffs()
    request = ReviewRequest.objects.get(pk=Handoff.objects.get().request_id)
    assert request.edge_type == "process"
    assert request.provider_employee == line["operator"]


def test_unknown_people_and_missing_relationships_are_recorded_not_asked(api_client, line):
    api_client.post(
        "/handoffs/", {**_workflow_handoff(line, line["seller"]), "receiver": "NOPE"}, key="a"
    )
    # 商务部 has no workflow relationship with 运营部.
    api_client.post("/handoffs/", _workflow_handoff(line, line["commerce_head"]), key="b")
    services.process_handoffs()
    outcomes = dict(Handoff.objects.values_list("client_key", "outcome"))
    assert outcomes == {"a": HandoffOutcome.UNKNOWN, "b": HandoffOutcome.NO_RELATIONSHIP}
    assert not ReviewRequest.objects.exists()


def test_spacing_asks_once_per_rater_and_relationship_per_interval(api_client, line):
    for i in range(3):
        api_client.post(
            "/handoffs/", _workflow_handoff(line, line["seller"], f"T-{i}"), key=f"k{i}"
        )
    api_client.post("/handoffs/", _workflow_handoff(line, line["sales_head"]), key="other")
    counts = services.process_handoffs()
    assert counts[HandoffOutcome.ASKED] == 2
    assert counts[HandoffOutcome.SPACED] == 2
    # A later batch in the same interval asks nobody again.
    api_client.post("/handoffs/", _workflow_handoff(line, line["seller"], "T-9"), key="k9")
    assert services.process_handoffs()[HandoffOutcome.SPACED] == 1
    assert ReviewRequest.objects.filter(rater=line["seller"]).count() == 1


def test_the_database_refuses_a_second_request_in_one_interval(line):
    now = timezone.now()
    cycle = handoffs.period_cycle(now)
    other = handoffs.period_cycle(now + dt.timedelta(days=40))
    assert cycle.pk != other.pk
    fields = {
        "edge_id": line["edge"].pk,
        "rater": line["seller"],
        "rater_name": "x",
        "rater_department_name": "x",
        "edge_type": "workflow",
        "rank_kind": "",
        "provider_name": "x",
        "provider_department_name": "x",
        "customer_name": "x",
        "customer_department_name": "x",
        "spacing_bucket": 7,
    }
    ReviewRequest.objects.create(cycle=cycle, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewRequest.objects.create(cycle=other, **fields)


def test_one_period_is_opened_once(line):
    now = timezone.now()
    assert handoffs.period_cycle(now).pk == handoffs.period_cycle(now).pk
    with pytest.raises(IntegrityError), transaction.atomic():
        Cycle.objects.create(
            name="again",
            kind=CycleKind.HANDOFFS,
            period_start=Cycle.objects.get().period_start,
            period_end=Cycle.objects.get().period_end,
            deadline=now + dt.timedelta(days=9),
        )


def test_sampling_follows_the_types_probability(api_client, line):
    HandoffPolicy.objects.create(edge_type="workflow", probability=0.0, spacing_days=1)
    api_client.post("/handoffs/", _workflow_handoff(line, line["seller"]), key="k")
    assert services.process_handoffs()[HandoffOutcome.NOT_SAMPLED] == 1
    assert not ReviewRequest.objects.exists()


def test_the_sampled_share_is_near_the_probability():
    asked = sum(handoffs.sampled(i, 0.3) for i in range(1, 4001))
    assert 1000 < asked < 1400
    assert handoffs.sampled(17, 0.3) == handoffs.sampled(17, 0.3)


def test_a_handoff_period_is_never_an_overlapping_survey(line):
    from reviews import services

    handoffs.period_cycle(timezone.now())
    survey = services.create_cycle(name="Q4", deadline=timezone.now() + dt.timedelta(days=7))
    services.open_cycle(survey)
    survey.refresh_from_db()
    assert survey.status == "open"


def test_the_sweep_sends_lost_handoff_emails_with_one_dispatch(api_client, line):
    from unittest import mock

    from reviews import services

    for i, person in enumerate(line["receivers"]):
        api_client.post("/handoffs/", _workflow_handoff(line, person, f"T-{i}"), key=f"k{i}")
    services.process_handoffs()  # its dispatch never runs: the test's transaction stays open
    assert NotificationLog.objects.filter(kind=NotificationKind.HANDOFF).count() == 4
    with mock.patch.object(services, "_dispatch") as dispatch:
        services.sweep(now=timezone.now() + dt.timedelta(minutes=10))
    handoff_calls = [c for c in dispatch.call_args_list if c.args[1] == NotificationKind.HANDOFF]
    assert len(handoff_calls) == 1
    services.sweep(now=timezone.now() + dt.timedelta(minutes=10))  # for real, eagerly
    assert len(mail.outbox) == 4
    assert {m.to[0] for m in mail.outbox} == {p.email for p in line["receivers"]}
