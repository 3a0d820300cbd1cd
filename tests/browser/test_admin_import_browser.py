"""In a real browser: HR imports the org files in the admin, then an employee sees their page.

Drives Debian's chromium through Playwright against pytest-django's live server (see
tests/browser/chromium.py: a missing chromium or a CSP violation fails the test).
"""

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from playwright.sync_api import expect

from relations.roles import HR_GROUP
from tests.browser import chromium
from tests.browser.chromium import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HR_PASSWORD = "hr-browser-pass-123"
EMPLOYEE_PASSWORD = "zhang-browser-pass-123"

DEPARTMENTS = """code,name,parent_code,head_employee_id
HQ,总部,,E001
SALES,销售部,HQ,E002
COM,商务部,HQ,E004
"""
EMPLOYEES = """employee_id,name,email,department_code,manager_employee_id,title
E001,王总,wang@example.com,HQ,,总经理
E002,李销售,li@example.com,SALES,E001,销售总监
E003,张三,zhang@example.com,SALES,E002,销售代表
E004,赵商务,zhao@example.com,COM,E001,商务经理
"""
RELATIONS = (
    "type,provider_department,provider_employee,customer_department,customer_employee,service\n"
    "职能,COM,,SALES,,合同审核\n"
    "流程,,E003,,E004,签约客户资料\n"
)


@pytest.fixture
def browser_env(monkeypatch, settings, tmp_path, eager_celery):
    # eager_celery: the password-set mail leaves from a task, run here in the live server.
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def hr_account(browser_env):
    # Made before the browser starts: ORM calls made while Playwright's event loop runs get a
    # connection of their own that nothing closes, and the test database cannot be dropped.
    user = get_user_model().objects.create_user(
        username="hr", password=HR_PASSWORD, is_staff=True, email="hr@example.com"
    )
    user.groups.add(Group.objects.get_or_create(name=HR_GROUP)[0])
    return user


@pytest.fixture
def browser(browser_env, hr_account):
    with chromium.launch() as browser:
        yield browser


@pytest.fixture
def org_files(tmp_path) -> dict[str, Path]:
    paths = {}
    for name, text in (
        ("departments", DEPARTMENTS),
        ("employees", EMPLOYEES),
        ("relations", RELATIONS),
    ):
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def test_hr_imports_org_files_and_an_employee_sees_their_relationships(
    live_server, browser, org_files
):
    context = browser.new_context(locale="en-US")
    page = context.new_page()

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "hr")
    page.fill("#id_password", HR_PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#icr-import")).to_be_visible()

    page.click("#icr-import a")
    page.set_input_files("#id_departments", org_files["departments"])
    page.set_input_files("#id_employees", org_files["employees"])
    page.set_input_files("#id_relations", org_files["relations"])
    page.click("input[name=_preview]")

    changes = page.locator("#import-changes")
    expect(changes).to_contain_text("张三 (E003)")
    expect(changes).to_contain_text("赵商务 (E004)")
    expect(page.locator("#import-pairs")).to_contain_text("Function")
    page.screenshot(path=ARTIFACTS / "admin-import-preview.png", full_page=True)

    page.click("input[name=_confirm]")
    expect(page.locator("#import-summary .summary-employees")).to_have_text("4")
    expect(page.locator("#import-summary .summary-edges-function")).to_have_text("2")
    page.screenshot(path=ARTIFACTS / "admin-import-done.png", full_page=True)

    page.click("#see-relationships")
    results = page.locator("#result_list")
    expect(results).to_contain_text("合同审核")
    expect(results).to_contain_text("签约客户资料")
    expect(results).to_contain_text("张三 (E003)")
    page.screenshot(path=ARTIFACTS / "admin-relationships.png", full_page=True)
    context.close()

    # 张三 was imported without a password: he asks for the link on the login page, as a
    # newcomer does, and sets one.
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("a[href$='/accounts/password_reset/']")
    page.fill("#id_email", "zhang@example.com")
    page.click("button[type=submit]")
    expect(page.locator("main h1")).to_have_text("Check your e-mail")
    assert [m.to for m in mail.outbox] == [["zhang@example.com"]]
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    page.goto(f"{live_server.url}{link}")
    page.fill("#id_new_password1", EMPLOYEE_PASSWORD)
    page.fill("#id_new_password2", EMPLOYEE_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("main h1")).to_have_text("Password set")

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "zhang@example.com")
    page.fill("#id_password", EMPLOYEE_PASSWORD)
    page.click("#login-form button[type=submit]")

    serve = page.locator("#whom-i-serve")
    served_by = page.locator("#who-serves-me")
    expect(serve).to_contain_text("李销售")  # my superior: my task customer
    expect(serve).to_contain_text("赵商务")  # workflow: I hand the signed customer's file over
    expect(serve).to_contain_text("签约客户资料")
    expect(served_by).to_contain_text("合同审核")
    expect(served_by).to_contain_text("via my department 销售部")
    expect(page.locator("main")).not_to_contain_text("王总")
    page.screenshot(path=ARTIFACTS / "my-relationships.png", full_page=True)
    context.close()
