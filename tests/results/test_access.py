"""Who sees what: the whole matrix of role × view × own/other object, and anonymity on pages."""

import datetime as dt

from django.contrib.auth.models import Group
from django.test import Client

from relations.roles import HR_GROUP
from reviews.models import ImprovementAction, ResultComment

SEEN = {200, 302}


def test_every_view_checks_the_object_for_every_role(corp, cycles, django_user_model):
    cycle = cycles.run(edge_types=["function"], comment=lambda req: "请更快回复")
    ops, ops_a, sales = corp["ops"], corp["ops_a"], corp["sales"]
    hr = django_user_model.objects.create_user(username="hr-matrix", password="x")
    hr.groups.add(Group.objects.get_or_create(name=HR_GROUP)[0])
    ops_head = corp["heads"]["OPS"]  # heads OPS, whose tree holds OPS_A and OPS_B
    member = corp["people"]["E050"]  # 一组员0 in OPS_A, heads nothing
    stranger = corp["people"]["E021"]  # 销售员0
    own_comment = ResultComment.objects.filter(cycle=cycle, department=ops_a).first()
    other_comment = ResultComment.objects.filter(cycle=cycle, department=sales).first()
    assert own_comment and other_comment
    due = dt.date(2030, 1, 1)
    own_action = ImprovementAction.objects.create(
        cycle=cycle,
        provider_department=ops_a,
        customer_department=sales,
        what="a",
        owner="b",
        due=due,
    )
    other_action = ImprovementAction.objects.create(
        cycle=cycle,
        provider_department=sales,
        customer_department=ops,
        what="a",
        owner="b",
        due=due,
    )
    action_post = {
        "cycle": cycle.pk,
        "customer_department": sales.pk,
        "kind": "",
        "what": "x",
        "owner": "y",
        "due": "2030-01-01",
        "status": "planned",
    }

    def views(who):
        """(name, method, url, data, expected for this role)."""
        is_hr, is_head = who == "hr", who == "head"
        me_ = {"head": ops_head, "member": member}.get(who)
        own_dept = 200 if (is_hr or is_head) else 404
        own_post = 302 if (is_hr or is_head) else 404
        other_dept = 200 if is_hr else 404
        other_post = 302 if is_hr else 404
        rows = [
            ("dashboard own tree", "get", f"/results/departments/{ops.pk}/", None, own_dept),
            (
                "dashboard sub-department",
                "get",
                f"/results/departments/{ops_a.pk}/",
                None,
                own_dept,
            ),
            ("dashboard other", "get", f"/results/departments/{sales.pk}/", None, other_dept),
            ("dashboard missing", "get", "/results/departments/999999/", None, 404),
            (
                "action on own",
                "post",
                f"/results/departments/{ops_a.pk}/actions/",
                action_post,
                own_post,
            ),
            (
                "action on other",
                "post",
                f"/results/departments/{sales.pk}/actions/",
                action_post,
                other_post,
            ),
            (
                "action update own",
                "post",
                f"/results/actions/{own_action.pk}/",
                {"status": "done"},
                own_post,
            ),
            (
                "action update other",
                "post",
                f"/results/actions/{other_action.pk}/",
                {"status": "done"},
                other_post,
            ),
            (
                "reply own",
                "post",
                f"/results/comments/{own_comment.pk}/reply/",
                {"text": "已改进"},
                own_post,
            ),
            (
                "reply other",
                "post",
                f"/results/comments/{other_comment.pk}/reply/",
                {"text": "已改进"},
                other_post,
            ),
            (
                "employee other",
                "get",
                f"/results/employees/{stranger.pk}/",
                None,
                200 if is_hr else 404,
            ),
            (
                "cycle settings",
                "get",
                f"/results/cycles/{cycle.pk}/settings/",
                None,
                200 if is_hr else 404,
            ),
            (
                "export csv",
                "get",
                f"/results/cycles/{cycle.pk}/export.csv",
                None,
                200 if is_hr else 404,
            ),
            (
                "export xlsx",
                "get",
                f"/results/cycles/{cycle.pk}/export.xlsx",
                None,
                200 if is_hr else 404,
            ),
        ]
        if me_ is not None:
            rows.append(("employee own", "get", f"/results/employees/{me_.pk}/", None, 200))
        return rows

    failures = []
    walked = 0
    for who, user in (
        ("hr", hr),
        ("head", ops_head.user),
        ("member", member.user),
        ("anonymous", None),
    ):
        client = Client()
        if user is not None:
            client.force_login(user)
        for name, method, url, data, expected in views(who):
            if who == "anonymous":
                expected = 302  # to the login page
            response = getattr(client, method)(url, data or {})
            walked += 1
            if response.status_code != expected:
                failures.append(f"{who} · {name}: {response.status_code} != {expected}")
            if who == "anonymous":
                assert "/accounts/login/" in response["Location"]
    assert not failures, failures
    assert walked >= 55


def test_results_home_leads_each_role_to_what_it_may_see(corp, cycles, hr_user):
    cycles.run(edge_types=["function"])
    client = Client()
    client.force_login(corp["heads"]["OPS"].user)
    assert client.get("/results/")["Location"] == f"/results/departments/{corp['ops'].pk}/"
    client.force_login(corp["people"]["E050"].user)
    assert client.get("/results/")["Location"] == f"/results/employees/{corp['people']['E050'].pk}/"
    client.force_login(hr_user)
    page = client.get("/results/")
    assert page.status_code == 200
    assert "销售部" in page.content.decode()


def test_no_page_names_a_rater(corp, cycles, hr_user):
    cycle = cycles.run(edge_types=["function"], comment=lambda req: "意见")
    raters = set(cycle.requests.values_list("rater_name", flat=True))
    client = Client()
    client.force_login(hr_user)
    for dept in ("ops", "ops_a", "sales", "hq"):
        html = client.get(f"/results/departments/{corp[dept].pk}/", {"cycle": cycle.pk})
        text = html.content.decode()
        named = {name for name in raters if name in text}
        assert not named, named
