"""In a real browser: a head, HR and an employee open their results pages.

Debian's chromium through Playwright against pytest-django's live server (see
tests/browser/chromium.py: a missing chromium or a CSP violation fails the test). Screenshots go
to test-artifacts/.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser import chromium
from tests.browser.chromium import ARTIFACTS
from tests.conftest import PASSWORD
from tests.results.conftest import CycleRunner, build_company

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def data(monkeypatch, settings, tmp_path, hr_user):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.VAR_DIR = tmp_path / "var"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Everything is in the database before the browser starts (see the admin browser test).
    hr_user.set_password(PASSWORD)
    hr_user.save()
    corp = build_company()
    runner = CycleRunner()
    first = runner.run(
        lambda req, crit: 3, edge_types=["function"], comment=lambda r: "希望更快响应"
    )
    last = runner.run(
        lambda req, crit: 2 if req.provider_name == "运营一组" else 4,
        edge_types=["function"],
        comment=lambda r: "沟通有改进",
    )
    raters = set(last.requests.values_list("rater_name", flat=True))
    return {**corp, "first": first, "cycle": last, "raters": raters}


@pytest.fixture
def browser(data):
    with chromium.launch() as browser:
        yield browser


def log_in(browser, live_server, username, **context_args):
    context = browser.new_context(locale="en-US", **context_args)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    return context, page


def test_a_head_sees_the_department_dashboard_on_a_phone(live_server, browser, data):
    context, page = log_in(
        browser,
        live_server,
        "e010@example.com",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    page.goto(f"{live_server.url}/results/")
    expect(page.locator("main h1")).to_have_text("运营部")
    expect(page.locator("#overall .icr-mean")).to_be_visible()
    expect(page.locator("#parts")).to_contain_text("运营一组")
    expect(page.locator("#gaps")).to_contain_text("销售部")
    expect(page.locator("#weakest")).to_contain_text("运营一组 → 销售部")
    expect(page.locator("#comments")).to_contain_text("沟通有改进")
    expect(page.locator("#heatmap-chart canvas").first).to_be_visible()
    expect(page.locator("#trend-chart canvas").first).to_be_visible()
    main = page.locator("main").inner_text()
    assert not [name for name in data["raters"] if name in main]
    # No horizontal scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    page.screenshot(path=ARTIFACTS / "results-head-phone.png", full_page=True)

    # Recording an action on the weakest relationship.
    page.locator("#weakest details summary").first.click()
    form = page.locator("#weakest form").first
    form.locator("textarea[name=what]").fill("每周对接会")
    form.locator("input[name=owner]").fill("吴一组")
    form.locator("input[name=due]").fill("2030-06-30")
    form.locator("button[type=submit]").click()
    expect(page.locator("#actions")).to_contain_text("每周对接会")

    response = page.goto(f"{live_server.url}/results/departments/{data['sales'].pk}/")
    assert response.status == 404
    context.close()


def test_hr_sees_every_department_and_the_exports(live_server, browser, data):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "hr")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.goto(f"{live_server.url}/results/")
    expect(page.locator("#departments")).to_contain_text("财务部")
    expect(page.locator("#cycles a", has_text="XLSX").first).to_be_visible()
    page.screenshot(path=ARTIFACTS / "results-hr-home.png", full_page=True)
    page.goto(f"{live_server.url}/results/departments/{data['hq'].pk}/")
    expect(page.locator("main h1")).to_have_text("总部")
    expect(page.locator("#heatmap-chart canvas").first).to_be_visible()
    expect(page.locator("#parts")).to_contain_text("销售部")
    with page.expect_download() as download:
        page.locator("#nav-results").click()
        page.locator("#cycles a", has_text="CSV").first.click()
    assert download.value.suggested_filename.endswith(".csv")
    page.goto(f"{live_server.url}/results/departments/{data['hq'].pk}/")
    page.screenshot(path=ARTIFACTS / "results-hr-dashboard.png", full_page=True)
    # Picking another cycle shows it at once (static/icr/icr.js submits the filters).
    page.select_option("#id_cycle", label="C1")
    expect(page).to_have_url(re.compile(rf"[?&]cycle={data['first'].pk}(&|$)"))
    expect(page.locator("#id_cycle option:checked")).to_have_text("C1")
    context.close()


def test_an_employee_sees_their_own_page_and_nothing_else(live_server, browser, data):
    context, page = log_in(browser, live_server, "e021@example.com")
    page.goto(f"{live_server.url}/results/")
    expect(page.locator("main h1")).to_have_text("My service")
    # What they can see leads; their relationships wait, folded, below their history.
    expect(page.locator("#my-department")).to_be_visible()
    expect(page.locator("#my-requests")).to_contain_text("运营一组")
    expect(page.locator("#whom-i-serve")).to_be_hidden()
    page.locator("#relationships summary").click()
    expect(page.locator("#whom-i-serve")).to_be_visible()
    expect(page.locator("#overall")).to_have_count(0)  # only their superior rates them
    page.screenshot(path=ARTIFACTS / "results-employee.png", full_page=True)
    # The language switch in the navigation bar takes effect as it is chosen.
    page.select_option("select[name=language]", "zh-hans")
    expect(page.locator("main h1")).to_have_text("我的服务")
    for url in (
        f"/results/departments/{data['sales'].pk}/",
        f"/results/employees/{data['heads']['SALES'].pk}/",
        f"/results/cycles/{data['cycle'].pk}/export.csv",
    ):
        assert page.goto(f"{live_server.url}{url}").status == 404
    context.close()
