"""Error pages and the page frame, in Chinese first (issue 18): translated, styled, reachable
by keyboard."""

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def test_a_missing_page_says_so_in_chinese_inside_the_page_frame(client, company):
    client.force_login(company["seller"].user)
    response = client.get("/no-such-page/", **ZH)
    html = response.content.decode()
    assert response.status_code == 404
    assert 'id="error-page"' in html and "页面不存在" in html and "Not Found" not in html
    assert 'id="skip-link"' in html and 'href="#main"' in html


def test_a_page_for_another_role_says_so_in_chinese(client, company):
    client.force_login(company["seller"].user)
    response = client.get(reverse("reviews:monitor_list"), **ZH)
    html = response.content.decode()
    assert response.status_code == 403
    assert 'id="error-page"' in html and "无权访问" in html


def test_the_server_error_page_stands_alone_and_is_translated(db):
    # Rendered without a request or context processors, as Django's handler does.
    with translation.override("zh-hans"):
        html = render_to_string("500.html")
    assert "出错了" in html and "bootstrap.min.css" in html
