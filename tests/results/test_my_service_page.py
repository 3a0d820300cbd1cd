""" "My service" leads with what the person can see, then their history in the right states."""

from django.test import Client


def page_of(employee, language="en", **params):
    client = Client()
    client.force_login(employee.user)
    client.cookies["django_language"] = language
    return client.get(f"/results/employees/{employee.pk}/", params)


def test_my_service_leads_with_my_departments_shown_figures(corp, cycles):
    cycle = cycles.run(lambda req, crit: 4, edge_types=["function"])
    member = corp["people"]["E050"]  # 一组员0: 运营一组 serves 销售部 (six raters)
    response = page_of(member, cycle=cycle.pk)
    (figure,) = response.context["department_figures"]
    assert (figure.key, figure.mean, figure.raters, figure.suppressed) == (
        "function",
        4.0,
        6,
        False,
    )
    html = response.content.decode()
    assert html.index('id="my-department"') < html.index('id="replies"')
    assert html.index('id="replies"') < html.index('id="my-requests"')
    assert html.index('id="my-requests"') < html.index('id="relationships"')


def test_a_hidden_department_figure_is_left_out_not_shown(corp, cycles):
    cycle = cycles.run(lambda req, crit: 2, edge_types=["function"])
    clerk = corp["people"]["E031"]  # 财务部 serves 运营二组: two raters, under the minimum
    response = page_of(clerk, cycle=cycle.pk)
    assert response.context["department_figures"] == []
    html = response.content.decode()
    assert 'id="no-department-figures"' in html
    assert "icr-department-figure" not in html


def test_unanswered_requests_of_a_closed_cycle_read_as_expired_not_pending(corp, cycles):
    seller = corp["people"]["E021"]
    cycle = cycles.run(edge_types=["function"], skip=lambda r: r.rater_id == seller.pk)
    zh = page_of(seller, "zh-hans", cycle=cycle.pk)
    assert zh.context["past_requests"] and not any(
        r.status != "pending" for r in zh.context["past_requests"]
    )
    html = zh.content.decode()
    assert "已过期，未回复" in html and "待处理" not in html
    en = page_of(seller, cycle=cycle.pk).content.decode()
    assert "Expired, not answered" in en and ">Pending<" not in en


def test_an_open_cycles_unanswered_request_is_still_pending(corp, cycles):
    seller = corp["people"]["E021"]
    cycles.run(edge_types=["function"], close=False, skip=lambda r: r.rater_id == seller.pk)
    response = page_of(seller)
    assert {r.state_label() for r in response.context["open_requests"]} == {"Pending"}
