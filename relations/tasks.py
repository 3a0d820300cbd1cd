"""Background work for the relationship graph, run by the Celery worker and scheduled by beat."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction

from . import services

SYNC_GRAPH_TASK = "relations.tasks.sync_graph"
SYNC_GRAPH_SCHEDULE_NAME = "Nightly graph sync (rank and process relationships)"


@shared_task(
    name=SYNC_GRAPH_TASK,
    autoretry_for=(OperationalError,),  # a locked SQLite file or a restarting PostgreSQL
    max_retries=3,
    retry_backoff=True,
)
def sync_graph() -> dict[str, dict[str, int]]:
    """Bring rank and process pairs in line with the reporting line and the workflow steps.

    The services already do this on every change; the nightly run repairs anything written
    around them (a manual database fix, an interrupted deployment). Idempotent: on a consistent
    graph it creates and retires nothing.
    """
    with transaction.atomic():
        rank = services.sync_rank_edges()
        process = services.sync_process_edges()
    return {"rank": rank, "process": process}


def ensure_periodic_tasks() -> None:
    """Register the schedules in django-celery-beat's tables (beat's DatabaseScheduler reads them).

    get_or_create, not update: HR may change the time in the admin and it must stay changed.
    """
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="2",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.get_or_create(
        name=SYNC_GRAPH_SCHEDULE_NAME,
        defaults={"task": SYNC_GRAPH_TASK, "crontab": nightly},
    )
