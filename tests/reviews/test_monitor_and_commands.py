import datetime as dt
import json
from io import StringIO

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from reviews import services, tasks
from reviews.models import (
    Cycle,
    CycleStatus,
    CycleTemplate,
    NotificationLog,
    ReviewRequest,
)


def answer_all(employee, cycle):
    for req in ReviewRequest.objects.filter(cycle=cycle, rater=employee).select_related("cycle"):
        scores = {
            c.pk: 4 for c in services.applicable_criteria(cycle, req.edge_type, req.rank_kind)
        }
        services.submit_answer(req, scores=scores, comment="秘密评论")


def test_hr_sees_response_rates_and_who_has_not_answered(client, hr_user, org, open_cycle):
    answer_all(org["seller"], open_cycle)
    client.force_login(hr_user)
    response = client.get(reverse("reviews:monitor", args=[open_cycle.pk]))
    assert response.status_code == 200
    progress = response.context["progress"]
    assert (progress["answered"], progress["total"]) == (2, 9)
    sales = next(r for r in progress["by_department"] if r["rater_department_name"] == "销售部")
    assert (sales["answered"], sales["total"]) == (2, 5)
    missing = {r["rater_name"] for r in progress["missing"]}
    assert missing == {"王总", "李销售", "赵商务"}
    body = response.content.decode()
    assert "秘密评论" not in body  # names only, never answers


def test_the_monitor_is_for_hr_only(client, org, open_cycle):
    client.force_login(org["sales_head"].user)
    assert client.get(reverse("reviews:monitor", args=[open_cycle.pk])).status_code == 403
    assert client.get(reverse("reviews:monitor_list")).status_code == 403
    url = reverse("reviews:remind", args=[open_cycle.pk])
    assert client.post(url, {"round_number": 1}).status_code == 403


def test_send_a_reminder_now_goes_to_pending_raters_once_per_click(
    client, hr_user, org, open_cycle, mailoutbox, django_capture_on_commit_callbacks
):
    tasks.dispatch_notifications(open_cycle.pk, "invitation")  # the invitations go out
    answer_all(org["sales_head"], open_cycle)
    client.force_login(hr_user)
    url = reverse("reviews:remind", args=[open_cycle.pk])
    # Right after the invitations, a reminder would arrive with them: none is sent, HR is told.
    response = client.post(url, {"round_number": 1})
    assert "too recently" in str(next(iter(get_messages(response.wsgi_request))))
    mailoutbox.clear()
    with time_machine.travel(timezone.now() + dt.timedelta(hours=13)):
        page = client.get(reverse("reviews:monitor", args=[open_cycle.pk]))
        round_number = page.context["remind_form"].initial["round_number"]
        with django_capture_on_commit_callbacks(execute=True):
            client.post(url, {"round_number": round_number})
            client.post(url, {"round_number": round_number})  # a double click
    assert [m.to for m in mailoutbox] == [["zhang@example.com"]]
    # Only raters whose invitation went out: 王总 and 赵商务 have no address.
    logs = NotificationLog.objects.filter(kind="manual")
    assert set(logs.values_list("rater__name", flat=True)) == {"张三"}


def test_open_cycle_command_creates_opens_and_prints_json(org):
    out = StringIO()
    deadline = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    call_command(
        "open_cycle",
        "--name",
        "2026 Q4",
        "--deadline",
        deadline,
        "--types",
        "rank,function",
        "--format",
        "json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert set(data) == {"cycle", "requests", "raters"}
    assert data["requests"] == {"rank": 6, "function": 3, "process": 0, "workflow": 0}
    assert data["raters"] == 4
    out = StringIO()
    call_command("open_cycle", "--cycle", str(data["cycle"]["id"]), "--format", "json", stdout=out)
    again = json.loads(out.getvalue())
    assert again["cycle"]["created"] == 0
    assert again["requests"] == data["requests"]


def test_close_cycle_command_reports_the_answered_share(org, open_cycle):
    answer_all(org["seller"], open_cycle)
    out = StringIO()
    call_command("close_cycle", "--cycle", str(open_cycle.pk), "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["cycle"]["status"] == "closed"
    assert data["cycle"]["answered"] == 2
    assert data["raters"] == 4
    assert data["requests"]["function"] == 3


def test_open_cycle_command_rejects_unknown_types(org):
    with pytest.raises(CommandError):
        call_command("open_cycle", "--name", "x", "--deadline", "2099-01-01", "--types", "rank,foo")


def test_a_schedule_gets_a_beat_task_that_opens_one_cycle_per_day(org):
    template = CycleTemplate.objects.create(name="季度互评", cadence="quarterly", open_days=10)
    services.sync_template_schedule(template)
    task = PeriodicTask.objects.get(pk=template.periodic_task_id)
    assert task.task == "reviews.tasks.open_scheduled_cycle"
    assert json.loads(task.kwargs) == {"template_id": template.pk}
    assert task.crontab.month_of_year == "1,4,7,10"

    first = tasks.open_scheduled_cycle(template.pk)
    second = tasks.open_scheduled_cycle(template.pk)  # a retried or duplicated beat message
    assert first == second
    cycle = Cycle.objects.get()
    assert cycle.status == CycleStatus.OPEN
    assert ReviewRequest.objects.filter(cycle=cycle).count() == 9


def test_the_sweep_closes_cycles_past_their_deadline(org, open_cycle):
    with time_machine.travel(open_cycle.deadline + dt.timedelta(minutes=1)):
        result = services.sweep()
    open_cycle.refresh_from_db()
    assert result["closed"] == 1
    assert open_cycle.status == CycleStatus.CLOSED


def test_the_sweep_opens_a_draft_whose_time_has_come(org):
    now = timezone.now()
    cycle = services.create_cycle(
        name="later", opens_at=now + dt.timedelta(days=1), deadline=now + dt.timedelta(days=5)
    )
    services.sweep()
    cycle.refresh_from_db()
    assert cycle.status == CycleStatus.DRAFT
    with time_machine.travel(now + dt.timedelta(days=1, minutes=1)):
        services.sweep()
    cycle.refresh_from_db()
    assert cycle.status == CycleStatus.OPEN


def test_a_second_reminder_within_the_window_is_refused_and_the_page_says_when(
    client, hr_user, org, open_cycle, mailoutbox, django_capture_on_commit_callbacks
):
    # Two clicks 3 s apart used to send two rounds: the second page load had a new round.
    tasks.dispatch_notifications(open_cycle.pk, "invitation")
    client.force_login(hr_user)
    url = reverse("reviews:remind", args=[open_cycle.pk])
    monitor = reverse("reviews:monitor", args=[open_cycle.pk])
    later = timezone.now() + dt.timedelta(hours=13)
    with time_machine.travel(later, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            round_number = client.get(monitor).context["remind_form"].initial["round_number"]
            client.post(url, {"round_number": round_number})
        sent = len(mailoutbox)
        assert sent
    with time_machine.travel(later + dt.timedelta(seconds=3), tick=False):
        page = client.get(monitor)
        html = page.content.decode()
        assert 'id="last-reminder"' in html and "disabled" in html
        assert "data-icr-confirm" in html
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                url, {"round_number": page.context["remind_form"].initial["round_number"]}
            )
        assert "the next one can go at" in str(next(iter(get_messages(response.wsgi_request))))
    assert len(mailoutbox) == sent
    # An hour later the button works again.
    with time_machine.travel(later + dt.timedelta(minutes=61), tick=False):
        page = client.get(monitor)
        assert (
            "disabled" not in page.content.decode().split('id="remind-form"')[1].split("</form>")[0]
        )


def test_hr_closes_a_cycle_from_its_monitoring_page_after_a_confirmation(
    client, hr_user, org, open_cycle
):
    client.force_login(hr_user)
    monitor = reverse("reviews:monitor", args=[open_cycle.pk])
    html = client.get(monitor).content.decode()
    form = html.split('id="close-form"')[1].split("</form>")[0]
    # The question says what closing does and how many answers are in.
    assert "data-icr-confirm" in form and "0 of 9 requests are answered" in form
    response = client.post(reverse("reviews:close", args=[open_cycle.pk]), follow=True)
    assert "is closed with 0 of 9 requests answered" in response.content.decode()
    open_cycle.refresh_from_db()
    assert open_cycle.status == "closed"
    assert 'id="close-form"' not in client.get(monitor).content.decode()
    # Only from there: the admin's list no longer closes cycles in one click.
    changelist = client.get(reverse("admin:reviews_cycle_changelist")).content.decode()
    assert "close_selected" not in changelist


def test_only_hr_closes_a_cycle(client, org, open_cycle):
    client.force_login(org["sales_head"].user)
    assert client.post(reverse("reviews:close", args=[open_cycle.pk])).status_code == 403
    open_cycle.refresh_from_db()
    assert open_cycle.status == "open"
