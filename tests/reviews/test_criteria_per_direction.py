"""Rank is two services: the superior as task customer of a report's work, the report as
condition customer of the superior's resources and support; each is rated on its own criteria."""

import datetime as dt

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone, translation

from reviews import services
from reviews.migrations_defaults import (
    CONDITION_CRITERIA,
    DEFAULT_CRITERIA,
    TASK_CRITERIA,
    add_direction_criteria,
)
from reviews.models import AnswerScore, Criterion, ReviewRequest, Rollup

GENERIC = [row[0] for row in DEFAULT_CRITERIA]
TASK = [row[0] for row in TASK_CRITERIA]
CONDITION = [row[0] for row in CONDITION_CRITERIA]


def _codes(request) -> list[str]:
    criteria = services.applicable_criteria(request.cycle, request.edge_type, request.rank_kind)
    return [c.code for c in criteria]


def _new_cycle(**kwargs):
    now = timezone.now()
    cycle = services.create_cycle(name="2027 Q1", deadline=now + dt.timedelta(days=7), **kwargs)
    services.open_cycle(cycle)
    cycle.refresh_from_db()
    return cycle


def test_the_defaults_aim_at_each_rank_direction_in_both_languages(db):
    task = Criterion.objects.get(code="task_results")
    condition = Criterion.objects.get(code="condition_resources")
    assert task.edge_types == ["rank_task"] and condition.edge_types == ["rank_condition"]
    with translation.override("zh-hans"):
        assert (task.name, condition.name) == ("工作成果质量", "资源提供")
    with translation.override("en"):
        assert (task.name, condition.name) == ("Quality of work results", "Resources provided")
    # The criteria for every type are still for every type.
    assert all(c.edge_types == [] for c in Criterion.objects.filter(code__in=GENERIC))


def test_task_and_condition_requests_are_asked_their_own_criteria(client, org):
    cycle = _new_cycle()
    requests = ReviewRequest.objects.filter(cycle=cycle).select_related("cycle")
    task = requests.get(rater=org["sales_head"], rank_kind="task", provider_employee=org["seller"])
    condition = requests.get(rater=org["seller"], rank_kind="condition")
    function = requests.get(rater=org["seller"], edge_type="function")
    assert _codes(task) == TASK
    assert _codes(condition) == CONDITION
    assert _codes(function) == GENERIC
    # The rating form asks them, in the rater's language.
    client.force_login(org["sales_head"].user)
    body = client.get(reverse("reviews:rate", args=[task.pk])).content.decode()
    assert "Quality of work results" in body and "Following instructions" in body
    assert "Quality of service" not in body and "Resources provided" not in body
    # A score for a criterion of the other direction is refused.
    other = Criterion.objects.get(code="condition_support")
    with pytest.raises(services.ReviewError):
        services.submit_answer(task, scores={other.pk: 4})


def test_a_cycle_from_before_keeps_its_criteria_and_its_answers(org):
    """A cycle created before the direction criteria existed has the criteria for every type
    only (fixed at creation): its rank requests keep them, and answers given stay valid."""
    generic = list(Criterion.objects.filter(code__in=GENERIC))
    cycle = _new_cycle(criteria=generic)
    task = ReviewRequest.objects.select_related("cycle").get(
        cycle=cycle, rater=org["sales_head"], rank_kind="task", provider_employee=org["seller"]
    )
    assert _codes(task) == GENERIC
    services.submit_answer(task, scores={c.pk: 2 for c in generic})
    # Running the data migration's step again changes nothing.
    assert add_direction_criteria(apps) == []
    assert all(c.edge_types == [] for c in Criterion.objects.filter(code__in=GENERIC))
    services.forget_cached_criteria()
    assert _codes(task) == GENERIC
    services.submit_answer(task, scores={c.pk: 3 for c in generic})  # still editable
    services.close_cycle(cycle)
    assert AnswerScore.objects.filter(answer__cycle=cycle).count() == len(GENERIC)
    rows = Rollup.objects.filter(cycle=cycle, kind="rank_task", criterion__isnull=False)
    assert {r.criterion.code for r in rows} == set(GENERIC)


def test_closing_counts_each_direction_criterion_under_its_direction_only(org):
    cycle = _new_cycle()
    for req in ReviewRequest.objects.filter(cycle=cycle).select_related("cycle"):
        criteria = services.applicable_criteria(cycle, req.edge_type, req.rank_kind)
        services.submit_answer(req, scores={c.pk: 4 for c in criteria})
    services.close_cycle(cycle)
    kinds = {
        code: set(
            Rollup.objects.filter(cycle=cycle, criterion__code=code)
            .exclude(kind="")
            .values_list("kind", flat=True)
        )
        for code in ("task_results", "condition_goals", "quality")
    }
    assert kinds == {
        "task_results": {"rank_task"},
        "condition_goals": {"rank_condition"},
        "quality": {"function"},
    }


def test_hr_aims_a_criterion_at_one_direction_in_the_admin(client, hr_user):
    client.force_login(hr_user)
    response = client.post(
        reverse("admin:reviews_criterion_add"),
        {
            "code": "condition_fairness",
            "name_zh": "公平公正",
            "name_en": "Fairness",
            "description_zh": "",
            "description_en": "",
            "active": "on",
            "order": "250",
            "edge_types": ["rank_condition"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Criterion.objects.get(code="condition_fairness").edge_types == ["rank_condition"]
    listing = client.get(reverse("admin:reviews_criterion_changelist"))
    assert "condition customer" in listing.content.decode()
