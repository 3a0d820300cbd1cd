import os

from celery import Celery
from celery.signals import beat_embedded_init, beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "icr.settings")

app = Celery("icr")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
@beat_embedded_init.connect
def register_periodic_tasks(**kwargs) -> None:
    """Beat (alone or embedded in `make run`'s worker) makes sure its schedules exist."""
    from relations.tasks import ensure_periodic_tasks

    ensure_periodic_tasks()
