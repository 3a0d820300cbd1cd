"""`make run` after HR replaced the demo company with their own: no dead demo logins printed."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from relations.models import Employee
from tests.relations.import_helpers import import_ok


def setup_demo() -> str:
    out = StringIO()
    with translation.override("en"):
        call_command("setup_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_run_after_importing_own_company_prints_only_logins_that_work(settings):
    settings.DEBUG = True
    first = setup_demo()
    assert "E0001" in first
    import_ok()  # HR's own company: every demo person is missing from the file, so leaves

    output = setup_demo()

    assert not Employee.objects.active().filter(employee_id="E0001").exists()
    assert "E0001" not in output
    assert "already loaded" not in output
    assert "username hr" in output
