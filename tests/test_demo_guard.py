"""When `setup_demo` leaves the database alone: over a company's own org chart, and on a
production site unless forced."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError

from relations import demo
from relations.models import Department, Employee
from tests.test_demo import setup_demo


def test_demo_is_not_loaded_over_an_existing_org_chart(company, settings):
    settings.DEBUG = True

    output = setup_demo()

    assert "not loaded" in output
    assert not Department.objects.filter(code=demo.ROOT_CODE).exists()
    assert Employee.objects.count() == 4


def test_setup_demo_refuses_a_production_site(db, settings):
    settings.DEBUG = False
    settings.DEV = False

    with pytest.raises(CommandError, match="production"):
        setup_demo()

    assert not Employee.objects.exists()
    assert not get_user_model().objects.filter(username="hr").exists()


def test_setup_demo_runs_in_production_only_when_forced(db, settings):
    settings.DEBUG = False
    settings.DEV = False

    setup_demo("--force")

    assert Employee.objects.count() == 60
