"""In a real browser: the sign-in page's "Sign in with …" goes to the company's OpenID provider
(tests/oidc_provider.py, on loopback) and comes back signed in, to the page first asked for."""

import pytest
from playwright.sync_api import expect

from relations import oidc
from tests.browser import chromium
from tests.browser.chromium import ARTIFACTS
from tests.oidc_provider import configure, running_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def provider(live_server, settings, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with running_provider([f"{live_server.url}/accounts/oidc/callback/"]) as provider:
        configure(settings, provider)
        settings.ICR_OIDC_PROVIDER_NAME = "Keycloak"
        settings.ICR_PASSWORD_LOGIN = "superuser_only"
        yield provider
    oidc._client_for.cache_clear()


def test_sign_in_with_the_company_provider_in_the_browser(live_server, provider, company):
    provider.person = {"sub": "u-3", "email": "zhang@example.com", "email_verified": True}
    with chromium.launch() as browser:
        context = browser.new_context(locale="zh-CN")
        context.set_extra_http_headers({"Accept-Language": "zh-Hans"})
        page = context.new_page()
        page.goto(f"{live_server.url}/me/relationships/")  # asks for a sign-in first

        button = page.locator("#oidc-sign-in")
        expect(button).to_have_text("使用Keycloak登录")
        expect(page.locator("#login-form")).to_be_hidden()  # folded: break-glass only
        page.screenshot(path=str(ARTIFACTS / "sign-in-oidc-zh.png"), full_page=True)
        button.click()

        page.wait_for_url(f"{live_server.url}/me/relationships/")
        assert provider.authorize_requests[-1]["code_challenge_method"] == "S256"
        expect(page.locator("form[action='/accounts/logout/'] button")).to_be_visible()
        context.close()
