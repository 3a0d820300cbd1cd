"""Sign in with the company's OpenID provider: a real provider on loopback (tests/oidc_provider.py)
signs the ID tokens, and ICR verifies them, matches the employee, and refuses anyone else."""

import hashlib
import urllib.parse

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from relations import oidc, services
from relations.roles import HR_GROUP, is_hr
from tests.oidc_provider import _b64url, configure, running_provider

CALLBACK = "http://testserver/accounts/oidc/callback/"
PRIVATE_URL = "/accounts/password_change/"


@pytest.fixture(scope="module")
def provider():
    with running_provider([CALLBACK]) as provider:
        yield provider


@pytest.fixture
def oidc_on(settings, provider):
    configure(settings, provider)
    yield provider
    oidc._client_for.cache_clear()


def sign_in(client: Client, provider, person: dict, next_url: str = "", **headers):
    """Through ICR to the provider and back as a browser goes, with real HTTP to the provider."""
    provider.person = person
    start = "/accounts/oidc/login/" + (f"?next={urllib.parse.quote(next_url)}" if next_url else "")
    response = client.get(start, **headers)
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(f"{provider.issuer}/authorize?")
    at_provider = requests.get(response["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = at_provider.headers["Location"]
    assert back.startswith(CALLBACK)
    return client.get(back.removeprefix("http://testserver"), **headers)


def signed_in_as(client):
    user = client.get(PRIVATE_URL).wsgi_request.user
    return user.get_username() if user.is_authenticated else None


def person(email="zhang@example.com", **claims):
    return {"sub": f"sub-{email}", "email": email, "email_verified": True, **claims}


def test_the_provider_signs_in_the_employee_with_that_email(client, company, oidc_on):
    response = sign_in(client, oidc_on, person("ZHANG@Example.com"), next_url="/results/")

    assert response.status_code == 302
    assert response["Location"] == "/results/"
    assert signed_in_as(client) == "E003"
    # Authorization code flow with PKCE: a S256 challenge out, its verifier in the exchange.
    asked = oidc_on.authorize_requests[-1]
    exchanged = oidc_on.token_requests[-1]
    assert asked["response_type"] == "code"
    assert asked["code_challenge_method"] == "S256"
    verifier = exchanged["code_verifier"]
    assert _b64url(hashlib.sha256(verifier.encode()).digest()) == asked["code_challenge"]
    assert asked["nonce"]


def test_the_provider_signs_in_by_employee_id_claim(client, company, oidc_on, settings):
    settings.ICR_OIDC_MATCH_CLAIM = "employee_number"
    settings.ICR_OIDC_MATCH_FIELD = "employee_id"

    sign_in(client, oidc_on, {"sub": "x", "employee_number": "e002"})

    assert signed_in_as(client) == "E002"


def test_an_unknown_person_is_refused_with_a_page_that_says_why(client, company, oidc_on):
    logins_before = get_user_model().objects.count()

    response = sign_in(client, oidc_on, person("stranger@example.com"))

    assert response.status_code == 403
    assert 'data-reason="unknown"' in response.content.decode()
    assert "not linked to anyone in ICR" in response.content.decode()
    assert signed_in_as(client) is None
    assert get_user_model().objects.count() == logins_before  # nobody created


def test_the_refusal_page_speaks_chinese(client, company, oidc_on):
    response = sign_in(
        client, oidc_on, person("stranger@example.com"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    page = response.content.decode()
    assert response.status_code == 403
    assert "您的公司账号没有关联到 ICR 中的任何人" in page
    assert "无法登录" in page


@pytest.mark.parametrize("tamper", ["payload", "foreign_key"])
def test_a_tampered_token_is_refused(client, company, oidc_on, tamper):
    oidc_on.tamper = tamper

    # The seller signs in at the provider; the token is altered to name the sales head.
    response = sign_in(client, oidc_on, person("zhang@example.com"))

    assert response.status_code == 403
    assert 'data-reason="failed"' in response.content.decode()
    assert signed_in_as(client) is None


def test_an_employee_who_left_the_import_cannot_sign_in(client, company, oidc_on):
    services.deactivate_employee(company["seller"])

    response = sign_in(client, oidc_on, person("zhang@example.com"))

    assert response.status_code == 403
    assert 'data-reason="left"' in response.content.decode()
    assert signed_in_as(client) is None


def test_an_email_the_provider_has_not_verified_is_refused(client, company, oidc_on):
    response = sign_in(client, oidc_on, person("zhang@example.com", email_verified=False))

    assert response.status_code == 403
    assert signed_in_as(client) is None


def test_the_group_claim_makes_hr_and_its_absence_takes_hr_away(client, company, oidc_on):
    sign_in(client, oidc_on, person("li@example.com", groups=["staff", "icr-hr"]))

    user = get_user_model().objects.get(username="E002")
    assert is_hr(user) and user.is_staff
    assert client.get("/admin/").status_code == 200

    other = Client()
    sign_in(other, oidc_on, person("li@example.com", groups=["staff"]))

    user.refresh_from_db()
    assert not user.groups.filter(name=HR_GROUP).exists() and not user.is_staff
    assert other.get("/admin/").status_code == 302  # to the admin's login: no longer HR


def test_without_an_hr_group_configured_hr_is_left_to_the_admin(client, company, oidc_on, settings):
    settings.ICR_OIDC_HR_GROUP = ""
    user = company["sales_head"].user
    user.groups.add(Group.objects.get_or_create(name=HR_GROUP)[0])

    sign_in(client, oidc_on, person("li@example.com", groups=[]))

    assert user.groups.filter(name=HR_GROUP).exists()


def test_a_callback_replayed_is_refused(client, company, oidc_on):
    oidc_on.person = person()
    start = client.get("/accounts/oidc/login/")
    back = requests.get(start["Location"], allow_redirects=False, timeout=10).headers["Location"]
    path = back.removeprefix("http://testserver")
    assert client.get(path).status_code == 302
    client.logout()

    replayed = client.get(path)

    assert replayed.status_code == 403
    assert signed_in_as(client) is None


def test_the_provider_pages_are_absent_when_oidc_is_off(client, settings):
    settings.ICR_OIDC_ENABLED = False

    assert client.get("/accounts/oidc/login/").status_code == 404
    assert client.get("/accounts/oidc/callback/?code=x&state=y").status_code == 404


def test_an_email_two_current_employees_share_signs_in_neither(client, company, oidc_on):
    services.hire_employee(
        employee_id="E005", name="张三丰", department=company["sales"], email="zhang@example.com"
    )

    response = sign_in(client, oidc_on, person("zhang@example.com"))

    assert response.status_code == 403
    assert 'data-reason="ambiguous"' in response.content.decode()
    assert signed_in_as(client) is None


def test_a_refusal_at_the_provider_is_said_so(client, company, oidc_on):
    # Nobody signed in at the provider: it sends the browser back with an error, not a code.
    response = sign_in(client, oidc_on, None)

    assert response.status_code == 403
    assert 'data-reason="cancelled"' in response.content.decode()
    assert oidc_on.token_requests == []


def test_a_provider_without_discovery_works_from_its_endpoints(client, company, oidc_on, settings):
    settings.ICR_OIDC_DISCOVERY_URL = "http://127.0.0.1:9/nothing-here"  # must not be read
    settings.ICR_OIDC_AUTHORIZATION_ENDPOINT = f"{oidc_on.issuer}/authorize"
    settings.ICR_OIDC_TOKEN_ENDPOINT = f"{oidc_on.issuer}/token"
    settings.ICR_OIDC_JWKS_URI = f"{oidc_on.issuer}/jwks"

    sign_in(client, oidc_on, person("zhang@example.com"))
    assert signed_in_as(client) == "E003"

    client.logout()
    oidc_on.tamper = "foreign_key"
    assert sign_in(client, oidc_on, person("zhang@example.com")).status_code == 403


def test_claims_missing_from_the_id_token_are_read_from_userinfo(client, company, oidc_on):
    oidc_on.userinfo_only = {"email", "groups"}

    sign_in(client, oidc_on, person("li@example.com", groups=["icr-hr"]))

    assert signed_in_as(client) == "E002"
    assert is_hr(get_user_model().objects.get(username="E002"))
