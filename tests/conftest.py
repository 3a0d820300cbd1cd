import contextlib
import os

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import RequestFactory, override_settings

from relations import services
from relations.roles import HR_GROUP
from tests.factories import DepartmentFactory

PASSWORD = "icr-test-pass-123"
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in_request(address: str = "127.0.0.1"):
    """The request of a sign-in, for authenticate() and client.login(request=…): the sign-in
    lockout (axes) counts failures by the request's address and refuses to work without one."""
    return RequestFactory().post("/accounts/login/", REMOTE_ADDR=address)


def pytest_collection_modifyitems(config, items):
    """A test of one database's own behaviour (marked `postgresql` or `sqlite`) runs in that
    database's pass (CI runs both); in the other it is deselected rather than skipped."""
    from django.conf import settings

    other = "sqlite" if "postgresql" in settings.DATABASES["default"]["ENGINE"] else "postgresql"
    kept = [item for item in items if item.get_closest_marker(other) is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def pytest_report_header(config):
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE']}"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Passwords hashed with MD5 in tests: production's PBKDF2 (a million iterations) made
    fixtures that sign people in most of the suite's time. No test measures hashing cost."""
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@contextlib.contextmanager
def kept_for_the_module(django_db_blocker, **overrides):
    """For a module-scoped fixture that loads data once for its module's tests (the demo takes
    seconds): the database opened to it, with these settings and the tests' fast hashers, in a
    transaction rolled back after the module. Each test then runs in its own savepoint inside
    it (pytest-django's `db`), so what one test changes, the next does not see."""
    settings = override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS, **overrides)
    with django_db_blocker.unblock(), settings, transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _fresh_criteria_cache():
    """Each test starts without cached criteria: a rolled-back cycle's id comes back."""
    from reviews.services import forget_cached_criteria

    forget_cached_criteria()
    yield
    forget_cached_criteria()


@pytest.fixture
def eager_celery():
    """Tasks run in the calling process when queued, their errors raised (tests/reviews and
    tests/results have their own, for every test there)."""
    from icr.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


@pytest.fixture
def company(db):
    """A small company: 总部 with 销售部 and 商务部; a head each, staff under them."""
    hq = DepartmentFactory(code="HQ", name="总部")
    sales = DepartmentFactory(code="SALES", name="销售部", parent=hq)
    commerce = DepartmentFactory(code="COM", name="商务部", parent=hq)
    ceo = services.hire_employee(employee_id="E001", name="王总", department=hq)
    sales_head = services.hire_employee(
        employee_id="E002", name="李销售", department=sales, manager=ceo, email="li@example.com"
    )
    seller = services.hire_employee(
        employee_id="E003",
        name="张三",
        department=sales,
        manager=sales_head,
        email="zhang@example.com",
    )
    commerce_head = services.hire_employee(
        employee_id="E004", name="赵商务", department=commerce, manager=ceo
    )
    for dept, head in ((hq, ceo), (sales, sales_head), (commerce, commerce_head)):
        dept.head = head
        dept.save(update_fields=["head"])
    for emp in (ceo, sales_head, seller, commerce_head):
        emp.user.set_password(PASSWORD)
        emp.user.save(update_fields=["password"])
    return {
        "hq": hq,
        "sales": sales,
        "commerce": commerce,
        "ceo": ceo,
        "sales_head": sales_head,
        "seller": seller,
        "commerce_head": commerce_head,
    }


@pytest.fixture
def hr_user(db, django_user_model):
    user = django_user_model.objects.create_user(
        username="hr", password=PASSWORD, is_staff=True, email="hr@example.com"
    )
    group, _ = Group.objects.get_or_create(name=HR_GROUP)
    user.groups.add(group)
    return user


def pytest_unconfigure(config):
    """SQLite in WAL mode leaves -wal/-shm files beside the removed test database."""
    from django.conf import settings

    test_name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and test_name:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(test_name + suffix)
