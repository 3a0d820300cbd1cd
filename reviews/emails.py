"""The messages of a cycle: one per rater and event, in the rater's language, sent in batches,
by e-mail or on the company's messaging platform (`channels`), whichever carries it.

`send_batch` claims log rows (pending → sending, under a token of its own), sends each message
over one SMTP connection and marks it sent right after the server accepted it; on an SMTP error
the unsent rows go back to pending and the error propagates so the Celery task retries. A killed
worker's rows are given back by `services.resend_stalled_notifications` once its lease ran out.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection as db_connection
from django.db.models import F
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from relations.models import EdgeType, RankKind, service_text

from . import channels
from .models import (
    REMINDER_KINDS,
    Channel,
    CycleStatus,
    MessagingSettings,
    NotificationKind,
    NotificationLog,
    NotificationStatus,
    RequestStatus,
    ReviewRequest,
    notification_lease,
)
from .tokens import make_request_token

logger = logging.getLogger(__name__)

TEMPLATES = {
    NotificationKind.INVITATION: "emails/invitation.txt",
    NotificationKind.REMINDER: "emails/reminder.txt",
    NotificationKind.MANUAL_REMINDER: "emails/reminder.txt",
    NotificationKind.DEPARTMENT_REMINDER: "emails/reminder.txt",
    NotificationKind.CLOSED: "emails/closed.txt",
    NotificationKind.REPLY: "emails/reply.txt",
    NotificationKind.HANDOFF: "emails/handoff.txt",
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
    if kind == NotificationKind.REPLY:
        return gettext("A department answered a comment: %(cycle)s") % {"cycle": cycle.name}
    if kind == NotificationKind.HANDOFF:
        return gettext("How was the hand-off you just received?")
    return gettext("Reminder: your evaluations for %(cycle)s") % {"cycle": cycle.name}


@lru_cache(maxsize=64)
def _type_label(language: str, edge_type: str, rank_kind: str) -> str:
    """What ReviewRequest.type_label says, computed once per language instead of per line."""
    with translation.override(language):
        label = str(EdgeType(edge_type).label)
        if edge_type == EdgeType.RANK and rank_kind:
            label = f"{label} · {RankKind(rank_kind).label}"
    return label


# The request fields an e-mail shows; read as plain rows, not model instances (a batch of 200
# raters can list tens of thousands of requests).
REQUEST_FIELDS = (
    "id",
    "cycle_id",
    "rater_id",
    "status",
    "provider_name",
    "provider_department_name",
    "edge_type",
    "rank_kind",
    "service",
)


class _Renderer:
    """Renders the e-mails of one batch: templates, URLs and labels looked up once."""

    def __init__(self) -> None:
        self.templates: dict = {}
        # The token is the only varying part of a link: reverse once, then concatenate.
        marker = "TOKEN"
        prefix, _sep, suffix = reverse("reviews:token", args=[marker]).partition(marker)
        self.link_prefix = absolute_url(prefix)
        self.link_suffix = suffix
        self.inbox_url = absolute_url(reverse("reviews:inbox"))
        self.results_url = absolute_url(reverse("results:me"))
        # Department names of answered comments (REPLY rows), by comment id: `send_batch`.
        self.reply_departments: dict[int, str] = {}

    def link(self, request_id: int, cycle_id: int) -> str:
        return self.link_prefix + make_request_token(request_id, cycle_id) + self.link_suffix

    def request_line(self, r: dict, language: str, cycle_id: int, *, with_service: bool) -> str:
        """One request of the list, formatted here rather than in a template loop.

        A rater lists ten requests on average (a department head fifty): a `{% for %}` over
        them was a fifth of a worker's time per e-mail. Nothing here is translatable text.
        """
        provider, department = r["provider_name"], r["provider_department_name"]
        head = f"{provider} ({department})" if department and department != provider else provider
        line = f"\n- {head} · {_type_label(language, r['edge_type'], r['rank_kind'])}"
        if with_service and r["service"]:
            line += f"\n  {service_text(r['service'], provider=provider, customer='')}"
        return f"{line}\n  {self.link(r['id'], cycle_id)}\n"

    def render(self, log: NotificationLog, requests: list[dict]) -> EmailMessage:
        rater, cycle = log.rater, log.cycle
        language = rater.language or settings.LANGUAGE_CODE
        template = self.templates.get(log.kind)
        if template is None:
            template = self.templates[log.kind] = get_template(TEMPLATES[log.kind])
        with_service = log.kind in (NotificationKind.INVITATION, NotificationKind.HANDOFF)
        with translation.override(language):
            context = {
                "rater": rater,
                "cycle": cycle,
                "deadline": timezone.localtime(cycle.deadline),
                "requests": requests,
                "request_lines": "".join(
                    self.request_line(r, language, cycle.pk, with_service=with_service)
                    for r in requests
                ),
                "inbox_url": self.inbox_url,
                "results_url": self.results_url,
                "department": self.reply_departments.get(log.offset, ""),
            }
            body = template.render(context)
            subject = _subject(log.kind, cycle)
        return EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[rater.email],
            headers={
                "X-ICR-Notification": f"{cycle.pk}:{log.kind}:{log.offset}",
                "Message-ID": message_id(log),
            },
        )

    def notice(self, log: NotificationLog, requests: list[dict]) -> channels.Notice:
        """The card of one log row on a messaging platform, in the rater's language: the
        button opens the first request's rating form (the e-mail's signed link)."""
        rater, cycle = log.rater, log.cycle
        language = rater.language or settings.LANGUAGE_CODE
        with translation.override(language):
            title = _subject(log.kind, cycle)
            deadline = timezone.localtime(cycle.deadline).strftime("%Y-%m-%d %H:%M")
            key = f"icr-{log.pk}-{log.created_at:%Y%m%d%H%M%S}"
            if log.kind in (NotificationKind.CLOSED, NotificationKind.REPLY):
                if log.kind == NotificationKind.CLOSED:
                    line = gettext(
                        "The evaluation is closed. Thank you; the results are shown aggregated "
                        "and anonymous."
                    )
                else:
                    line = gettext(
                        "%(department)s answered a comment from the raters of this evaluation."
                    ) % {"department": self.reply_departments.get(log.offset, "")}
                return channels.Notice(
                    title=title,
                    lines=[line],
                    link=self.results_url,
                    link_label=gettext("Open my results"),
                    key=key,
                )
            pending = [r for r in requests if r["status"] == RequestStatus.PENDING] or requests
            names = [r["provider_name"] for r in pending[:5]]
            if len(pending) > 5:
                names.append("…")
            first = pending[0] if pending else None
            return channels.Notice(
                title=title,
                lines=[
                    gettext("%(count)s evaluations to give: %(names)s")
                    % {"count": len(pending), "names": "、".join(names)},
                    gettext("Your answers are anonymous: results are only shown aggregated."),
                ],
                facts=[(gettext("Deadline"), deadline)],
                link=self.link(first["id"], cycle.pk) if first else self.inbox_url,
                link_label=gettext("Rate now"),
                more_link=self.inbox_url,
                more_label=gettext("All my requests"),
                key=key,
            )


def message_id(log: NotificationLog) -> str:
    """The same for every attempt at one log row, so a receiving mail system can tell a copy
    sent again after a crash (`send_batch`). The row's creation time keeps it unique across a
    database rebuilt from scratch, whose ids start again."""
    host = urlsplit(settings.ICR_BASE_URL).hostname or "localhost"
    return f"<icr.{log.pk}.{log.created_at:%Y%m%d%H%M%S%f}@{host}>"


def render_message(log: NotificationLog, requests: list[dict]) -> EmailMessage:
    """The e-mail for one log row, rendered in the rater's language (rows: REQUEST_FIELDS)."""
    return _Renderer().render(log, requests)


def _claim(log_ids: list[int], claim: uuid.UUID) -> list[int]:
    """Take the pending rows among these for this run; returns the ids taken.

    One conditional UPDATE: of two runs given the same rows (a duplicated or redelivered
    message), the second finds them `sending` and takes none (PostgreSQL re-checks the status
    of a row it waited for; SQLite runs one writer at a time).
    """
    NotificationLog.objects.filter(id__in=log_ids, status=NotificationStatus.PENDING).update(
        status=NotificationStatus.SENDING,
        claim=claim,
        claimed_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    return list(
        NotificationLog.objects.filter(id__in=log_ids).held_by(claim).values_list("id", flat=True)
    )


def _renew(log_ids: set[int], claim: uuid.UUID) -> set[int]:
    """Start the lease of the rows this run still holds again; returns them.

    A row given back meanwhile (its lease ran out: `services.resend_stalled_notifications`) is
    no longer `sending` under this claim, so it is neither renewed nor returned: another run
    sends it, this one must not.
    """
    held = NotificationLog.objects.filter(id__in=log_ids).held_by(claim)
    held.update(claimed_at=timezone.now())
    return set(held.values_list("id", flat=True))


@contextmanager
def _quick_marks():
    """Let the "sent" marks of this loop commit without waiting for the disk (PostgreSQL).

    Each mark is still committed on its own right after the SMTP server accepted the message,
    so a killed worker loses at most the message in flight, as before; only a crash of the
    database server itself may lose the last fraction of a second of marks (those e-mails go
    out again). Waiting for a WAL flush per e-mail would cap a worker at a few hundred e-mails
    a second.
    """
    if db_connection.vendor != "postgresql" or db_connection.in_atomic_block:
        yield
        return
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with db_connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def send_batch(log_ids: list[int]) -> int:
    """Send the pending messages among these log rows; returns how many were sent.

    The channel is the company's (`MessagingSettings`): on a messaging platform, each person
    with an ID there (Feishu: or an e-mail address) gets a card; whoever the platform refuses,
    has no ID, or whose row failed `ICR_MESSAGING_MAX_ATTEMPTS` claims gets the e-mail
    instead, in the same claim, so still one message per row; the row records the channel.
    A platform that is rate limiting or down raises `channels.ChannelError` after the rows not
    sent went back to pending: the task retries with backoff.

    One SMTP connection for the batch; each message is marked sent as soon as the server took
    it, so a failure in the middle re-sends nothing that already went out.

    At most one e-mail per row rests on the claim. A message is handed to the server only while
    this run holds its row: the run renews its claim whenever the last renewal is older than a
    sixth of the lease, and drops the rows it lost. So another run can take a row this one
    is still sending only if that one message takes more than five sixths of the lease (50 s
    by default) or the process stalls that long; then the rater gets it twice.

    The other window is a crash (SIGKILL, power) between the server's acceptance and the
    "sent" mark: the row is still `sending`, and once its lease ran out it is sent again. That
    errs on the side of a second e-mail rather than none: nothing can tell from the database
    whether the server got the message, and a crash anywhere in the exchange before the server
    accepted it (by far the longer part) leaves a message that was never sent, which must go
    out. The mark is written right after the server's answer, so the window is that one write;
    and the resent message carries the same Message-ID, which many mail systems (Gmail among
    them) use to drop a copy they already delivered.
    """
    claim = uuid.uuid4()
    confirmed_at = timezone.now()
    claimed = _claim(list(log_ids), claim)
    if not claimed:
        return 0
    logs = list(
        NotificationLog.objects.filter(id__in=claimed)
        .select_related("cycle", "rater")
        .order_by("id")
    )
    by_rater: dict[tuple[int, int], list[dict]] = defaultdict(list)
    wanted = (
        ReviewRequest.objects.filter(
            cycle_id__in={log.cycle_id for log in logs},
            rater_id__in={log.rater_id for log in logs},
        )
        .order_by("provider_name", "id")
        .values(*REQUEST_FIELDS)
    )
    for req in wanted:
        by_rater[(req["cycle_id"], req["rater_id"])].append(req)

    renderer = _Renderer()
    reply_ids = {log.offset for log in logs if log.kind == NotificationKind.REPLY}
    if reply_ids:
        renderer.reply_departments = _reply_departments(reply_ids)
    platform = channels.platform(MessagingSettings.current_channel())
    max_attempts = settings.ICR_MESSAGING_MAX_ATTEMPTS
    to_send: list[tuple[NotificationLog, list[dict], channels.Recipient | None]] = []
    skipped: list[int] = []
    for log in logs:
        requests = by_rater.get((log.cycle_id, log.rater_id), [])
        if log.kind == NotificationKind.HANDOFF:
            # One e-mail per hand-off request (its id is the row's offset), while unanswered.
            requests = [
                r
                for r in requests
                if r["id"] == log.offset and r["status"] == RequestStatus.PENDING
            ]
            if not requests or log.cycle.status != CycleStatus.OPEN:
                skipped.append(log.pk)
                continue
        if log.kind in REMINDER_KINDS:
            # Someone who answered since the reminder was queued gets nothing.
            requests = [r for r in requests if r["status"] == RequestStatus.PENDING]
            if not requests or log.cycle.status != CycleStatus.OPEN:
                skipped.append(log.pk)
                continue
        recipient = None
        if platform is not None and log.attempts <= max_attempts:
            recipient = platform.recipient(log.rater)
        if not log.rater.active or not (log.rater.email or recipient):
            skipped.append(log.pk)
            continue
        to_send.append((log, requests, recipient))
    if skipped:
        NotificationLog.objects.filter(id__in=skipped).held_by(claim).update(
            status=NotificationStatus.SKIPPED
        )

    table = db_connection.ops.quote_name(NotificationLog._meta.db_table)
    # Whatever became of the row meanwhile, the message went out: `sent` is what a later run
    # must find, so the mark does not depend on the claim.
    mark_sent = f"UPDATE {table} SET status = %s, sent_at = %s, channel = %s WHERE id = %s"  # noqa: S608
    renew_every = notification_lease() / 6
    held = {log.pk for log, _requests, _recipient in to_send}
    sent_ids: set[int] = set()
    settled: set[int] = set()  # sent, or skipped once the platform refused someone without e-mail

    def keep_alive() -> None:
        nonlocal confirmed_at, held
        if timezone.now() - confirmed_at > renew_every:
            confirmed_at = timezone.now()
            held = _renew(held - settled, claim)

    sender = (
        channels.Sender(
            platform,
            keep_alive=keep_alive,
            wanted=sum(1 for _log, _r, recipient in to_send if recipient),
        )
        if platform is not None
        else None
    )
    connection = get_connection()
    opened = False
    try:
        if any(recipient is None for _log, _r, recipient in to_send):
            connection.open()
            opened = True
        with _quick_marks(), db_connection.cursor() as cursor:
            for log, requests, recipient in to_send:
                keep_alive()
                if log.pk not in held:
                    continue  # given back after its lease ran out: another run sends it
                channel = ""
                if recipient is not None and sender is not None:
                    try:
                        sender.send(recipient, renderer.notice(log, requests))
                        channel = platform.code
                    except channels.Refused:
                        logger.info(
                            "%s refused rater %s: e-mail instead", platform.code, log.rater_id
                        )
                        if not log.rater.email:
                            NotificationLog.objects.filter(pk=log.pk).held_by(claim).update(
                                status=NotificationStatus.SKIPPED
                            )
                            settled.add(log.pk)
                            continue
                    if log.pk not in held:  # waiting for the rate limit, the row was lost
                        if channel:
                            _mark(cursor, mark_sent, log.pk, channel)
                            sent_ids.add(log.pk)
                            settled.add(log.pk)
                        continue
                if not channel:
                    if not opened:
                        connection.open()
                        opened = True
                    # The open connection is reused: send_messages opens none of its own.
                    connection.send_messages([renderer.render(log, requests)])
                    channel = Channel.EMAIL
                _mark(cursor, mark_sent, log.pk, channel)
                sent_ids.add(log.pk)
                settled.add(log.pk)
    except BaseException:
        unsent = [log.pk for log, _r, _recipient in to_send if log.pk not in settled]
        NotificationLog.objects.filter(id__in=unsent).held_by(claim).update(
            status=NotificationStatus.PENDING
        )
        raise
    finally:
        connection.close()
    return len(sent_ids)


def _mark(cursor, sql: str, log_id: int, channel: str) -> None:
    cursor.execute(
        sql,
        [
            NotificationStatus.SENT,
            db_connection.ops.adapt_datetimefield_value(timezone.now()),
            channel,
            log_id,
        ],
    )


def _reply_departments(comment_ids: set[int]) -> dict[int, str]:
    """Comment id → the name of the department that answered it."""
    from relations.models import Department

    from .rollup_models import ResultComment

    departments = dict(
        ResultComment.objects.filter(id__in=comment_ids).values_list("id", "department_id")
    )
    names = dict(
        Department.objects.filter(id__in=set(departments.values())).values_list("id", "name")
    )
    return {cid: names.get(did, "") for cid, did in departments.items()}
