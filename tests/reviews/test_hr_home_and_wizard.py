"""HR's home after sign-in, and the wizard that starts a cycle after a preview."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from relations.models import EdgeType, ImportVia, OrgImport
from reviews import services
from reviews.models import Cycle, CycleStatus, CycleTemplate, ReviewRequest

NOW = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def hr(client, hr_user):
    client.force_login(hr_user)
    return client


def wizard_post(**overrides):
    data = {
        "name": "2026 年第 4 季度",
        "period_start": "2026-10-01",
        "period_end": "2026-12-31",
        "deadline": (timezone.localtime() + dt.timedelta(days=14)).strftime("%Y-%m-%dT%H:%M"),
        "edge_types": list(EdgeType.values),
        "criteria": [c.pk for c in services.Criterion.objects.active()],
        "reminders": "3,1",
        "member_limit": "",
        "request_cap": "",
        "action": "preview",
    }
    data.update(overrides)
    return data


def test_hr_lands_on_the_hr_home_and_an_employee_on_their_relationships(client, hr_user, org):
    client.force_login(hr_user)
    assert client.get("/")["Location"] == reverse("reviews:hr_home")
    client.force_login(org["seller"].user)
    assert client.get("/")["Location"] == reverse("relations:my_relationships")


def test_only_hr_sees_the_hr_home_and_the_wizard(client, org):
    client.force_login(org["sales_head"].user)
    assert client.get(reverse("reviews:hr_home")).status_code == 403
    assert client.get(reverse("reviews:cycle_new")).status_code == 403
    assert client.post(reverse("reviews:cycle_new"), wizard_post(action="open")).status_code == 403
    assert not Cycle.objects.exists()


def test_hr_home_shows_the_open_cycle_by_department_the_next_cycle_and_the_last_import(
    hr, hr_user, open_cycle, org
):
    template = CycleTemplate.objects.create(name="季度互评", cadence="quarterly")
    services.sync_template_schedule(template)
    OrgImport.objects.create(
        at=timezone.now(), user=hr_user, via=ImportVia.ADMIN, summary={"departments": 3}
    )
    seller_request = ReviewRequest.objects.filter(cycle=open_cycle, rater=org["seller"]).first()
    ReviewRequest.objects.filter(pk=seller_request.pk).update(
        status="answered", answered_at=timezone.now()
    )
    response = hr.get(reverse("reviews:hr_home"))
    body = response.content.decode()
    (shown,) = response.context["open_cycles"]
    rows = {r["rater_department_name"]: (r["answered"], r["total"]) for r in shown.by_department}
    sales_total = ReviewRequest.objects.filter(
        cycle=open_cycle, rater_department=org["sales"]
    ).count()
    assert rows["销售部"] == (1, sales_total)
    assert "销售部" in body and open_cycle.name in body
    # The next run of the quarterly schedule: 1 January, 08:00 local time.
    (next_cycle,) = response.context["next_cycles"]
    assert timezone.localtime(next_cycle.at).date().month in (1, 4, 7, 10)
    assert "季度互评" in body
    assert reverse("admin:relations_orgimport_change", args=[OrgImport.objects.get().pk]) in body
    for action in ("action-start", "action-import", "action-remind", "action-close"):
        assert f'id="{action}"' in body
    assert reverse("reviews:monitor", args=[open_cycle.pk]) + "#close-form" in body
    # The scheduler's tables stay out of HR's admin home.
    assert "django_celery_beat" not in hr.get(reverse("admin:index")).content.decode()


def test_hr_home_without_cycles_or_imports_says_what_to_do(hr, db):
    body = hr.get(reverse("reviews:hr_home")).content.decode()
    assert 'id="no-open-cycle"' in body and reverse("reviews:cycle_new") in body
    assert reverse("admin:import_org") in body


@time_machine.travel(NOW, tick=False)
def test_the_wizard_is_filled_in_from_the_calendar_in_the_readers_language(hr, org):
    response = hr.get(reverse("reviews:cycle_new"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    form = response.context["form"]
    assert form.initial["name"] == "2026 年第 4 季度"
    assert form.initial["period_start"] == dt.date(2026, 10, 1)
    assert form.initial["period_end"] == dt.date(2026, 12, 31)
    assert timezone.localtime(form.initial["deadline"]).date() == dt.date(2026, 12, 20)
    assert form.initial["reminders"] == "3,1"
    assert set(form.initial["edge_types"]) == set(EdgeType.values)
    assert "截止前 3 天和 1 天" in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_wizard_follows_a_monthly_schedule_and_leaves_out_types_an_open_cycle_asks(hr, org):
    CycleTemplate.objects.create(name="月度", cadence="monthly", open_days=7, reminder_offsets=[1])
    services.open_cycle(
        services.create_cycle(
            name="职能", deadline=timezone.now() + dt.timedelta(days=3), edge_types=["function"]
        )
    )
    form = hr.get(reverse("reviews:cycle_new")).context["form"]
    assert form.initial["name"] == "2026-12"
    assert form.initial["reminders"] == "1"
    assert "function" not in form.initial["edge_types"]
    assert timezone.localtime(form.initial["deadline"]).date() == dt.date(2026, 12, 13)


def test_the_preview_counts_requests_and_people_and_sends_nothing(hr, org):
    response = hr.post(reverse("reviews:cycle_new"), wizard_post())
    preview = response.context["preview"]
    # What opening would write, counted before: the same numbers afterwards.
    assert not Cycle.objects.exists() and not ReviewRequest.objects.exists()
    body = response.content.decode()
    assert 'id="wizard-open"' in body
    assert f"{preview.requests} requests to {preview.raters} people" in body
    opened = hr.post(reverse("reviews:cycle_new"), wizard_post(action="open"))
    cycle = Cycle.objects.get()
    assert opened["Location"] == reverse("reviews:monitor", args=[cycle.pk])
    assert cycle.status == CycleStatus.OPEN
    assert cycle.reminder_offsets == [3, 1]
    assert cycle.requests.count() == preview.requests
    assert cycle.requests.values("rater_id").distinct().count() == preview.raters
    assert sum(n * people for n, people in preview.load) == preview.requests


def test_the_preview_shows_what_a_cap_changes(hr, org):
    uncapped = hr.post(reverse("reviews:cycle_new"), wizard_post()).context["preview"]
    busiest = uncapped.max_load
    assert busiest > 1
    response = hr.post(reverse("reviews:cycle_new"), wizard_post(request_cap=str(busiest - 1)))
    preview = response.context["preview"]
    assert preview.capped_raters == sum(p for n, p in uncapped.load if n == busiest)
    assert preview.capped_requests == uncapped.requests - preview.capped_raters
    assert 'id="preview-cap"' in response.content.decode()
    hr.post(reverse("reviews:cycle_new"), wizard_post(request_cap=str(busiest - 1), action="open"))
    assert Cycle.objects.get().requests.count() == preview.capped_requests


def test_the_wizard_refuses_an_overlapping_cycle_and_leaves_no_draft(hr, open_cycle):
    response = hr.post(reverse("reviews:cycle_new"), wizard_post(action="open"))
    assert response.status_code == 200
    assert "already asks about" in response.content.decode()
    assert Cycle.objects.count() == 1


def test_the_wizard_saves_a_draft_with_no_reminders(hr, org):
    hr.post(reverse("reviews:cycle_new"), wizard_post(action="draft", reminders=""))
    cycle = Cycle.objects.get()
    assert cycle.status == CycleStatus.DRAFT and cycle.reminder_offsets == []
    assert not cycle.requests.exists()
