"""The attacker's tests: the results' company, cycles through the real services, N = 3."""

from tests.results.conftest import corp, cycles, eager_celery, thresholds  # noqa: F401
