"""Sign in with the company's directory: a real slapd (tests/slapd.py) holds the people and
their passwords; ICR searches them by employee ID or e-mail, binds as them, and matches them to
their employee, never creating one. Its HR group makes HR."""

import socket
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from relations import services
from relations.roles import HR_GROUP, is_hr
from tests import slapd
from tests.conftest import PASSWORD

PRIVATE_URL = "/accounts/password_change/"
ZHANG_PASSWORD = "zhang-directory-pw"
LI_PASSWORD = "li-directory-pw"
STRANGER_PASSWORD = "stranger-directory-pw"


@pytest.fixture(scope="module")
def directory():
    people = "\n".join(
        [
            slapd.person("zhang", "张三", "E003", "zhang@example.com", ZHANG_PASSWORD),
            slapd.person("li", "李销售", "E002", "li@example.com", LI_PASSWORD),
            slapd.person("stranger", "路人", "E999", "stranger@example.com", STRANGER_PASSWORD),
        ]
    )
    with slapd.running_slapd(slapd.base_ldif(people, hr_members=["li"])) as directory:
        yield directory


@pytest.fixture
def ldap_on(settings, directory):
    icr = {
        "ICR_LDAP_SERVER_URI": directory.uri,
        "ICR_LDAP_BIND_DN": slapd.SEARCH_DN,
        "ICR_LDAP_BIND_PASSWORD": slapd.SEARCH_PASSWORD,
        "ICR_LDAP_USER_BASE": slapd.PEOPLE,
        "ICR_LDAP_USER_FILTER": "(|(employeeNumber=%(user)s)(mail=%(user)s))",
        "ICR_LDAP_MATCH_ATTR": "employeeNumber",
        "ICR_LDAP_MATCH_FIELD": "employee_id",
        "ICR_LDAP_GROUP_BASE": slapd.GROUPS,
        "ICR_LDAP_GROUP_TYPE": "groupOfNames",
        # Written as people type it: other case and spaces than the directory's own.
        "ICR_LDAP_HR_GROUP_DN": "CN=icr-hr, OU=groups, DC=example, DC=com",
    }
    for name, value in icr.items():
        setattr(settings, name, value)
    settings.ICR_LDAP_ENABLED = True
    return directory


def sign_in(client, login, password, **headers):
    return client.post(reverse("login"), {"username": login, "password": password}, **headers)


def signed_in_as(client):
    user = client.get(PRIVATE_URL).wsgi_request.user
    return user.get_username() if user.is_authenticated else None


@pytest.mark.parametrize("login", ["E003", "zhang@example.com"])
def test_the_directory_password_signs_in_by_employee_id_or_email(client, company, ldap_on, login):
    response = sign_in(client, login, ZHANG_PASSWORD)

    assert response.status_code == 302
    assert signed_in_as(client) == "E003"


def test_a_wrong_directory_password_is_refused(client, company, ldap_on):
    response = sign_in(client, "E003", "not-the-password")

    assert response.status_code == 200
    assert "your company password did not match" in response.content.decode()
    assert signed_in_as(client) is None


def test_a_person_of_the_directory_unknown_to_icr_is_refused(client, company, ldap_on):
    logins_before = get_user_model().objects.count()

    response = sign_in(client, "E999", STRANGER_PASSWORD)

    assert response.status_code == 200
    assert signed_in_as(client) is None
    assert get_user_model().objects.count() == logins_before  # nobody created


def test_an_employee_who_left_cannot_sign_in_with_the_directory_password(client, company, ldap_on):
    services.deactivate_employee(company["seller"])

    sign_in(client, "E003", ZHANG_PASSWORD)

    assert signed_in_as(client) is None


def test_the_directory_hr_group_makes_hr(client, company, ldap_on):
    sign_in(client, "li@example.com", LI_PASSWORD)

    user = get_user_model().objects.get(username="E002")
    assert signed_in_as(client) == "E002"
    assert is_hr(user) and user.is_staff
    assert client.get("/admin/").status_code == 200


def test_leaving_the_directory_hr_group_takes_hr_away(client, company, ldap_on):
    user = company["sales_head"].user
    sign_in(client, "E002", LI_PASSWORD)
    assert is_hr(user)
    client.logout()
    # A groupOfNames keeps one member at least: the group now holds someone else only.
    ldap_on.set_members(slapd.HR_GROUP_DN, [f"uid=zhang,{slapd.PEOPLE}"])
    try:
        sign_in(client, "E002", LI_PASSWORD)
    finally:
        ldap_on.set_members(slapd.HR_GROUP_DN, [f"uid=li,{slapd.PEOPLE}"])

    user.refresh_from_db()
    assert signed_in_as(client) == "E002"
    assert not user.groups.filter(name=HR_GROUP).exists() and not user.is_staff


def test_someone_outside_the_hr_group_is_not_hr(client, company, ldap_on):
    user = company["seller"].user
    user.groups.add(Group.objects.get_or_create(name=HR_GROUP)[0])

    sign_in(client, "E003", ZHANG_PASSWORD)

    assert signed_in_as(client) == "E003"
    assert not is_hr(user)


def test_the_icr_password_still_works_unless_switched_off(client, company, ldap_on, settings):
    assert sign_in(client, "E003", PASSWORD).status_code == 302
    client.logout()
    settings.ICR_PASSWORD_LOGIN = "superuser_only"

    sign_in(client, "E003", PASSWORD)
    assert signed_in_as(client) is None
    sign_in(client, "E003", ZHANG_PASSWORD)
    assert signed_in_as(client) == "E003"


def test_an_unreachable_directory_refuses_without_an_error_page(client, company, ldap_on, settings):
    settings.ICR_LDAP_SERVER_URI = "ldap://127.0.0.1:9"  # nothing listens there

    response = sign_in(client, "E003", ZHANG_PASSWORD)

    assert response.status_code == 200
    assert signed_in_as(client) is None


def test_what_is_typed_is_looked_up_as_a_value_not_as_a_filter(client, company, ldap_on):
    # Unescaped, "zhang@*" would be a wildcard that finds zhang's entry alone, and the sign-in
    # would go through with his password; "*)(…" would add a filter of the typist's own.
    for typed in ["zhang@*", "*)(mail=zhang@example.com"]:
        response = sign_in(client, typed, ZHANG_PASSWORD)

        assert response.status_code == 200
        assert signed_in_as(client) is None


def test_a_directory_that_never_answers_refuses_after_the_timeout(
    client, company, ldap_on, settings
):
    with socket.socket() as silent:
        # Accepts connections (the kernel does, from the backlog) and never says a word.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.ICR_LDAP_SERVER_URI = f"ldap://127.0.0.1:{silent.getsockname()[1]}"
        settings.ICR_LDAP_TIMEOUT_SECONDS = 1
        started = time.monotonic()

        response = sign_in(client, "E003", ZHANG_PASSWORD)

        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert signed_in_as(client) is None
    assert elapsed < 5


def test_the_directory_certificate_is_checked(client, company, ldap_on, settings, monkeypatch):
    # ldap3 takes any certificate unless told otherwise: a forged directory could collect the
    # passwords people type. Trusted (SSL_CERT_FILE, as README says for a company CA), it works.
    settings.ICR_LDAP_SERVER_URI = ldap_on.ldaps_uri
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    sign_in(client, "E003", ZHANG_PASSWORD)
    assert signed_in_as(client) is None

    monkeypatch.setenv("SSL_CERT_FILE", str(ldap_on.ca_file))
    sign_in(client, "E003", ZHANG_PASSWORD)
    assert signed_in_as(client) == "E003"


def test_wrong_directory_passwords_lock_the_login_like_icr_passwords(
    client, company, ldap_on, settings
):
    settings.AXES_FAILURE_LIMIT = 5
    for _ in range(5):
        sign_in(client, "zhang@example.com", "guess")

    response = sign_in(client, "E003", ZHANG_PASSWORD)

    assert "Signing in is paused" in response.content.decode()
    assert signed_in_as(client) is None
