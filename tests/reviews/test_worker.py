"""Tasks through a real Celery worker, checked in the database and at a real SMTP server.

On PostgreSQL the worker is a separate `celery -A icr worker` process on Redis (database 5 by
default, ICR_REVIEWS_TEST_REDIS to change) reading the test database. On SQLite the test
database lives in shared memory, so the worker runs in a thread of this process on kombu's
filesystem transport, the broker `make run` uses.
"""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from icr.celery import app as icr_app
from reviews import services, tasks  # noqa: F401 - registers the tasks with the worker app
from reviews.models import CycleStatus, NotificationLog, NotificationStatus, ReviewRequest

REDIS_URL = os.environ.get("ICR_REVIEWS_TEST_REDIS", "redis://127.0.0.1:6379/5")
ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def _postgres_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db, smtp, tmp_path):
    """Yields a Celery app whose send_task reaches a running worker."""
    if connection.vendor == "postgresql":
        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()  # this test's own Redis database: drop what an earlier run left
        env = {
            **os.environ,
            "DATABASE_URL": _postgres_url(),
            "REDIS_URL": REDIS_URL,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "ICR_DEV": "1",
            "DATABASE_CONN_MAX_AGE": "0",
        }
        log = (tmp_path / "worker.log").open("w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "icr",
                "worker",
                "--pool=solo",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        producer = Celery("icr-test-producer", broker=REDIS_URL)
        try:
            yield producer
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
            print((tmp_path / "worker.log").read_text()[-3000:])
        return
    app = Celery("icr-test")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.worker_hijack_root_logger = False
    app.conf.worker_redirect_stdouts = False
    queue = tmp_path / "queue"
    queue.mkdir()
    app.conf.broker_url = "filesystem://"
    app.conf.broker_transport = "icr.broker:Transport"  # as settings name it without REDIS_URL
    app.conf.broker_transport_options = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(tmp_path),
        "store_processed": False,
    }

    def close_connections(**kwargs):
        connections.close_all()

    task_postrun.connect(close_connections, weak=False)
    try:
        with start_worker(app, perform_ping_check=False, shutdown_timeout=30):
            yield app
    finally:
        task_postrun.disconnect(close_connections)
        icr_app.set_current()
        icr_app.set_default()


@pytest.mark.celery
def test_a_worker_opens_a_cycle_and_delivers_one_invitation_per_rater(org, worker, smtp):
    assert smtp.port == settings.EMAIL_PORT
    cycle = services.create_cycle(name="worker", deadline=timezone.now() + dt.timedelta(days=7))

    worker.send_task("reviews.tasks.open_cycle", args=[cycle.pk])

    assert wait_for(lambda: len(smtp.messages) >= 2)
    cycle.refresh_from_db()
    assert cycle.status == CycleStatus.OPEN
    assert ReviewRequest.objects.filter(cycle=cycle).count() == 9
    assert wait_for(
        lambda: NotificationLog.objects.filter(status=NotificationStatus.SENT).count() == 2
    )
    # Sent again (a duplicated message): nothing new is created or delivered.
    worker.send_task("reviews.tasks.open_cycle", args=[cycle.pk])
    worker.send_task("reviews.tasks.dispatch_notifications", args=[cycle.pk, "invitation", 0])
    time.sleep(3)
    assert ReviewRequest.objects.filter(cycle=cycle).count() == 9
    assert sorted(m["To"] for m in smtp.messages) == ["li@example.com", "zhang@example.com"]


@pytest.mark.celery
def test_a_worker_sweep_closes_an_overdue_cycle(org, worker, smtp):
    now = timezone.now()
    cycle = services.create_cycle(name="overdue", deadline=now + dt.timedelta(days=7))
    services.open_cycle(cycle)
    # The deadline passes while no worker watched.
    type(cycle).objects.filter(pk=cycle.pk).update(
        opens_at=now - dt.timedelta(days=8), deadline=now - dt.timedelta(minutes=1)
    )

    worker.send_task("reviews.tasks.sweep")

    assert wait_for(lambda: type(cycle).objects.get(pk=cycle.pk).status == CycleStatus.CLOSED)
    assert wait_for(
        lambda: NotificationLog.objects.filter(kind="closed", status="sent").count() == 2
    )
