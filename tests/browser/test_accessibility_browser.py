"""Every main page, in Chinese, passes axe-core without serious or critical violations.

The pages of each role: sign-in; an employee's inbox, rating form, relationships and "my
service"; a head's department page (closed and open cycle); HR's administration home, import
and cycle monitoring, on a desktop; the head's pages also on a phone, with what the head's page
must show (a report, the heatmap's hidden cells, legends, the export, the reminder) in English
and in Chinese. Screenshots go to var/screenshots/. tests/browser/chromium.py fails the test
on any CSP violation.
"""

import datetime as dt
import json

import pytest

from reviews import tasks
from reviews.models import ImprovementAction, RequestStatus, ReviewRequest
from tests.browser import chromium
from tests.browser.axe import describe, violations
from tests.browser.chromium import SCREENSHOTS
from tests.conftest import PASSWORD
from tests.results.conftest import CycleRunner, build_company

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def data(monkeypatch, settings, tmp_path, hr_user, eager_celery):
    # Everything is written here, before the browser starts: under Playwright's sync API the
    # test body runs in a greenlet of its own, where Django opens a second connection that
    # nothing closes (PostgreSQL then refuses to drop the test database).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.VAR_DIR = tmp_path / "var"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    hr_user.set_password(PASSWORD)
    hr_user.save()
    corp = build_company()
    runner = CycleRunner()
    # 运营一组 is rated by two sellers only: its cells are hidden ("fewer than 3 answers").
    few = {"销售员0", "销售员1", "销售员2", "销售员3"}
    closed = runner.run(
        lambda req, crit: 2 if req.provider_name == "运营二组" else 4,
        edge_types=["function"],
        comment=lambda r: "沟通有改进",
        skip=lambda req: req.provider_name == "运营一组" and req.rater_name in few,
    )
    current = runner.run(edge_types=["function"], close=False, skip=lambda req: True)
    member = corp["people"]["E050"]  # 一组员0: rates 销售部 in the open cycle
    pending = ReviewRequest.objects.filter(
        cycle=current, rater=member, status=RequestStatus.PENDING
    ).first()
    assert pending is not None
    # The invitations went out (reminders wait ICR_REMINDER_MIN_GAP_HOURS after them), and an
    # action is on record.
    settings.ICR_REMINDER_MIN_GAP_HOURS = 0
    tasks.dispatch_notifications(current.pk, "invitation")
    ImprovementAction.objects.create(
        cycle=closed,
        provider_department=corp["ops_b"],
        customer_department=corp["sales"],
        what="每周与销售部对接一次，当天回复所有需求",
        owner="郑二组",
        due=dt.date(2030, 6, 30),
    )
    return {**corp, "closed": closed, "open": current, "request": pending, "member": member}


@pytest.fixture
def browser(data):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium.launch() as browser:
        yield browser


def _session(browser, live_server, username, device):
    context = browser.new_context(locale="zh-CN", **device)
    context.set_extra_http_headers({"Accept-Language": "zh-Hans"})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    if username:
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_load_state()
    return context, page


def _check(page, url, name, failures):
    response = page.goto(url)
    assert response.status == 200, url
    assert page.locator("html").get_attribute("lang") == "zh-hans", url
    page.screenshot(path=SCREENSHOTS / f"axe-{name}.png")
    found = violations(page)
    if found:
        failures.append(f"{name} ({url}):\n{describe(found)}")


def test_every_main_page_passes_axe_in_chinese(live_server, browser, data):
    base = live_server.url
    closed, current = data["closed"], data["open"]
    ops = data["ops"].pk
    pages = {
        None: [("/accounts/login/", "login")],
        "e050@example.com": [
            ("/reviews/", "inbox"),
            (f"/reviews/requests/{data['request'].pk}/", "rating-form"),
            ("/me/relationships/", "my-relationships"),
            (f"/results/employees/{data['member'].pk}/?cycle={closed.pk}", "my-service"),
        ],
        "e010@example.com": [
            (f"/results/departments/{ops}/?cycle={closed.pk}", "department"),
            (f"/results/departments/{ops}/?cycle={current.pk}", "department-open"),
        ],
        "hr": [
            ("/admin/", "hr-admin-home"),
            ("/admin/import/", "hr-import"),
            ("/reviews/cycles/", "hr-cycles"),
            (f"/reviews/cycles/{current.pk}/", "hr-monitoring"),
            ("/results/", "hr-results"),
        ],
    }
    failures: list[str] = []
    checked = 0
    # On a desktop; the head's pages are checked on a phone too, in the test below.
    for username, urls in pages.items():
        context, page = _session(browser, live_server, username, DESKTOP)
        for url, name in urls:
            _check(page, base + url, f"{name}-desktop", failures)
            checked += 1
        context.close()
    assert checked == 12
    assert not failures, "axe found serious or critical violations:\n" + "\n\n".join(failures)


# --- The head's page: a report, its heatmap, its legends, the export and the reminder ---------

CELL_COLOURS = """([chartIndex, x, y]) => {
    // The colours of a 5×5 patch around the centre of the heatmap's cell (x, y).
    const chart = window.icrCharts[chartIndex];
    const [px, py] = chart.convertToPixel({ xAxisIndex: 0, yAxisIndex: 0 }, [x, y]);
    // ECharts may draw on more than one canvas layer: the topmost painted pixel counts.
    const layers = [...chart.getDom().querySelectorAll("canvas")].reverse();
    const out = [];
    for (let dx = -6; dx <= 6; dx += 3) for (let dy = -6; dy <= 6; dy += 3) {
        let pixel = [0, 0, 0, 0];
        for (const canvas of layers) {
            const ratio = canvas.width / canvas.clientWidth;
            const d = canvas.getContext("2d").getImageData(
                Math.round((px + dx) * ratio), Math.round((py + dy) * ratio), 1, 1).data;
            if (d[3] > 0) { pixel = [d[0], d[1], d[2], d[3]]; break; }
        }
        out.push(pixel);
    }
    return out;
}"""

LAYOUT = """(chartIndex) => {
    // Where ECharts put the legend or colour scale, and the plot, in the chart's pixels.
    const chart = window.icrCharts[chartIndex];
    const model = chart.getModel();
    const box = (name) => {
        const component = model.getComponent(name);
        if (!component) return null;
        const group = chart.getViewOfComponentModel(component).group;
        const r = group.getBoundingRect().clone();
        r.applyTransform(group.getComputedTransform());
        return { x: r.x, y: r.y, width: r.width, height: r.height };
    };
    const grid = model.getComponent("grid").coordinateSystem.getRect();
    return {
        legend: box("legend"), visualMap: box("visualMap"),
        legendType: ((chart.getOption().legend || [])[0] || {}).type || null,
        grid: { x: grid.x, y: grid.y, width: grid.width, height: grid.height },
        height: chart.getHeight(), width: chart.getWidth(),
    };
}"""


def _is_blank(patch):
    return all(a == 0 or (r, g, b) == (255, 255, 255) for r, g, b, a in patch)


def _is_grey(patch):
    return all(a > 0 and max(r, g, b) - min(r, g, b) < 25 for r, g, b, a in patch)


def _heatmap_cells(page):
    heatmap = json.loads(page.locator("#heatmap-data").text_content())
    cells = {(c[0], c[1]): c[2] for c in heatmap["cells"]}
    hidden = next(xy for xy, v in cells.items() if v is None)
    shown = next(xy for xy, v in cells.items() if v is not None)
    blank = next(
        (x, y)
        for x in range(len(heatmap["customers"]))
        for y in range(len(heatmap["providers"]))
        if (x, y) not in cells
    )
    return hidden, shown, blank


@pytest.mark.parametrize(
    ("language", "device_name"), [("en", "desktop"), ("zh-Hans", "phone")], ids=["en", "zh"]
)
def test_a_heads_page_reads_as_a_report_on_desktop_and_phone(
    live_server, browser, data, language, device_name
):
    device = PHONE if device_name == "phone" else DESKTOP
    width = device["viewport"]["width"]
    context = browser.new_context(locale="zh-CN" if language == "zh-Hans" else "en-US", **device)
    context.set_extra_http_headers({"Accept-Language": language})
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "e010@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    ops, closed = data["ops"].pk, data["closed"]
    page.goto(f"{live_server.url}/results/departments/{ops}/?cycle={closed.pk}")

    # A report: the headline first, then what to act on, then the detail.
    order = page.evaluate(
        """() => ["headline", "weakest", "actions", "summary", "parts", "matrix",
                  "gaps", "comments"].map(id => {
            const el = document.getElementById(id);
            return el ? el.getBoundingClientRect().top + window.scrollY : null;
        })"""
    )
    assert None not in order and order == sorted(order)
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1

    # Hidden cells are grey and striped; a pair without a relationship stays blank.
    page.locator("#heatmap-chart").scroll_into_view_if_needed()
    hidden, shown, blank = _heatmap_cells(page)
    assert _is_grey(page.evaluate(CELL_COLOURS, [1, *hidden]))
    assert _is_blank(page.evaluate(CELL_COLOURS, [1, *blank]))
    assert not _is_grey(page.evaluate(CELL_COLOURS, [1, *shown]))
    assert len({tuple(p) for p in page.evaluate(CELL_COLOURS, [1, *hidden])}) > 1  # stripes
    legend = page.locator("#heatmap-legend li")
    assert legend.count() == 3
    # The colour scale is above the plot, so it cannot run into the customers' names below.
    heat = page.evaluate(LAYOUT, 1)
    scale = heat["visualMap"]
    assert scale["y"] + scale["height"] <= heat["grid"]["y"]
    assert heat["grid"]["y"] + heat["grid"]["height"] < heat["height"]

    # The trend's legend wraps and sits above the plot: no pages (1/2) on a phone.
    trend = page.evaluate(LAYOUT, 0)
    assert trend["legendType"] == "plain"
    assert trend["legend"]["x"] + trend["legend"]["width"] <= trend["width"]
    assert trend["legend"]["y"] + trend["legend"]["height"] <= trend["grid"]["y"]

    found = violations(page)
    assert not found, describe(found)

    # The action's status stays readable: its select is not squeezed.
    status = page.locator(".icr-actions select").first
    status.scroll_into_view_if_needed()
    assert status.bounding_box()["width"] >= 120
    page.screenshot(path=SCREENSHOTS / f"head-report-{language}-{device_name}.png", full_page=True)

    # The XLSX: named after the department and the cycle.
    with page.expect_download() as download:
        page.locator("#export-xlsx").click()
    assert download.value.suggested_filename == f"ICR OPS 运营部 {closed.name}.xlsx"

    # The open cycle: how many answered (no names), and a reminder after a confirmation.
    page.goto(f"{live_server.url}/results/departments/{ops}/?cycle={data['open'].pk}")
    assert page.locator("#rater-rate").text_content() == "0%"
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.locator("#remind-form button[type=submit]").click()
    page.wait_for_load_state()
    assert questions
    message = page.locator("main .alert").first.text_content()
    assert "10" in message, message
    assert page.locator("#remind-form button[type=submit]").is_disabled()
    main = page.locator("main").inner_text()
    assert not [p.name for p in data["people"].values() if p.name in main and p.name != "周运营"]
    found = violations(page)
    assert not found, describe(found)
    page.screenshot(path=SCREENSHOTS / f"head-remind-{language}-{device_name}.png")
    context.close()
