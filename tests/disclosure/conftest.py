"""The attacker's tests: the results' company, cycles through the real services, N = 3."""

import pytest

from tests.results.conftest import corp, cycles, eager_celery, thresholds  # noqa: F401


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    """The companies' logins are hashed at hire: a cheap hasher keeps the tests fast."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
