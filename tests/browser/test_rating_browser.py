"""In a real browser, on a phone, in Chinese: an employee rates the services they received.

Each criterion is one row of five choices; ticking "I did not receive this service" disables
the scores and shows the reason box; after an answer the next request opens with how many are
left (issue 18). tests/browser/chromium.py fails the test on any CSP violation.
"""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reviews import services
from tests.browser import chromium
from tests.browser.chromium import ARTIFACTS
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True}


@pytest.fixture
def browser(monkeypatch, settings, tmp_path, company):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.VAR_DIR = tmp_path / "var"
    # Everything is in the database before the browser starts (see the admin import test).
    cycle = services.create_cycle(name="二季度互评", deadline=timezone.now() + dt.timedelta(days=7))
    services.open_cycle(cycle)
    with chromium.launch() as browser:
        yield browser


def test_an_employee_rates_on_a_phone_in_chinese(live_server, browser, company):
    context = browser.new_context(locale="zh-CN", **PHONE)
    context.set_extra_http_headers({"Accept-Language": "zh-Hans"})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", company["sales_head"].employee_id)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.goto(f"{live_server.url}/reviews/")
    page.locator("a.btn-primary", has_text="评分").first.click()

    rows = page.locator("[data-icr-score]")
    count = rows.count()
    assert count >= 3  # the default criteria
    # One row of five choices per criterion, each within the phone's width.
    first_row = rows.nth(0).locator("label.btn")
    expect(first_row).to_have_count(5)
    boxes = [first_row.nth(i).bounding_box() for i in range(5)]
    assert len({round(box["y"]) for box in boxes}) == 1
    assert boxes[-1]["x"] + boxes[-1]["width"] <= 390
    reason = page.locator("[data-icr-reason]")
    expect(reason).to_be_hidden()

    # Ticking "not received" disables the scores and asks for a reason; unticking undoes it.
    page.get_by_label("我未获得此项服务").check()
    expect(reason).to_be_visible()
    expect(rows.nth(0).locator("input").first).to_be_disabled()
    page.get_by_label("我未获得此项服务").uncheck()
    expect(reason).to_be_hidden()
    for i in range(count):
        rows.nth(i).locator("label.btn").nth(3).click()  # 4 on each criterion
    page.screenshot(path=str(ARTIFACTS / "rating-phone-zh.png"), full_page=True)
    page.locator("button[value=submit]").click()

    # The next request opens, saying how many are left.
    expect(page.locator(".alert-success")).to_contain_text("还有 1 项待评价")
    expect(page.locator("[data-icr-score]").first).to_be_visible()
    context.close()
