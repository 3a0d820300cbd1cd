"""Services queue Celery tasks by name from the app's registry (`services._queue_tasks`), so a
process that has not imported `reviews.tasks` itself (the web server's) must still know them:
otherwise closing a cycle from the web queues no follow-up and no e-mail."""

import subprocess
import sys
from pathlib import Path

QUEUED_BY_SERVICES = (
    "reviews.tasks.dispatch_notifications",
    "reviews.tasks.cycle_closed_followup",
    "reviews.tasks.send_notification_batch",
)

CHECK = f"""
import django
django.setup()
from celery import current_app
missing = [name for name in {QUEUED_BY_SERVICES!r} if name not in current_app.tasks]
print("missing:", missing)
raise SystemExit(1 if missing else 0)
"""


def test_a_fresh_process_knows_every_task_services_queue():
    # A new interpreter, as gunicorn starts one: only Django's setup runs, no test module.
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
