import datetime as dt
import uuid

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from icr.celery import app as celery_app
from reviews import emails, services, tasks
from reviews.models import NotificationLog, NotificationStatus, ReviewRequest


def open_new_cycle(capture, days=7):
    cycle = services.create_cycle(name="2026 Q4", deadline=timezone.now() + dt.timedelta(days=days))
    with capture(execute=True):
        services.open_cycle(cycle)
    return cycle


def answer_all(employee, cycle):
    for req in ReviewRequest.objects.filter(cycle=cycle, rater=employee).select_related("cycle"):
        scores = {
            c.pk: 4 for c in services.applicable_criteria(cycle, req.edge_type, req.rank_kind)
        }
        services.submit_answer(req, scores=scores)


def test_one_invitation_per_rater_listing_all_their_requests(
    smtp, org, django_capture_on_commit_callbacks
):
    cycle = open_new_cycle(django_capture_on_commit_callbacks)
    # Only 李销售 and 张三 have an e-mail address in the test company.
    assert sorted(m["To"] for m in smtp.messages) == ["li@example.com", "zhang@example.com"]
    (li,) = smtp.to("li@example.com")
    body = li.get_content()
    assert body.count("/reviews/t/") == 3  # three requests, one e-mail
    for provider in ("王总", "张三", "商务部"):
        assert provider in body
    assert "2026 Q4" in li["Subject"]
    assert set(NotificationLog.objects.filter(cycle=cycle).values_list("status", flat=True)) == {
        NotificationStatus.SENT,
        NotificationStatus.SKIPPED,
    }


def test_invitations_are_in_the_raters_language(smtp, org, django_capture_on_commit_callbacks):
    org["seller"].language = "en"
    org["seller"].save(update_fields=["language"])
    open_new_cycle(django_capture_on_commit_callbacks)
    english = smtp.to("zhang@example.com")[0].get_content()
    chinese = smtp.to("li@example.com")[0].get_content()
    # Django's own zh-hans date format writes 年; the English one does not.
    assert "年" in chinese
    assert "年" not in english
    assert "Dear 张三" in english


def test_nothing_is_sent_twice(smtp, org, django_capture_on_commit_callbacks):
    cycle = open_new_cycle(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.open_cycle(cycle)
    tasks.dispatch_notifications(cycle.pk, "invitation", 0)
    ids = list(NotificationLog.objects.values_list("id", flat=True))
    tasks.send_notification_batch(ids)
    assert len(smtp.messages) == 2


def test_reminders_reach_only_raters_with_pending_requests(
    smtp, org, django_capture_on_commit_callbacks
):
    cycle = open_new_cycle(django_capture_on_commit_callbacks)
    answer_all(org["sales_head"], cycle)
    smtp.messages.clear()
    with time_machine.travel(cycle.deadline - dt.timedelta(days=3, minutes=-1)):
        with django_capture_on_commit_callbacks(execute=True):
            services.sweep()
        with django_capture_on_commit_callbacks(execute=True):
            services.sweep()  # the same offset again: nothing new
    assert [m["To"] for m in smtp.messages] == ["zhang@example.com"]
    assert "Reminder" in smtp.messages[0]["Subject"] or "提醒" in smtp.messages[0]["Subject"]
    with (
        time_machine.travel(cycle.deadline - dt.timedelta(days=1, minutes=-1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.sweep()
    assert [m["To"] for m in smtp.messages] == ["zhang@example.com", "zhang@example.com"]


def test_an_smtp_failure_is_retried_and_delivers_once(
    smtp, org, django_capture_on_commit_callbacks
):
    smtp.fail_next = 1
    # In-process, Celery re-runs a retried task only when errors are not propagated.
    celery_app.conf.task_eager_propagates = False
    cycle = open_new_cycle(django_capture_on_commit_callbacks)
    assert sorted(m["To"] for m in smtp.messages) == ["li@example.com", "zhang@example.com"]
    sent = NotificationLog.objects.filter(cycle=cycle, status=NotificationStatus.SENT)
    assert sent.count() == 2
    assert max(sent.values_list("attempts", flat=True)) == 2


def test_closing_sends_a_short_notice(smtp, org, django_capture_on_commit_callbacks):
    cycle = open_new_cycle(django_capture_on_commit_callbacks)
    smtp.messages.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.close_cycle(cycle)
    assert sorted(m["To"] for m in smtp.messages) == ["li@example.com", "zhang@example.com"]
    assert "/reviews/t/" not in smtp.messages[0].get_content()


def test_the_sweep_resends_what_a_lost_worker_left_pending(smtp, org):
    cycle = services.create_cycle(name="Q", deadline=timezone.now() + dt.timedelta(days=7))
    services.open_cycle(cycle)  # committed callbacks never run: the dispatch message is "lost"
    assert not smtp.messages
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=10)):
        services.sweep()
    assert len(smtp.messages) == 2


def test_the_sweep_sends_the_closing_notice_a_lost_dispatch_never_recorded(smtp, org):
    cycle = open_new_cycle_quietly()
    services.close_cycle(cycle)  # committed callbacks never run: the dispatch message is "lost"
    assert not NotificationLog.objects.filter(cycle=cycle, kind="closed").exists()
    services.sweep()  # too early: the dispatch may still be on its way
    assert not smtp.messages
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=10)):
        services.sweep()
        services.sweep()  # once recorded, never again
    assert sorted(m["To"] for m in smtp.messages) == ["li@example.com", "zhang@example.com"]
    assert NotificationLog.objects.filter(cycle=cycle, kind="closed", status="sent").count() == 2


def test_a_close_lost_for_days_sends_no_late_notice(smtp, org):
    cycle = open_new_cycle_quietly()
    services.close_cycle(cycle)
    with time_machine.travel(
        timezone.now() + services.CLOSED_NOTICE_WINDOW + dt.timedelta(hours=1)
    ):
        services.sweep()
    assert not smtp.messages


def open_new_cycle_quietly():
    """Open a cycle as if its invitations had gone out (their log rows are there)."""
    cycle = services.create_cycle(name="Q", deadline=timezone.now() + dt.timedelta(days=7))
    services.open_cycle(cycle)
    services.record_notifications(cycle.pk, "invitation")
    NotificationLog.objects.filter(cycle=cycle).update(
        status=NotificationStatus.SENT, channel="email"
    )
    return cycle


# --- A worker that dies holding a batch -----------------------------------------------------


def invitations_recorded():
    """A cycle whose invitations are recorded but not sent (the dispatch ran, no batch yet);
    2 of its 4 raters have an address."""
    cycle = services.create_cycle(name="Q", deadline=timezone.now() + dt.timedelta(days=7))
    services.open_cycle(cycle)
    services.record_notifications(cycle.pk, "invitation")
    cycle.refresh_from_db()
    return cycle


class FakeConnection:
    """An SMTP connection that calls `on_open` and `on_send` (each message) instead."""

    def __init__(self, on_open=None, on_send=None):
        self.on_open, self.on_send = on_open, on_send

    def open(self):
        if self.on_open:
            self.on_open()

    def close(self):
        pass

    def send_messages(self, messages):
        for message in messages:
            self.on_send(message)
        return len(messages)


def test_what_a_dead_worker_held_goes_out_once_when_its_lease_ran_out(
    smtp, org, settings, django_capture_on_commit_callbacks
):
    settings.ICR_NOTIFICATION_LEASE_SECONDS = 60
    invitations_recorded()
    now = timezone.now()
    # A batch claimed every row, then its worker was killed before sending any.
    NotificationLog.objects.update(
        status=NotificationStatus.SENDING, claim=uuid.uuid4(), claimed_at=now
    )

    with (
        time_machine.travel(now + dt.timedelta(seconds=59)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.resend_stalled_notifications() == 0  # it may still be sending
    assert not smtp.messages
    with (
        time_machine.travel(now + dt.timedelta(seconds=61)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.resend_stalled_notifications() == 4
        assert services.resend_stalled_notifications() == 0

    assert sorted(m["To"] for m in smtp.messages) == ["li@example.com", "zhang@example.com"]
    assert not NotificationLog.objects.filter(status=NotificationStatus.SENDING).exists()
    # A copy sent again after a crash would carry the same Message-ID as the first.
    for message in smtp.messages:
        row = NotificationLog.objects.get(rater__email=message["To"])
        assert message["Message-ID"] == emails.message_id(row)
        assert row.attempts == 1


def test_a_slow_batch_keeps_its_rows_by_renewing_its_claim(
    org, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.ICR_NOTIFICATION_LEASE_SECONDS = 60
    invitations_recorded()
    sent = []
    with time_machine.travel(timezone.now(), tick=False) as clock:

        def send(message):
            sent.append(message.to[0])
            # Each message takes 40 s, the batch longer than its lease; the recovery runs
            # meanwhile and must find nothing to take from a worker that is alive.
            clock.shift(dt.timedelta(seconds=40))
            with django_capture_on_commit_callbacks(execute=True):
                services.resend_stalled_notifications()

        monkeypatch.setattr(emails, "get_connection", lambda: FakeConnection(on_send=send))
        assert emails.send_batch(list(NotificationLog.objects.values_list("id", flat=True))) == 2

    assert sorted(sent) == ["li@example.com", "zhang@example.com"]
    assert max(NotificationLog.objects.values_list("attempts", flat=True)) == 1


def test_a_batch_whose_rows_were_given_back_sends_none_of_them(
    org, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.ICR_NOTIFICATION_LEASE_SECONDS = 60
    invitations_recorded()
    sent, stalls = [], []
    with time_machine.travel(timezone.now(), tick=False) as clock:

        def stall():
            # The first batch stalls past its lease before sending: the recovery gives its
            # rows to a new run (here, at once), which sends them.
            if not stalls:
                stalls.append(clock.shift(dt.timedelta(seconds=61)))
                with django_capture_on_commit_callbacks(execute=True):
                    assert services.resend_stalled_notifications() == 2

        monkeypatch.setattr(
            emails,
            "get_connection",
            lambda: FakeConnection(on_open=stall, on_send=lambda m: sent.append(m.to[0])),
        )
        assert emails.send_batch(list(NotificationLog.objects.values_list("id", flat=True))) == 0

    assert sorted(sent) == ["li@example.com", "zhang@example.com"]
    assert set(NotificationLog.objects.values_list("status", flat=True)) == {
        NotificationStatus.SENT,
        NotificationStatus.SKIPPED,
    }


def test_a_row_being_sent_always_has_an_owner(org):
    invitations_recorded()
    with pytest.raises(IntegrityError), transaction.atomic():
        NotificationLog.objects.update(status=NotificationStatus.SENDING, claimed_at=timezone.now())


# --- Reminders come after the invitation ----------------------------------------------------


def kinds_sent(smtp) -> list[tuple[str, str]]:
    """(kind, address) of each message the SMTP server got, in order."""
    return [(m["X-ICR-Notification"].split(":")[1], m["To"]) for m in smtp.messages]


def test_a_three_day_cycle_opened_by_the_sweep_sends_no_reminder_with_its_invitations(
    smtp, org, django_capture_on_commit_callbacks
):
    now = timezone.now()
    cycle = services.create_cycle(
        name="3 天",
        opens_at=now + dt.timedelta(hours=1),
        deadline=now + dt.timedelta(days=3, hours=1),
    )
    assert cycle.reminder_offsets == [3, 1]
    # The sweep opens it a minute late: its "3 days before" fell due before the opening.
    with time_machine.travel(now + dt.timedelta(hours=1, minutes=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert services.sweep()["opened"] == 1
        with django_capture_on_commit_callbacks(execute=True):
            services.sweep()
    with (
        time_machine.travel(now + dt.timedelta(days=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.sweep()
    invitations = [("invitation", "li@example.com"), ("invitation", "zhang@example.com")]
    assert sorted(kinds_sent(smtp)) == invitations
    assert not NotificationLog.objects.filter(kind="reminder").exists()

    with (
        time_machine.travel(cycle.deadline - dt.timedelta(days=1, minutes=-1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.sweep()
    sent = kinds_sent(smtp)
    assert sorted(sent[:2]) == invitations
    assert sorted(sent[2:]) == [("reminder", "li@example.com"), ("reminder", "zhang@example.com")]
    assert set(
        NotificationLog.objects.filter(kind="reminder").values_list("offset", flat=True)
    ) == {1}


def test_a_reminder_falling_due_while_its_invitation_is_unsent_waits_for_it(
    smtp, org, settings, django_capture_on_commit_callbacks
):
    settings.ICR_REMINDER_MIN_GAP_HOURS = 12
    cycle = invitations_recorded()  # and never sent: their batches were lost
    due = cycle.deadline - dt.timedelta(days=3, minutes=-1)
    with time_machine.travel(due):
        # HR's reminder waits for the invitation as well.
        assert services.remind_now(cycle, round_number=1) == 0
        with django_capture_on_commit_callbacks(execute=True):
            result = services.sweep()  # sends the lost invitations, not the reminder
    assert result["reminders"] == 0
    assert sorted(kinds_sent(smtp)) == [
        ("invitation", "li@example.com"),
        ("invitation", "zhang@example.com"),
    ]
    for later in (dt.timedelta(minutes=5), dt.timedelta(hours=11)):
        with time_machine.travel(due + later), django_capture_on_commit_callbacks(execute=True):
            assert services.sweep()["reminders"] == 0  # not with the invitation either
    assert len(smtp.messages) == 2

    with (
        time_machine.travel(due + dt.timedelta(hours=12, minutes=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.sweep()["reminders"] == 2
        assert services.sweep()["reminders"] == 0
    assert sorted(kinds_sent(smtp)[2:]) == [
        ("reminder", "li@example.com"),
        ("reminder", "zhang@example.com"),
    ]


def test_a_cycle_owes_only_its_latest_reminder_and_none_due_at_its_opening(org):
    now = timezone.now()
    cycle = services.create_cycle(
        name="Q", deadline=now + dt.timedelta(days=7), reminder_offsets=[5, 3, 1]
    )
    services.open_cycle(cycle, now=now)
    cycle.refresh_from_db()
    assert cycle.reminder_due(now + dt.timedelta(days=1)) is None
    assert cycle.reminder_due(now + dt.timedelta(days=2)) == 5
    # The sweep stopped for two days: one reminder, the latest, not two at once.
    assert cycle.reminder_due(now + dt.timedelta(days=6)) == 1
    services.close_cycle(cycle, now=now)  # a cycle asking about the same types opens next
    late = services.create_cycle(name="late", deadline=now + dt.timedelta(days=4))
    services.open_cycle(late, now=now + dt.timedelta(days=1))  # opened 3 days before its end
    late.refresh_from_db()
    assert late.reminder_due(now + dt.timedelta(days=1, minutes=1)) is None
    assert late.reminder_due(now + dt.timedelta(days=3, minutes=1)) == 1
