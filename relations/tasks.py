"""Background work of the relations app, run by the Celery worker: the nightly graph sync (scheduled
by beat) and the "forgot / first password" mail."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import translation

from . import services
from .forms import FirstPasswordResetForm

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


@shared_task(
    autoretry_for=(SMTPException, OSError, OperationalError),
    max_retries=5,
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
)
def send_password_reset(email: str, *, domain: str, use_https: bool, language: str) -> None:
    """The "forgot / first password" mail: look the address up and e-mail the link, if any.

    The page queues this for every address it is given, known or not, and answers at once; so
    how long it takes tells nobody whether an address has a login. Django's reset flow
    otherwise: FirstPasswordResetForm finds the logins, Django's token signs the link.
    """
    form = FirstPasswordResetForm({"email": email})
    if not form.is_valid():
        return
    with translation.override(language):
        form.save(domain_override=domain, use_https=use_https)


def register_periodic_tasks(**kwargs) -> None:
    """Beat (alone or embedded in `make run`'s worker) makes sure its schedules exist; connected
    to beat's start by `relations.apps`, so the Celery app imports nothing of ICR's apps."""
    ensure_periodic_tasks()


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
