"""The e-mails of a cycle: one per rater and event, in the rater's language, sent in batches.

`send_batch` claims log rows (pending → sending), sends each message over one SMTP connection
and marks it sent right after the server accepted it; on an SMTP error the unsent rows go back
to pending and the error propagates so the Celery task retries.
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from .models import (
    CycleStatus,
    NotificationKind,
    NotificationLog,
    NotificationStatus,
    RequestStatus,
    ReviewRequest,
)
from .tokens import make_request_token

TEMPLATES = {
    NotificationKind.INVITATION: "emails/invitation.txt",
    NotificationKind.REMINDER: "emails/reminder.txt",
    NotificationKind.MANUAL_REMINDER: "emails/reminder.txt",
    NotificationKind.CLOSED: "emails/closed.txt",
}


def absolute_url(path: str) -> str:
    return settings.ICR_BASE_URL.rstrip("/") + path


def request_link(request_id: int, cycle_id: int) -> str:
    token = make_request_token(request_id, cycle_id)
    return absolute_url(reverse("reviews:token", args=[token]))


def _subject(kind: str, cycle) -> str:
    if kind == NotificationKind.INVITATION:
        return gettext("Please rate the services you received: %(cycle)s") % {"cycle": cycle.name}
    if kind == NotificationKind.CLOSED:
        return gettext("Evaluation closed: %(cycle)s") % {"cycle": cycle.name}
    return gettext("Reminder: your evaluations for %(cycle)s") % {"cycle": cycle.name}


def render_message(log: NotificationLog, requests: list[ReviewRequest]) -> EmailMessage:
    """The e-mail for one log row, rendered in the rater's language."""
    rater, cycle = log.rater, log.cycle
    with translation.override(rater.language or settings.LANGUAGE_CODE):
        context = {
            "rater": rater,
            "cycle": cycle,
            "deadline": timezone.localtime(cycle.deadline),
            "requests": [
                {
                    "provider": r.provider_name,
                    "provider_department": r.provider_department_name,
                    "type": r.type_label(),
                    "service": r.service,
                    "link": request_link(r.pk, cycle.pk),
                }
                for r in requests
            ],
            "inbox_url": absolute_url(reverse("reviews:inbox")),
        }
        body = render_to_string(TEMPLATES[log.kind], context)
        subject = _subject(log.kind, cycle)
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[rater.email],
        headers={"X-ICR-Notification": f"{cycle.pk}:{log.kind}:{log.offset}"},
    )


def _claim(log_ids: list[int]) -> list[int]:
    now = timezone.now()
    with transaction.atomic():
        claimed = list(
            NotificationLog.objects.select_for_update(skip_locked=True)
            .filter(id__in=log_ids, status=NotificationStatus.PENDING)
            .values_list("id", flat=True)
        )
        NotificationLog.objects.filter(id__in=claimed).update(
            status=NotificationStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    return claimed


def send_batch(log_ids: list[int]) -> int:
    """Send the pending e-mails among these log rows; returns how many were sent."""
    claimed = _claim(list(log_ids))
    if not claimed:
        return 0
    logs = list(
        NotificationLog.objects.filter(id__in=claimed)
        .select_related("cycle", "rater")
        .order_by("id")
    )
    by_rater: dict[tuple[int, int], list[ReviewRequest]] = defaultdict(list)
    wanted = ReviewRequest.objects.filter(
        cycle_id__in={log.cycle_id for log in logs}, rater_id__in={log.rater_id for log in logs}
    ).order_by("provider_name", "id")
    for req in wanted:
        by_rater[(req.cycle_id, req.rater_id)].append(req)

    to_send: list[tuple[NotificationLog, EmailMessage]] = []
    skipped: list[int] = []
    for log in logs:
        requests = by_rater.get((log.cycle_id, log.rater_id), [])
        if log.kind in (NotificationKind.REMINDER, NotificationKind.MANUAL_REMINDER):
            # Someone who answered since the reminder was queued gets nothing.
            requests = [r for r in requests if r.status == RequestStatus.PENDING]
            if not requests or log.cycle.status != CycleStatus.OPEN:
                skipped.append(log.pk)
                continue
        if not log.rater.email or not log.rater.active:
            skipped.append(log.pk)
            continue
        to_send.append((log, render_message(log, requests)))
    if skipped:
        NotificationLog.objects.filter(id__in=skipped).update(status=NotificationStatus.SKIPPED)

    sent_ids: list[int] = []
    connection = get_connection()
    try:
        connection.open()
        for log, message in to_send:
            message.connection = connection
            message.send()
            NotificationLog.objects.filter(pk=log.pk).update(
                status=NotificationStatus.SENT, sent_at=timezone.now()
            )
            sent_ids.append(log.pk)
    except BaseException:
        unsent = [log.pk for log, _message in to_send if log.pk not in set(sent_ids)]
        NotificationLog.objects.filter(id__in=unsent).update(status=NotificationStatus.PENDING)
        raise
    finally:
        connection.close()
    return len(sent_ids)
