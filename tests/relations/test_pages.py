"""The pages people use: log in, set a password, see my relationships."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from relations import services
from relations.models import EdgeType
from tests.conftest import PASSWORD
from tests.factories import DepartmentFactory

MINE = reverse("relations:my_relationships")


@pytest.fixture
def graph(company):
    """商务部 ⇄ 销售部 (function) and 财务部 → 商务部, which does not touch 销售部."""
    fin = DepartmentFactory(code="FIN", name="财务部", parent=company["hq"])
    services.create_pair(
        EdgeType.FUNCTION,
        company["commerce"],
        company["sales"],
        service="合同审核",
        reverse_service="客户需求与订单信息",
    )
    services.create_pair(
        EdgeType.FUNCTION, fin, company["commerce"], service="费用核算", reverse_service="报销单据"
    )
    return {**company, "fin": fin}


def rows(response, section: str) -> list[tuple]:
    """(type, other end, service, via) of each relationship listed in a section."""
    return [
        (group.type, row.other_name, row.service, row.via_department)
        for group in response.context[section]
        for row in group.rows
    ]


def test_my_relationships_lists_whom_i_serve_and_who_serves_me(client, graph):
    client.force_login(graph["seller"].user)
    response = client.get(MINE)
    assert response.status_code == 200
    task, condition = services.rank_service_texts()
    assert rows(response, "serve") == [
        ("rank", "李销售", task, ""),
        ("function", "商务部", "客户需求与订单信息", "销售部"),
    ]
    assert rows(response, "served_by") == [
        ("rank", "李销售", condition, ""),
        ("function", "商务部", "合同审核", "销售部"),
    ]
    html = response.content.decode()
    assert "via my department 销售部" in html
    assert "Task customer" in html and "Condition customer" in html


def test_my_relationships_shows_nothing_of_other_people(client, graph):
    client.force_login(graph["seller"].user)
    html = client.get(MINE).content.decode()
    # 王总 and 赵商务 have rank relationships, and 财务部 ⇄ 商务部 exists: none of them are mine.
    for other in ("王总", "赵商务", "财务部", "费用核算", "报销单据"):
        assert other not in html


def test_a_department_head_sees_the_relationships_of_the_department_they_head(client, graph):
    client.force_login(graph["commerce_head"].user)
    response = client.get(MINE)
    served_by = rows(response, "served_by")
    assert ("function", "财务部", "费用核算", "商务部") in served_by
    assert ("function", "销售部", "客户需求与订单信息", "商务部") in served_by
    assert ("rank", "王总", services.rank_service_texts()[1], "") in served_by


def test_a_person_who_left_is_sent_to_the_login_page(client, graph):
    seller = graph["seller"]
    client.force_login(seller.user)
    services.deactivate_employee(seller)
    response = client.get(MINE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_my_relationships_needs_a_login(client):
    response = client.get(MINE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_login_without_an_employee_is_told_so(client, hr_user):
    client.force_login(hr_user)
    response = client.get(MINE)
    assert response.status_code == 200
    assert 'id="no-employee"' in response.content.decode()


@pytest.mark.parametrize("login", ["E003", "zhang@example.com", "ZHANG@example.com"])
def test_people_log_in_with_employee_id_or_email(client, company, login):
    page = client.get(reverse("login"))
    assert "Employee ID or e-mail" in page.content.decode()
    response = client.post(reverse("login"), {"username": login, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(response["Location"], follow=True).context["employee"] == company["seller"]


def test_a_wrong_password_keeps_you_on_the_login_page(client, company):
    response = client.post(reverse("login"), {"username": "E003", "password": "wrong"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()


@pytest.mark.usefixtures("eager_celery")  # the mail leaves from a Celery task
def test_someone_without_a_password_yet_can_ask_for_the_link(client, company):
    newcomer = services.hire_employee(
        employee_id="E300", name="周新", email="zhou@example.com", department=company["sales"]
    )
    assert not newcomer.user.has_usable_password()
    response = client.post(reverse("password_reset"), {"email": "ZHOU@example.com"})
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["zhou@example.com"]]
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    page = client.get(link, follow=True)
    assert page.context["validlink"]
    assert "Choose your password" in page.content.decode()


@pytest.mark.usefixtures("eager_celery")
def test_unknown_email_gets_the_same_answer_and_no_mail(client, company):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []
