"""A worker killed in the middle of a batch of invitations: once a worker runs again, what the
dead one held goes out within two minutes, once per rater (the notification log says what went).

Real `celery -A icr worker` processes on the broker of the pass (Redis beside PostgreSQL,
database 5 by default or ICR_REVIEWS_TEST_REDIS; kombu's filesystem transport beside SQLite),
reading the test database. E-mails are files (tests/reviews/slow_mail.py), which outlive the
worker. The lease and the recovery's interval are shortened through the environment.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.db import connection
from django.utils import timezone

from relations.services import hire_employee
from reviews import services
from reviews.models import NotificationLog, NotificationStatus
from tests.factories import DepartmentFactory

from .slow_mail import delivered

REDIS_URL = os.environ.get("ICR_REVIEWS_TEST_REDIS", "redis://127.0.0.1:6379/5")
ROOT = Path(__file__).resolve().parents[2]

RATERS = 25
BATCH = 10
# The first worker delivers a whole batch and 3 messages of the next, then hangs on the 14th
# until it is killed, holding the rest of that batch; the third batch waits on the broker.
HANG_AFTER = 13
LEASE_SECONDS = 3
RECOVERY_SECONDS = 1


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def counts() -> Counter:
    return Counter(NotificationLog.objects.values_list("status", flat=True))


@pytest.fixture
def staff(transactional_db) -> list[str]:
    """A head and 24 reports, each with an address: 25 raters (the rank edges both ways)."""
    department = DepartmentFactory()
    head = hire_employee(
        employee_id="H000", name="主管", department=department, email="h000@example.com"
    )
    addresses = [head.email]
    for n in range(1, RATERS):
        report = hire_employee(
            employee_id=f"H{n:03d}",
            name=f"组员{n}",
            department=department,
            manager=head,
            email=f"h{n:03d}@example.com",
        )
        addresses.append(report.email)
    return addresses


@pytest.fixture
def workers(staff, tmp_path):
    """Starts `celery -A icr worker` processes on this pass's broker; yields (start, producer)."""
    mail = tmp_path / "mail"
    mail.mkdir()
    env = {
        **os.environ,
        "ICR_DEV": "1",
        "ICR_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_CONN_MAX_AGE": "0",
        "EMAIL_BACKEND": "tests.reviews.slow_mail.EmailBackend",
        "ICR_TEST_MAIL_DIR": str(mail),
        "ICR_TEST_MAIL_DELAY": "0.1",
        "ICR_NOTIFICATION_BATCH": str(BATCH),
        "ICR_NOTIFICATION_LEASE_SECONDS": str(LEASE_SECONDS),
        "ICR_NOTIFICATION_RECOVERY_SECONDS": str(RECOVERY_SECONDS),
        # Only the recovery of held notifications runs on its own during the test.
        "ICR_REVIEWS_SWEEP_SECONDS": "3600",
        "ICR_RESULTS_REFRESH_SECONDS": "3600",
    }
    env.pop("REDIS_URL", None)
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        redis.Redis.from_url(REDIS_URL).flushdb()  # this test's own Redis database
        user = db.get("USER") or "postgres"
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        host = db.get("HOST") or "127.0.0.1"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        env["DATABASE_URL"] = f"postgres://{user}{password}@{host}{port}/{db['NAME']}"
        env["REDIS_URL"] = REDIS_URL
        producer = Celery("icr-test-producer", broker=REDIS_URL)
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
        queue = tmp_path / "var" / "celery" / "queue"  # where ICR_VAR_DIR puts the worker's
        queue.mkdir(parents=True)
        producer = Celery("icr-test-producer", broker="filesystem://")
        producer.conf.broker_transport_options = {
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "store_processed": False,
        }
    started: list[tuple[subprocess.Popen, Path]] = []

    def start(name: str, *, beat: bool = False, **extra: str) -> subprocess.Popen:
        log = tmp_path / f"{name}.log"
        command = [sys.executable, "-m", "celery", "-A", "icr", "worker", "--pool=solo"]
        command += ["--without-mingle", "--without-gossip", "--loglevel=INFO", "-n", f"{name}@%h"]
        if beat:
            command += ["-B", f"--schedule={tmp_path / 'beat-schedule'}"]
        with log.open("w") as out:
            # A session of its own: the worker and its embedded beat die together.
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**env, **extra},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append((proc, log))
        return proc

    try:
        yield start, producer, mail
    finally:
        for proc, log in started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")


@pytest.mark.celery
def test_invitations_a_killed_worker_held_go_out_once_soon_after_a_restart(staff, workers):
    start, producer, mail = workers
    cycle = services.create_cycle(name="crash", deadline=timezone.now() + dt.timedelta(days=7))
    first = start("first", ICR_TEST_MAIL_HANG_AFTER=str(HANG_AFTER))

    producer.send_task("reviews.tasks.open_cycle", args=[cycle.pk])
    assert wait_for(lambda: counts()[NotificationStatus.SENT] == HANG_AFTER, timeout=120)
    # The worker now hangs in the 14th message; it dies holding the rest of batch 2.
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()
    at_kill = counts()
    held = at_kill[NotificationStatus.SENDING]
    # The broker hands out the batches in any order: the dead worker holds what it had left of
    # the second one it took, the third is still on the broker.
    assert held in (2 * BATCH - HANG_AFTER, RATERS - HANG_AFTER - BATCH)
    assert at_kill[NotificationStatus.PENDING] == RATERS - HANG_AFTER - held
    assert len(delivered(mail)) == HANG_AFTER

    start("second", beat=True)
    restarted_at = time.monotonic()
    assert wait_for(lambda: counts()[NotificationStatus.SENT] == RATERS, timeout=120)
    done_at = time.monotonic()

    recipients = delivered(mail)
    assert Counter(recipients) == Counter(staff)  # everyone once, nobody twice
    assert counts() == {NotificationStatus.SENT: RATERS}
    resent = NotificationLog.objects.filter(attempts__gt=1).count()
    assert resent == held
    print(
        f"held by the killed worker: {held}, resent: {resent}; "
        f"all {RATERS} sent {done_at - restarted_at:.1f} s after the restart, "
        f"{done_at - killed_at:.1f} s after the kill (lease {LEASE_SECONDS} s, "
        f"recovery every {RECOVERY_SECONDS} s)"
    )
