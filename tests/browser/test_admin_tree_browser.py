"""In a real browser: HR moves a department in the admin's tree, under the CSP (issue 19).

The admin's scripts (autocomplete through Select2 and jQuery) and ICR's indentation of the tree
(static/icr/admin_tree.js) must work with no inline script or style allowed; tests/browser/
chromium.py fails the test on any violation a page reports.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from relations.roles import HR_GROUP
from tests.browser import chromium
from tests.browser.chromium import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HR_PASSWORD = "hr-browser-pass-123"
INDENT = "(node) => getComputedStyle(node).paddingLeft"


@pytest.fixture
def browser(monkeypatch, settings, tmp_path, company):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.VAR_DIR = tmp_path / "var"
    # Everything is in the database before the browser starts (see the admin import test).
    user = get_user_model().objects.create_user(
        username="hr", password=HR_PASSWORD, is_staff=True, email="hr@example.com"
    )
    user.groups.add(Group.objects.get_or_create(name=HR_GROUP)[0])
    with chromium.launch() as browser:
        yield browser


def test_hr_moves_a_department_under_another_and_the_tree_shows_it(live_server, browser, company):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "hr")
    page.fill("#id_password", HR_PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/relations/department/")

    tree = page.locator("#result_list .icr-tree-node")
    expect(tree).to_have_text(["总部", "└ 商务部", "└ 销售部"])
    assert tree.nth(0).evaluate(INDENT) == "0px"
    child_indent = tree.nth(1).evaluate(INDENT)
    assert child_indent != "0px"

    # 销售部 moves under 商务部, chosen through the admin's autocomplete.
    page.locator("#result_list a", has_text="销售部").click()
    page.click("#id_parent + .select2 .select2-selection")
    page.fill(".select2-search__field", "商务")
    page.locator(".select2-results__option", has_text="商务部").click()
    expect(page.locator("#select2-id_parent-container")).to_contain_text("商务部")
    page.click("input[name=_save]")

    expect(page.locator(".messagelist .success")).to_be_visible()
    expect(tree).to_have_text(["总部", "└ 商务部", "└ 销售部"])
    assert tree.nth(2).get_attribute("data-depth") == "2"
    deeper = float(tree.nth(2).evaluate(INDENT).removesuffix("px"))
    assert deeper == 2 * float(child_indent.removesuffix("px"))
    page.screenshot(path=ARTIFACTS / "admin-department-tree.png", full_page=True)
    context.close()
