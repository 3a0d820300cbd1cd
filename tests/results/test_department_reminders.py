"""A head sees how many of the people who rate their departments answered (counts, never names,
not for fewer than N people) and reminds those who have not, at most once per window."""

import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from reviews import services, tasks
from reviews.models import CycleEvent, NotificationKind, NotificationLog

FIN_PEOPLE = {"钱财务", "财务员0", "财务员1", "财务员2"}
OPS_B_PEOPLE = {"郑二组", "二组员"}


@pytest.fixture
def open_cycle(corp, cycles):
    """Open: the sellers answered everything; finance (which rates 运营二组) and 运营二组
    (which rates finance) nothing."""
    cycle = cycles.run(
        edge_types=["function"],
        close=False,
        skip=lambda req: req.rater_name in FIN_PEOPLE | OPS_B_PEOPLE,
    )
    tasks.dispatch_notifications(cycle.pk, "invitation")  # sent now: reminders wait 12 h
    return cycle


def _client(employee):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(employee.user)
    return client


def _page(client, dept, cycle):
    return client.get(f"/results/departments/{dept.pk}/", {"cycle": cycle.pk})


def _remind(client, dept, cycle):
    return client.post(f"/results/departments/{dept.pk}/remind/", {"cycle": cycle.pk})


def _message(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def test_a_head_sees_the_share_of_people_who_rate_them_that_answered(corp, open_cycle):
    page = _page(_client(corp["heads"]["OPS"]), corp["ops"], open_cycle)
    rr = page.context["rater_response"]
    # 运营部 with its sub-departments is rated by the 6 people of sales and the 4 of finance.
    assert (rr["raters"], rr["answered"], rr["pending"], rr["percent"]) == (10, 6, 4, 60)
    html = page.content.decode()
    assert 'id="rater-rate">60%' in html and 'id="remind-form"' in html
    assert not [name for name in FIN_PEOPLE | {"销售员0", "李销售"} if name in html]


def test_under_n_people_the_rate_is_not_shown(corp, open_cycle):
    # Finance is rated by the two people of 运营二组 only.
    page = _page(_client(corp["heads"]["FIN"]), corp["fin"], open_cycle)
    rr = page.context["rater_response"]
    assert rr["shown"] is False and rr["raters"] is None and rr["percent"] is None
    html = page.content.decode()
    assert 'id="raters-few"' in html and 'id="rater-rate"' not in html


def test_the_reminder_goes_to_those_who_have_not_answered_without_names(
    corp, open_cycle, mailoutbox, django_capture_on_commit_callbacks
):
    head = _client(corp["heads"]["OPS"])
    mailoutbox.clear()  # the invitations
    later = timezone.now() + dt.timedelta(hours=13)
    with time_machine.travel(later, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            response = _remind(head, corp["ops"], open_cycle)
        assert response.status_code == 302
        assert _message(response) == "A reminder is on its way to 4 people who have not answered."
        logs = NotificationLog.objects.filter(kind=NotificationKind.DEPARTMENT_REMINDER)
        assert {log.rater.name for log in logs} == FIN_PEOPLE
        assert sorted(m.to[0] for m in mailoutbox) == sorted(
            f"e03{i}@example.com" for i in range(4)
        )
        # The page says when; the button waits for the window.
        html = _page(head, corp["ops"], open_cycle).content.decode()
        assert 'id="last-reminder"' in html
        assert "disabled" in html.split('id="remind-form"')[1].split("</form>")[0]
    mailoutbox.clear()
    with time_machine.travel(later + dt.timedelta(seconds=3), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            again = _remind(head, corp["ops"], open_cycle)
        assert "the next one can go at" in _message(again)
        # HR's round within the window skips the people the head just reminded.
        with django_capture_on_commit_callbacks(execute=True):
            hr_round = services.remind_now(open_cycle, round_number=1)
        reminded = NotificationLog.objects.filter(kind=NotificationKind.MANUAL_REMINDER)
        assert hr_round == reminded.count()
        assert {log.rater.name for log in reminded} == OPS_B_PEOPLE
    assert not [m for m in mailoutbox if m.to[0].startswith("e03")]
    assert CycleEvent.objects.filter(kind="dept_reminded").count() == 1
    with time_machine.travel(later + dt.timedelta(minutes=61), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            third = _remind(head, corp["ops"], open_cycle)
        assert "4 people" in _message(third)


def test_under_n_people_the_reminder_gives_no_number(
    corp, open_cycle, django_capture_on_commit_callbacks
):
    later = timezone.now() + dt.timedelta(hours=13)
    with (
        time_machine.travel(later, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = _remind(_client(corp["heads"]["FIN"]), corp["fin"], open_cycle)
    assert _message(response) == "A reminder is on its way to those who have not answered."
    logs = NotificationLog.objects.filter(kind=NotificationKind.DEPARTMENT_REMINDER)
    assert {log.rater.name for log in logs} == OPS_B_PEOPLE


def test_a_head_cannot_remind_another_departments_raters(corp, open_cycle):
    sales_head = _client(corp["heads"]["SALES"])
    assert _remind(sales_head, corp["ops"], open_cycle).status_code == 404
    member = Client()
    member.force_login(corp["people"]["E050"].user)
    assert _remind(member, corp["ops_a"], open_cycle).status_code == 404
    assert not NotificationLog.objects.filter(kind=NotificationKind.DEPARTMENT_REMINDER).exists()


def test_a_closed_cycle_has_no_reminder(corp, cycles):
    closed = cycles.run(edge_types=["function"])
    head = _client(corp["heads"]["OPS"])
    assert _remind(head, corp["ops"], closed).status_code == 404
    assert 'id="remind-form"' not in _page(head, corp["ops"], closed).content.decode()
