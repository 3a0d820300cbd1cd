"""In a real browser, in Chinese, on a desktop and a 390×844 phone: HR signs in, lands on the HR
home (response rates by department, what opens next, the last import, the actions), starts a
cycle with the wizard, sees what would be sent, confirms, and lands on the new cycle's page.
Screenshots of each step go to var/screenshots/ (issue 18). tests/browser/chromium.py fails the
test on any CSP violation."""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from relations import services as graph
from relations.models import EdgeType
from reviews import services
from reviews.models import Cycle, CycleStatus
from reviews.selectors import calendar_period
from tests.browser import chromium
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
    },
}


@pytest.fixture
def browser(monkeypatch, settings, tmp_path, company, hr_user):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.VAR_DIR = tmp_path / "var"
    # Everything is in the database before the browser starts (see the admin import test).
    graph.create_pair(EdgeType.FUNCTION, company["commerce"], company["sales"], service="合同审核")
    graph.sync_rank_edges()
    cycle = services.create_cycle(
        name="职能互评",
        deadline=timezone.now() + dt.timedelta(days=7),
        edge_types=[EdgeType.FUNCTION],
    )
    services.open_cycle(cycle)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium.launch() as browser:
        yield browser


def fits(page, width: int) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


def test_hr_lands_on_the_hr_home_and_starts_a_cycle_with_the_wizard(live_server, browser):
    # The phone first, up to the preview; then the desktop through to opening the cycle.
    try:
        for size in ("phone", "desktop"):
            walk_through(live_server, browser, size, open_it=size == "desktop")
    finally:
        # Queries made while Playwright runs its event loop use a connection of their own
        # (Django's connections follow the context): closed here, or the test database
        # could not be dropped at the end of the run.
        connection.close()


def walk_through(live_server, browser, size: str, *, open_it: bool) -> None:
    context = browser.new_context(locale="zh-CN", **SIZES[size])
    context.set_extra_http_headers({"Accept-Language": "zh-Hans"})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    width = SIZES[size]["viewport"]["width"]
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "hr")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")

    # The HR home, not an empty relationships page.
    expect(page.locator("h1")).to_have_text("人力资源概览")
    assert page.url.endswith("/reviews/hr/")
    rates = page.locator(".response-by-department")
    expect(rates).to_contain_text("销售部")
    expect(rates).to_contain_text("回复率")
    for action in ("#action-start", "#action-import", "#action-remind", "#action-close"):
        expect(page.locator(action)).to_be_visible()
    expect(page.locator("#last-import")).to_contain_text("尚未导入")
    assert fits(page, width)
    page.screenshot(path=str(SCREENSHOTS / f"hr-home-{size}-zh.png"), full_page=True)

    # The wizard: filled in from the calendar, the open cycle's type left out.
    page.click("#action-start")
    period = calendar_period(timezone.localdate(), "quarterly")
    expect(page.locator("#id_name")).to_have_value(
        f"{period.start.year} 年第 {(period.start.month + 2) // 3} 季度"
    )
    expect(page.get_by_label("截止前 3 天和 1 天")).to_be_checked()
    expect(page.locator("input[name=edge_types][value=function]")).not_to_be_checked()
    expect(page.locator("input[name=edge_types][value=rank]")).to_be_checked()
    assert fits(page, width)
    page.screenshot(path=str(SCREENSHOTS / f"wizard-{size}-zh.png"), full_page=True)

    # The preview says how many people get how many requests; nothing is sent yet.
    page.click("#wizard-preview")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("将发出的内容")
    expect(page.locator("#preview-headline")).to_contain_text("项请求")
    expect(page.locator("#preview-load tbody tr").first).to_be_visible()
    assert Cycle.objects.count() == 1
    assert fits(page, width)
    page.screenshot(path=str(SCREENSHOTS / f"wizard-preview-{size}-zh.png"), full_page=True)

    if not open_it:
        context.close()
        return
    # Confirmed, the cycle opens and its monitoring page says so.
    page.click("#wizard-submit-open")
    expect(page.locator(".alert-success")).to_contain_text("已开启")
    new = Cycle.objects.exclude(name="职能互评").get()
    assert new.status == CycleStatus.OPEN and new.reminder_offsets == [3, 1]
    assert EdgeType.FUNCTION not in new.edge_types
    page.screenshot(path=str(SCREENSHOTS / f"wizard-opened-{size}-zh.png"), full_page=True)
    context.close()
