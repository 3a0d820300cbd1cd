"""Production settings pass Django's deployment checklist."""

import os
import secrets
import subprocess
import sys

from django.conf import settings


def _production_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "ICR_DEV", "SECRET_KEY", "SECRET_KEY_FILE", "ALLOWED_HOSTS"}
    }
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "icr.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://icr.example.com",
        }
    )
    env.update(extra)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_reports_no_issues_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = _production_env()
    del env["SECRET_KEY"]

    result = _manage("check", env=env)

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_a_mistyped_debug_value_stops_start_up():
    result = _manage("check", env=_production_env(DEBUG="flase"))

    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr
