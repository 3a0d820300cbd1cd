"""The results tests' company and cycle runner (tests/results/conftest.py), for needs."""

import pytest

from tests.results.conftest import CycleRunner, build_company


@pytest.fixture(autouse=True)
def _eager(eager_celery):
    yield


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.ICR_MIN_RATERS = 3
    settings.ICR_MIN_COMMENT_RATERS = 5
    settings.ICR_NOT_RECEIVED_MIN_RATERS = 2


@pytest.fixture
def corp(db):
    return build_company()


@pytest.fixture
def cycles(corp):
    return CycleRunner()
