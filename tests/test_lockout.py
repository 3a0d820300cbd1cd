"""Sign-in lockout: too many failures pause a login or an address, HR lifts it, time ends it."""

import datetime as dt

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.admin.models import LogEntry
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from relations.lockout import client_address
from tests.conftest import PASSWORD

LOCKED = "Signing in is paused"


@pytest.fixture(autouse=True)
def limits(settings):
    # The limits are the defaults, fixed here whatever the environment says.
    settings.AXES_FAILURE_LIMIT = 5
    settings.ICR_LOCKOUT_ADDRESS_FAILURE_LIMIT = 20
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)


def browser(address: str = "10.0.0.1") -> Client:
    return Client(REMOTE_ADDR=address)


def sign_in(client: Client, login: str, password: str = PASSWORD, url: str | None = None):
    return client.post(url or reverse("login"), {"username": login, "password": password})


def signed_in(client: Client) -> bool:
    return client.get("/accounts/password_change/").wsgi_request.user.is_authenticated


def fail(client: Client, login: str, times: int, url: str | None = None):
    for _ in range(times):
        response = sign_in(client, login, "not-the-password", url)
    return response


def assert_locked_out(response):
    assert response.status_code == 429
    assert LOCKED in response.content.decode()


def test_the_app_login_refuses_the_right_password_after_five_failures(company):
    client = browser()
    for _ in range(4):
        response = sign_in(client, "E003", "not-the-password")
        assert response.status_code == 200  # the form again, with its error

    assert_locked_out(sign_in(client, "E003", "not-the-password"))
    response = sign_in(client, "E003")

    assert_locked_out(response)
    assert "15 minutes" in response.content.decode()
    assert not signed_in(client)


def test_the_admin_login_refuses_the_right_password_after_five_failures(hr_user):
    client = browser()
    admin_login = reverse("admin:login")
    fail(client, "hr", 5, admin_login)

    response = sign_in(client, "hr", url=admin_login)

    assert_locked_out(response)
    assert client.get(reverse("admin:index")).status_code == 302


def test_the_lockout_page_speaks_the_browsers_language(company):
    client = Client(REMOTE_ADDR="10.0.0.1", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    fail(client, "E003", 5)

    response = sign_in(client, "E003")

    assert response.status_code == 429
    assert "登录已暂停" in response.content.decode()


def test_employee_id_and_email_in_any_case_count_as_one_login(company):
    client = browser()
    for login in ("E003", "e003", "zhang@example.com", "ZHANG@Example.com"):
        assert sign_in(client, login, "not-the-password").status_code == 200

    assert_locked_out(sign_in(client, " Zhang@example.com ", "not-the-password"))
    assert_locked_out(sign_in(client, "E003"))


def test_a_locked_login_stays_locked_from_another_address_and_others_are_unaffected(company):
    fail(browser("10.0.0.1"), "E003", 5)

    # The login is locked wherever its owner (or whoever guesses) comes from ...
    assert_locked_out(sign_in(browser("10.0.0.2"), "E003"))
    # ... another login from the same address, or from elsewhere, signs in.
    colleague = browser("10.0.0.1")
    assert sign_in(colleague, "E002").status_code == 302
    assert signed_in(colleague)
    elsewhere = browser("10.0.0.2")
    assert sign_in(elsewhere, "li@example.com").status_code == 302
    assert signed_in(elsewhere)


def test_an_address_trying_many_logins_is_locked_for_every_login(company):
    spraying = browser("10.0.0.9")
    for n in range(20):
        sign_in(spraying, f"E{n + 500}", PASSWORD)

    assert_locked_out(sign_in(browser("10.0.0.9"), "E002"))
    other = browser("10.0.0.1")
    assert sign_in(other, "E002").status_code == 302


def test_a_successful_sign_in_clears_that_logins_failures(company):
    client = browser()
    fail(client, "E003", 4)
    assert sign_in(client, "E003").status_code == 302
    client.logout()

    # Four more failures are four, not eight.
    assert fail(client, "E003", 4).status_code == 200
    assert sign_in(client, "E003").status_code == 302


def test_a_colleague_signing_in_from_the_same_address_does_not_lift_a_lockout(company):
    # Someone with a login of their own, guessing a colleague's password between own sign-ins.
    guesser = browser()
    fail(guesser, "E003", 4)
    assert sign_in(guesser, "E002").status_code == 302
    guesser.logout()

    assert_locked_out(sign_in(guesser, "E003", "not-the-password"))
    assert_locked_out(sign_in(browser("10.0.0.2"), "E003"))


def test_the_lockout_ends_after_the_cool_off_and_retrying_does_not_extend_it(company):
    client = browser()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        fail(client, "E003", 5)
    with time_machine.travel(start + dt.timedelta(minutes=10), tick=False):
        assert_locked_out(sign_in(client, "E003"))
    with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
        assert sign_in(client, "E003").status_code == 302


def test_hr_unlocks_a_person_from_the_employee_admin(company, hr_user):
    seller = company["seller"]
    person = browser()
    fail(person, "E003", 5)
    hr = Client()
    hr.force_login(hr_user)

    response = hr.post(
        reverse("admin:relations_employee_changelist"),
        {"action": "unlock_sign_in", "_selected_action": [seller.pk, company["ceo"].pk]},
        follow=True,
    )

    assert "Unlocked the sign-in of 1 person." in response.content.decode()
    assert not AccessAttempt.objects.filter(username="E003").exists()
    assert LogEntry.objects.filter(object_id=str(seller.pk), change_message="Unlocked sign-in")
    assert sign_in(person, "E003").status_code == 302
    assert signed_in(person)


def test_hr_sees_and_clears_lockouts_under_access_attempts(company, hr_user):
    person = browser()
    fail(person, "E003", 5)
    hr = Client()
    hr.force_login(hr_user)
    changelist = reverse("admin:axes_accessattempt_changelist")

    page = hr.get(changelist)
    assert page.status_code == 200
    assert "E003" in page.content.decode()
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = hr.post(
        changelist,
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )

    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert sign_in(person, "E003").status_code == 302


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no proxy: the header is the client's own words
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.7, 203.0.113.9", "203.0.113.9"),  # a forged entry on the left
        (2, "203.0.113.9, 192.0.2.1", "203.0.113.9"),
        (1, "", "10.0.0.1"),  # a proxy that does not set it
        (1, "not-an-address", "10.0.0.1"),
    ],
)
def test_the_client_address_is_the_one_the_proxy_saw(settings, proxies, forwarded, expected):
    settings.ICR_PROXY_COUNT = proxies
    request = RequestFactory().post(
        "/accounts/login/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded
    )
    assert client_address(request) == expected
