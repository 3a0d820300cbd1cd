"""The nightly graph sync: what it repairs, its schedule, and a real worker running it."""

import threading

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections
from django_celery_beat.models import PeriodicTask

from icr.celery import app as icr_app
from relations.models import Edge, EdgeType, Employee
from relations.tasks import (
    SYNC_GRAPH_SCHEDULE_NAME,
    SYNC_GRAPH_TASK,
    ensure_periodic_tasks,
    sync_graph,
)


def _active_rank_pairs() -> set[tuple[int, int]]:
    return set(
        Edge.objects.active()
        .filter(type=EdgeType.RANK, rank_kind="task")
        .values_list("provider_employee_id", "customer_employee_id")
    )


def test_sync_graph_repairs_rank_edges_after_a_change_written_around_the_services(company):
    seller, ceo = company["seller"], company["ceo"]
    # A manual database fix: the reporting line changes without the services.
    Employee.objects.filter(pk=seller.pk).update(manager=ceo)

    result = sync_graph.apply().get()

    assert result["rank"] == {"created": 1, "retired": 1}
    assert (seller.pk, ceo.pk) in _active_rank_pairs()
    assert (seller.pk, company["sales_head"].pk) not in _active_rank_pairs()


def test_sync_graph_changes_nothing_on_a_consistent_graph(company):
    before = set(Edge.objects.values_list("id", "valid_to"))

    result = sync_graph()

    assert result == {
        "rank": {"created": 0, "retired": 0},
        "process": {"created": 0, "retired": 0},
    }
    assert set(Edge.objects.values_list("id", "valid_to")) == before


def test_periodic_sync_is_registered_once_and_keeps_hr_changes(db):
    ensure_periodic_tasks()
    task = PeriodicTask.objects.get(name=SYNC_GRAPH_SCHEDULE_NAME)
    assert task.task == SYNC_GRAPH_TASK
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("2", "30")
    task.enabled = False
    task.save()

    ensure_periodic_tasks()

    assert PeriodicTask.objects.filter(task=SYNC_GRAPH_TASK).count() == 1
    assert not PeriodicTask.objects.get(name=SYNC_GRAPH_SCHEDULE_NAME).enabled


@pytest.fixture
def worker_app(tmp_path):
    """An app like icr's on its own broker queue, so no `make run` worker takes the message."""
    app = Celery("icr-test")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.worker_hijack_root_logger = False
    app.conf.worker_redirect_stdouts = False
    if app.conf.broker_url.startswith("filesystem"):
        queue = tmp_path / "queue"
        queue.mkdir()
        app.conf.broker_transport_options = {
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "control_folder": str(tmp_path),
            "store_processed": False,
        }
    app.conf.task_default_queue = f"icr-test-{tmp_path.name}"

    app.task_done = threading.Event()

    def after_task(**kwargs):
        # The worker thread's own connection would keep the test database open at teardown.
        connections.close_all()
        app.task_done.set()

    task_postrun.connect(after_task, weak=False)
    try:
        yield app
    finally:
        task_postrun.disconnect(after_task)
        icr_app.set_current()
        icr_app.set_default()


@pytest.mark.celery
def test_a_real_worker_runs_the_sync_from_the_broker(company, transactional_db, worker_app):
    seller, ceo = company["seller"], company["ceo"]
    Employee.objects.filter(pk=seller.pk).update(manager=ceo)

    with start_worker(worker_app, perform_ping_check=False, shutdown_timeout=30):
        worker_app.send_task(SYNC_GRAPH_TASK)
        # Wait for the worker rather than poll: SQLite's shared in-memory test database
        # refuses a read while another thread writes.
        assert worker_app.task_done.wait(timeout=60)

    assert (seller.pk, ceo.pk) in _active_rank_pairs()
