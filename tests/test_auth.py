"""Logins: sign-in by employee id or e-mail, first password by e-mail link, departures."""

import re
from smtplib import SMTPException
from unittest import mock

import pytest
from django.contrib.auth import authenticate
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.mail.backends import locmem
from django.test import Client
from django.urls import reverse

from relations import services
from relations.tasks import send_password_reset
from tests.conftest import PASSWORD, sign_in_request

# The password-set mail leaves from a Celery task: run it as it is queued.
pytestmark = pytest.mark.usefixtures("eager_celery")

# Any page that needs a login; Django's own, so the test does not depend on ICR's pages.
PRIVATE_URL = "/accounts/password_change/"


def log_in(client, login: str, password: str) -> bool:
    return client.login(request=sign_in_request(), username=login, password=password)


def authenticated(login: str, password: str):
    return authenticate(sign_in_request(), username=login, password=password)


def _signed_in_as(client):
    response = client.get(PRIVATE_URL)
    user = response.wsgi_request.user
    return user.get_username() if user.is_authenticated else None


def client_for(employee):
    other = Client()
    other.force_login(employee.user)
    return other


@pytest.mark.parametrize("login", ["E003", "e003", "zhang@example.com", "ZHANG@Example.COM"])
def test_sign_in_by_employee_id_or_email_in_any_case(client, company, login):
    assert log_in(client, login, PASSWORD)
    assert _signed_in_as(client) == "E003"


def test_sign_in_through_the_login_page_with_the_email(client, company):
    response = client.post(
        reverse("login"), {"username": " zhang@example.com ", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert _signed_in_as(client) == "E003"


def test_wrong_password_is_refused(client, company):
    assert not log_in(client, "E003", "not-the-password")
    assert not log_in(client, "zhang@example.com", "not-the-password")
    assert _signed_in_as(client) is None


def test_inactive_login_is_refused(client, company):
    user = company["seller"].user
    user.is_active = False
    user.save(update_fields=["is_active"])

    assert not log_in(client, "E003", PASSWORD)
    assert authenticated("zhang@example.com", PASSWORD) is None


def test_an_email_shared_by_two_logins_signs_in_neither(company):
    commerce_head = company["commerce_head"]
    # Two people with one (team) address: the address cannot say who is signing in.
    for employee in (company["seller"], commerce_head):
        employee.user.email = "team@example.com"
        employee.user.save(update_fields=["email"])

    assert authenticated("team@example.com", PASSWORD) is None
    assert authenticated("E004", PASSWORD) == commerce_head.user


def test_a_login_named_like_another_users_email_wins_over_the_email(django_user_model, company):
    # Username match first: the person who owns the username is the one signing in.
    odd = django_user_model.objects.create_user(username="zhang@example.com", password="x-9f!kq2")

    assert authenticated("zhang@example.com", "x-9f!kq2") == odd
    assert authenticated("zhang@example.com", PASSWORD) is None


def test_departure_disables_the_login_and_ends_its_sessions(
    client, company, django_capture_on_commit_callbacks
):
    seller = company["seller"]
    assert log_in(client, "E003", PASSWORD)
    assert _signed_in_as(client) == "E003"
    other = client_for(company["sales_head"])

    with django_capture_on_commit_callbacks(execute=True):
        services.deactivate_employees([seller.pk])

    assert _signed_in_as(client) is None
    seller.user.refresh_from_db()
    assert not seller.user.is_active
    remaining = [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]
    assert str(seller.user.pk) not in remaining
    assert not log_in(client, "E003", PASSWORD)
    # Someone else's session is untouched.
    assert _signed_in_as(other) == "E002"


def test_a_hired_employee_has_no_usable_password(company):
    newcomer = services.hire_employee(
        employee_id="E100", name="新人", department=company["sales"], email="new@example.com"
    )

    assert newcomer.user.username == "E100"
    assert newcomer.user.email == "new@example.com"
    assert not newcomer.user.has_usable_password()
    assert authenticated("E100", "") is None
    assert authenticated("new@example.com", "!") is None


def test_a_login_without_password_gets_a_set_password_link_and_can_then_sign_in(client, company):
    services.hire_employee(
        employee_id="E100", name="新人", department=company["sales"], email="new@example.com"
    )

    response = client.post(reverse("password_reset"), {"email": "New@Example.com"})

    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@example.com"]
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body).group(1)
    set_page = client.get(link, follow=True)
    assert set_page.status_code == 200
    response = client.post(
        set_page.redirect_chain[-1][0],
        {"new_password1": "Blue-river-42-tea", "new_password2": "Blue-river-42-tea"},
    )
    assert response.status_code == 302
    assert log_in(client, "E100", "Blue-river-42-tea")


def test_no_reset_mail_for_an_inactive_login(client, company):
    services.deactivate_employees([company["seller"].pk])

    client.post(reverse("password_reset"), {"email": "zhang@example.com"})

    assert mail.outbox == []


def test_a_known_and_an_unknown_address_get_the_same_answer_and_the_same_task(
    client, company, django_assert_num_queries
):
    # No lookup on the page (no query at all): the task does it.
    with (
        mock.patch.object(send_password_reset, "delay") as queue,
        django_assert_num_queries(0),
    ):
        known = client.post(reverse("password_reset"), {"email": "zhang@example.com"})
        unknown = client.post(reverse("password_reset"), {"email": "nobody@example.com"})

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    same = {"domain": "testserver", "use_https": False, "language": "en"}
    assert queue.call_args_list == [
        mock.call("zhang@example.com", **same),
        mock.call("nobody@example.com", **same),
    ]
    assert mail.outbox == []


def test_the_reset_task_mails_a_known_address_only_in_the_asking_language(company):
    options = {"domain": "icr.example.com", "use_https": True, "language": "zh-hans"}

    send_password_reset.apply(("nobody@example.com",), options).get()
    assert mail.outbox == []
    send_password_reset.apply(("Zhang@Example.com",), options).get()

    assert [m.to for m in mail.outbox] == [["zhang@example.com"]]
    assert mail.outbox[0].subject == "ICR：设置密码"
    assert "https://icr.example.com/accounts/reset/" in mail.outbox[0].body


class RefusesOnce(locmem.EmailBackend):
    refusals = 0

    def send_messages(self, messages):
        if RefusesOnce.refusals:
            RefusesOnce.refusals -= 1
            raise SMTPException("451 try again later")
        return super().send_messages(messages)


def test_a_reset_mail_the_server_refuses_is_sent_again(company, settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusesOnce"
    RefusesOnce.refusals = 1
    options = {"domain": "testserver", "use_https": False, "language": "en"}

    # throw=False: an eager task then runs its retries at once, as a worker would later.
    result = send_password_reset.apply(("zhang@example.com",), options, throw=False)

    assert result.successful()
    assert RefusesOnce.refusals == 0
    assert [m.to for m in mail.outbox] == [["zhang@example.com"]]
