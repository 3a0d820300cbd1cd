"""The sign-in page with the company's identity switched on: "sign in with …" first, and ICR's
own passwords, when switched off, left to a break-glass superuser. Settings from the environment."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from tests.conftest import PASSWORD, sign_in_request

PRIVATE_URL = "/accounts/password_change/"


@pytest.fixture
def oidc_named(settings):
    settings.ICR_OIDC_ENABLED = True
    settings.ICR_OIDC_PROVIDER_NAME = "Keycloak"


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(
        username="root", password=PASSWORD, email="root@example.com"
    )


def signed_in_as(client):
    user = client.get(PRIVATE_URL).wsgi_request.user
    return user.get_username() if user.is_authenticated else None


def test_without_the_company_identity_the_page_is_icr_passwords_only(client, db):
    page = client.get(reverse("login")).content.decode()

    assert 'id="oidc-sign-in"' not in page
    assert 'id="break-glass"' not in page
    assert reverse("password_reset") in page


def test_the_provider_button_comes_before_the_password_form(client, db, oidc_named):
    page = client.get(reverse("login") + "?next=/results/").content.decode()

    assert "Sign in with Keycloak" in page
    assert page.index('id="oidc-sign-in"') < page.index('id="login-form"')
    assert 'href="/accounts/oidc/login/?next=/results/"' in page
    assert 'id="break-glass"' not in page  # ICR passwords still for everyone: the form is open
    assert reverse("password_reset") in page


def test_the_page_speaks_chinese(client, db, oidc_named, settings):
    settings.ICR_PASSWORD_LOGIN = "superuser_only"

    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "使用Keycloak登录" in page
    assert "管理员登录（公司统一登录不可用时）" in page


def test_switched_off_passwords_leave_only_the_break_glass_superuser(
    client, company, superuser, oidc_named, settings
):
    settings.ICR_PASSWORD_LOGIN = "superuser_only"

    page = client.get(reverse("login")).content.decode()
    assert page.index('id="oidc-sign-in"') < page.index('id="break-glass"')
    assert page.index('id="break-glass"') < page.index('id="login-form"')
    assert reverse("password_reset") not in page

    refused = client.post(reverse("login"), {"username": "E003", "password": PASSWORD})
    assert refused.status_code == 200
    assert signed_in_as(client) is None
    assert not client.login(request=sign_in_request(), username="E003", password=PASSWORD)

    client.post(reverse("login"), {"username": "root", "password": PASSWORD})
    assert signed_in_as(client) == "root"


def test_switched_off_passwords_close_the_admin_login_to_hr_too(
    client, company, hr_user, oidc_named, settings
):
    settings.ICR_PASSWORD_LOGIN = "superuser_only"

    client.post(reverse("admin:login"), {"username": "hr", "password": PASSWORD})

    assert signed_in_as(client) is None


def _settings_in_a_fresh_process(**env: str) -> subprocess.CompletedProcess:
    """icr.settings read from this environment, as a deployment starts: the sign-in flags."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ICR_OIDC", "ICR_LDAP"))}
    clean.pop("ICR_PASSWORD_LOGIN", None)
    code = (
        "import json; import icr.settings as s; "
        "print(json.dumps([s.ICR_OIDC_ENABLED, s.ICR_LDAP_ENABLED, s.ICR_PASSWORD_LOGIN, "
        "s.ICR_LDAP_SERVER_URI, s.ICR_OIDC_DISCOVERY_URL]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env={**clean, "ICR_DEV": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_environment_switches_the_company_identity_on():
    both = _settings_in_a_fresh_process(
        ICR_OIDC_ISSUER="https://sso.example.com/realms/acme",
        ICR_OIDC_CLIENT_ID="icr",
        ICR_LDAP_SERVER_URI="ldaps://ad.example.com",
        ICR_LDAP_USER_BASE="ou=people,dc=example,dc=com",
        ICR_PASSWORD_LOGIN="superuser_only",
        # Blank, as docker-compose passes what .env leaves out: the default.
        ICR_OIDC_DISCOVERY_URL="",
    )
    assert both.returncode == 0, both.stderr
    assert json.loads(both.stdout.splitlines()[-1]) == [
        True,
        True,
        "superuser_only",
        "ldaps://ad.example.com",
        "https://sso.example.com/realms/acme/.well-known/openid-configuration",
    ]
    # And off by default (this test process has none of them set).
    assert not django_settings.ICR_OIDC_ENABLED and not django_settings.ICR_LDAP_ENABLED
    assert django_settings.ICR_PASSWORD_LOGIN == "all"


def test_passwords_cannot_be_switched_off_without_another_way_in():
    result = _settings_in_a_fresh_process(ICR_PASSWORD_LOGIN="superuser_only")

    assert result.returncode != 0
    assert "ICR_PASSWORD_LOGIN=superuser_only needs" in result.stderr


def test_the_admin_sends_people_to_the_page_that_offers_the_provider(client, db, oidc_named):
    response = client.get("/admin/")
    login = client.get(response["Location"])

    assert login.status_code == 302
    assert login["Location"] == "/accounts/login/?next=/admin/"
