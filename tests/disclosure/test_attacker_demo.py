"""The attacker of `tests/disclosure/attacker.py` on the demo company's last closed cycle, as
HR and as a department head: no score of a hidden or small group may be pinned.

The demo is loaded once for the module (`tests.conftest.kept_for_the_module`); the attacks only
read it. Apart from the other attacker tests, whose random companies must not land beside it.
"""

import pytest

from icr.celery import app as celery_app
from relations import demo as org_demo
from relations.models import Department
from reviews.demo import load_review_demo
from reviews.models import Cycle, CycleStatus
from tests.conftest import kept_for_the_module
from tests.disclosure import attacker as atk
from tests.disclosure.test_attacker import _published, assert_safe


@pytest.fixture(scope="module")
def demo_loaded_once(django_db_setup, django_db_blocker):
    # As each test of tests/disclosure runs: tasks in the calling process, N = 3, M = 5.
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    try:
        with kept_for_the_module(django_db_blocker, ICR_MIN_RATERS=3, ICR_MIN_COMMENT_RATERS=5):
            org_demo.load_demo()
            load_review_demo()
            yield Cycle.objects.filter(status=CycleStatus.CLOSED).order_by("-deadline").first()
    finally:
        celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = False


@pytest.fixture
def demo_cycle(demo_loaded_once, db) -> Cycle:
    return demo_loaded_once


def test_hr_pins_no_score_of_the_demo(demo_cycle):
    # Coarse figures (`Rollup.coarse`) bound the scores loosely: a few solves take a minute.
    assert_safe(_published(demo_cycle, atk.hr(), seconds=300, solve_seconds=90))


def test_a_head_pins_no_score_of_the_demo(demo_cycle):
    department = (
        Department.objects.filter(parent__isnull=False, children__isnull=False)
        .distinct()
        .order_by("code")
        .first()
    )
    assert_safe(_published(demo_cycle, atk.head(department)))
