"""Celery tasks of the reviews app. Each takes ids, calls a service and is safe to run twice.

Idempotence comes from the database: requests and notification logs are unique rows written
with ON CONFLICT DO NOTHING, cycle status changes are guarded under a row lock, and a
notification is claimed before it is sent. `sweep` re-queues whatever a killed worker lost;
`resend_stalled_notifications`, more often, what it held.
"""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from . import emails, services
from .close import refresh_open_cycles, refresh_planner_statistics
from .models import (
    Cycle,
    CycleStatus,
    CycleTemplate,
    NotificationKind,
    NotificationLog,
    NotificationStatus,
)

log = logging.getLogger(__name__)

# A locked or restarting database (SQLite under `make run`, a PostgreSQL failover) is worth a
# few quick retries; every task here is safe to run again.
DB_RETRY = {
    "autoretry_for": (OperationalError,),
    "max_retries": 5,
    "retry_backoff": 1,
    "retry_backoff_max": 60,
}


@shared_task(**DB_RETRY)
def open_cycle(cycle_id: int) -> dict | None:
    cycle = Cycle.objects.filter(pk=cycle_id).first()
    if cycle is None or cycle.status == CycleStatus.CLOSED:
        return None
    return services.open_cycle(cycle).as_dict()


@shared_task(**DB_RETRY)
def open_scheduled_cycle(template_id: int) -> int | None:
    """Called by django-celery-beat periodic tasks (kwargs: {"template_id": …})."""
    template = CycleTemplate.objects.filter(pk=template_id, active=True).first()
    if template is None:
        log.warning("Cycle schedule %s is missing or inactive; nothing opened", template_id)
        return None
    return services.open_scheduled_cycle(template).pk


@shared_task(**DB_RETRY)
def close_cycle(cycle_id: int) -> dict | None:
    cycle = Cycle.objects.filter(pk=cycle_id).first()
    if cycle is None or cycle.status != CycleStatus.OPEN:
        return None
    return services.close_cycle(cycle).as_dict()


@shared_task(**DB_RETRY)
def dispatch_notifications(cycle_id: int, kind: str, offset: int = 0) -> int:
    """Record the e-mails of an opening or a close, then fan the pending ones out in batches."""
    if kind == NotificationKind.INVITATION:
        # Runs right after an opening committed its requests: recording the invitations and
        # the batches' lookups by rater need the planner to know how many there are now.
        services.refresh_request_statistics()
    if kind in services.EVENTS_FOR_ALL_RATERS:
        services.record_notifications(cycle_id, kind, offset=offset)
    logs = NotificationLog.objects.filter(
        cycle_id=cycle_id, kind=kind, status=NotificationStatus.PENDING
    )
    if kind != NotificationKind.HANDOFF:  # hand-off rows: one per request, offset its id
        logs = logs.filter(offset=offset)
    ids = list(logs.order_by("id").values_list("id", flat=True))
    size = max(settings.ICR_NOTIFICATION_BATCH, 1)
    for start in range(0, len(ids), size):
        send_notification_batch.delay(ids[start : start + size])
    return len(ids)


@shared_task(
    autoretry_for=(SMTPException, OSError, OperationalError),
    max_retries=5,
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
)
def send_notification_batch(log_ids: list[int]) -> int:
    return emails.send_batch(log_ids)


@shared_task(**DB_RETRY)
def process_handoffs() -> dict:
    """Turn pending hand-offs into rating requests, batch after batch (run every few seconds)."""
    total: dict[str, int] = {}
    while True:
        counts = services.process_handoffs()
        for name, n in counts.items():
            total[name] = total.get(name, 0) + n
        if not any(counts.values()):
            return total


@shared_task(**DB_RETRY)
def sweep() -> dict:
    return services.sweep()


@shared_task(**DB_RETRY)
def resend_stalled_notifications() -> int:
    """Periodic (settings.CELERY_BEAT_SCHEDULE): what a killed worker held goes out again."""
    return services.resend_stalled_notifications()


@shared_task(**DB_RETRY)
def cycle_closed_followup(cycle_id: int) -> None:
    """After a cycle closed (its rollups were written in the closing transaction): planner
    statistics of the result tables, then the answers written again so that nothing in them
    follows answer time (`services.unlink_answers`, its own transaction, once per cycle).

    Runs after the close committed, never inside its transaction: the answers it rewrites are
    final by then (drafts dropped, submissions refused), and the close keeps to the rollups."""

    refresh_planner_statistics()
    cycle = Cycle.objects.filter(pk=cycle_id).first()
    unlinked = services.unlink_answers(cycle) if cycle is not None else 0
    log.info(
        "Cycle %s closed; planner statistics of the result tables refreshed, %s answers unlinked",
        cycle_id,
        unlinked,
    )


@shared_task(**DB_RETRY)
def refresh_response_rates() -> int:
    """Periodic (settings.CELERY_BEAT_SCHEDULE): open cycles' response rates, idempotent."""
    return refresh_open_cycles()
