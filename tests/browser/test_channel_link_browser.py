"""The button of a WeCom card, followed in a real browser: it opens the rater's own rating form
(after signing in), through the same signed link as the e-mail's."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reviews import channels, services
from reviews.models import Channel, MessagingSettings, ReviewRequest
from reviews.tokens import read_request_token
from tests import fake_platforms
from tests.browser import chromium
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def card(live_server, settings, company, eager_celery, monkeypatch):
    """The invitation card WeCom got for 李销售 when a cycle opened."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with fake_platforms.Server() as server:
        for name, value in fake_platforms.settings_for(server.url).items():
            setattr(settings, name, value)
        settings.ICR_BASE_URL = live_server.url
        channels.forget_platforms()
        MessagingSettings.objects.create(channel=Channel.WECOM)
        company["sales_head"].im_user_id = "li"
        company["sales_head"].save(update_fields=["im_user_id"])
        cycle = services.create_cycle(
            name="三季度互评", deadline=timezone.now() + dt.timedelta(days=7)
        )
        services.open_cycle(cycle)
        (message,) = server.platforms.to(Channel.WECOM)
        channels.forget_platforms()
        yield message["body"]["template_card"]


def test_the_cards_button_opens_the_rating_form(live_server, card, company):
    link = card["card_action"]["url"]
    assert card["jump_list"][0]["url"] == link
    request_id, _cycle = read_request_token(link.rstrip("/").rsplit("/", 1)[-1])
    request = ReviewRequest.objects.get(pk=request_id)
    with chromium.launch() as browser:
        context = browser.new_context(locale="zh-CN")
        context.set_extra_http_headers({"Accept-Language": "zh-Hans"})
        page = context.new_page()
        page.goto(link)
        # Not signed in yet: the sign-in page, which then goes on to the form.
        page.fill("#id_username", company["sales_head"].employee_id)
        page.fill("#id_password", PASSWORD)
        page.click("#login-form button[type=submit]")
        expect(page).to_have_url(f"{live_server.url}/reviews/requests/{request.pk}/")
        expect(page.locator("[data-icr-score]").first).to_be_visible()
        expect(page.locator("body")).to_contain_text(request.provider_name)
        context.close()
