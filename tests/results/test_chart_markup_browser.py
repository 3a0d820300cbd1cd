"""In a real browser: names that look like markup stay text in the results charts (issue 19).

A department's or a cycle's name is whatever HR typed in the admin or imported. The charts'
tooltips show such names; built as HTML they would run a name like MARKUP in a head's browser.
Debian's chromium through Playwright (tests/browser/chromium.py: a CSP violation fails the test
as well, so markup the page tried to run would show there too).
"""

import pytest
from playwright.sync_api import expect

from tests.browser import chromium
from tests.browser.chromium import ARTIFACTS
from tests.conftest import PASSWORD
from tests.results.conftest import CycleRunner, build_company

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARKUP = "<img src=x onerror=window.__xss=1>"
CYCLE_MARKUP = "<img src=x onerror=window.__xss=2>"

# Where a chart draws a data point, in pixels from the chart's top left corner.
POINT = """([chartId, finder, value]) => {
    const chart = window.icrCharts.find((c) => c.getDom().id === chartId);
    return chart.convertToPixel(finder, value);
}"""


@pytest.fixture
def data(monkeypatch, settings, tmp_path):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.VAR_DIR = tmp_path / "var"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Everything is in the database before the browser starts (see the admin browser test).
    corp = build_company()
    corp["ops_b"].name = MARKUP
    corp["ops_b"].save(update_fields=["name"])
    cycle = CycleRunner().run(lambda req, crit: 4, edge_types=["function"])
    cycle.name = CYCLE_MARKUP
    cycle.save(update_fields=["name"])
    return corp


@pytest.fixture
def browser(data):
    with chromium.launch() as browser:
        yield browser


def hover(page, chart_id: str, finder: dict, value: list) -> None:
    chart = page.locator(f"#{chart_id}")
    chart.scroll_into_view_if_needed()
    x, y = page.evaluate(POINT, [chart_id, finder, value])
    box = chart.bounding_box()  # in the viewport, where the mouse moves
    page.mouse.move(box["x"] + x, box["y"] + y)


def test_names_with_markup_show_as_text_in_the_chart_tooltips(live_server, browser, data):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "e010@example.com")  # head of 运营部, above MARKUP
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.goto(f"{live_server.url}/results/")
    expect(page.locator("main h1")).to_have_text("运营部")
    expect(page.locator("#parts")).to_contain_text(MARKUP)

    heatmap = page.locator("#heatmap-chart")
    expect(heatmap.locator("canvas").first).to_be_visible()
    names = page.evaluate("JSON.parse(document.getElementById('heatmap-data').textContent)")
    cell = [names["customers"].index("销售部"), names["providers"].index(MARKUP)]
    hover(page, "heatmap-chart", {"seriesIndex": 0}, cell)
    tooltip = heatmap.locator(".icr-tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text(f"{MARKUP} → 销售部: 4")
    expect(tooltip.locator("img")).to_have_count(0)
    page.screenshot(path=ARTIFACTS / "results-heatmap-markup.png", full_page=True)

    trend = page.locator("#trend-chart")
    hover(page, "trend-chart", {"xAxisIndex": 0, "yAxisIndex": 0}, [0, 4])
    tooltip = trend.locator(".icr-tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text(CYCLE_MARKUP)
    expect(tooltip).to_contain_text("Overall: 4")
    expect(tooltip.locator("img")).to_have_count(0)

    assert page.evaluate("window.__xss") is None
    context.close()
