"""A customer's right to ask between cycles: raise, answer, confirm; anonymity; who sees what."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from needs import services
from needs.models import Need, NeedKind, NeedStatus, raiser_key
from needs.selectors import department_counts, my_needs
from relations.models import Edge, EdgeType, RankKind


def _edge(provider, customer):
    return Edge.objects.active().get(
        type=EdgeType.FUNCTION, provider_department=provider, customer_department=customer
    )


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _raise(client, edge, text, *, named=False, kind=NeedKind.COMPLAINT):
    data = {"edge": edge.pk, "kind": kind, "text": text}
    if named:
        data["named"] = "on"
    return client.post(reverse("needs:raise"), data)


def test_a_customer_raises_the_provider_head_answers_and_the_customer_confirms(corp):
    seller = corp["people"]["E021"]
    ops_head = corp["heads"]["OPS"]
    edge = _edge(corp["ops"], corp["sales"])
    response = _raise(_client(seller.user), edge, "报表每周迟到两天")
    assert response.status_code == 302
    need = Need.objects.get()
    assert (need.named, need.raiser_id, need.status) == (False, None, NeedStatus.OPEN)
    assert need.customer_department_id == corp["sales"].pk
    assert need.provider_department_id == corp["ops"].pk

    head = _client(ops_head.user)
    page = head.get(reverse("needs:department", args=[corp["ops"].pk])).content.decode()
    assert "报表每周迟到两天" in page and "销售部" in page
    assert seller.name not in page  # anonymous: the customer department, never the person
    head.post(reverse("needs:answer", args=[need.pk]), {"reply": "已改为每周一发出"})
    need.refresh_from_db()
    assert need.status == NeedStatus.DONE and need.reply == "已改为每周一发出"
    assert need.answered_on == timezone.localdate() and need.response_days == 0

    mine = _client(seller.user)
    page = mine.get(reverse("needs:mine")).content.decode()
    assert "已改为每周一发出" in page and reverse("needs:confirm", args=[need.pk]) in page
    mine.post(reverse("needs:confirm", args=[need.pk]), {"resolved": "no"})
    need.refresh_from_db()
    assert need.status == NeedStatus.UNRESOLVED and need.confirmed_on is not None
    # Not resolved goes back to the provider, who answers again; the first answer's day stays.
    services.answer_need(need, user=ops_head.user, reply="再改为周五下午发出")
    services.confirm_need(Need.objects.get(), employee=seller, resolved=True)
    need.refresh_from_db()
    assert need.status == NeedStatus.RESOLVED and need.answered_on == timezone.localdate()


def test_an_anonymous_row_is_the_same_whoever_of_the_group_raised_it(corp, settings):
    """A database reader sees nothing that depends on the raiser but a keyed hash."""
    edge = _edge(corp["ops"], corp["sales"])
    now = timezone.now()
    first = services.raise_need(
        corp["people"]["E021"], edge, kind=NeedKind.NEED, text="同一句话", now=now
    )
    second = services.raise_need(
        corp["people"]["E022"], edge, kind=NeedKind.NEED, text="同一句话", now=now
    )

    def columns(need):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT * FROM needs_need WHERE id = %s",
                [Need._meta.pk.get_db_prep_value(need.pk, connection)],
            )
            names = [c[0] for c in cursor.description]
            return dict(zip(names, cursor.fetchone(), strict=True))

    a, b = columns(first), columns(second)
    differing = {name for name in a if a[name] != b[name]}
    assert differing == {"id", "raiser_key"}
    assert a["raiser_id"] is None and isinstance(a["raised_on"], dt.date | str)
    # The key needs the secret: the raiser is recognised with it and not without it.
    assert first.is_raised_by(corp["people"]["E021"])
    assert not first.is_raised_by(corp["people"]["E022"])
    settings.ICR_ANSWER_KEY_SECRET = "another secret"
    assert not first.is_raised_by(corp["people"]["E021"])
    assert first.raiser_key != raiser_key(first.pk, corp["people"]["E021"].pk)


def test_the_raiser_finds_their_own_anonymous_threads_and_nobody_else_does(corp):
    edge = _edge(corp["ops"], corp["sales"])
    mine = services.raise_need(corp["people"]["E021"], edge, kind=NeedKind.NEED, text="我的")
    services.raise_need(corp["people"]["E022"], edge, kind=NeedKind.NEED, text="别人的")
    assert [n.pk for n in my_needs(corp["people"]["E021"])] == [mine.pk]
    other = _client(corp["people"]["E022"].user)
    assert "我的" not in other.get(reverse("needs:mine")).content.decode()
    # Confirming someone else's thread: 404, and nothing changes.
    services.answer_need(mine, user=corp["heads"]["OPS"].user, reply="好")
    response = other.post(reverse("needs:confirm", args=[mine.pk]), {"resolved": "yes"})
    assert response.status_code == 404
    assert Need.objects.get(pk=mine.pk).status == NeedStatus.DONE


def test_anonymity_is_refused_where_fewer_than_n_could_have_raised_it(corp):
    """财务部 serves 运营二组, which has two people: the group would name them."""
    edge = _edge(corp["fin"], corp["ops_b"])
    staff = corp["people"]["E060"]
    with pytest.raises(services.NeedError, match="anonymously"):
        services.raise_need(staff, edge, kind=NeedKind.NEED, text="报销太慢")
    response = _raise(_client(staff.user), edge, "报销太慢")
    assert response.status_code == 400 and not Need.objects.exists()
    need = services.raise_need(staff, edge, kind=NeedKind.NEED, text="报销太慢", named=True)
    assert need.raiser == staff
    page = _client(corp["heads"]["FIN"].user).get(
        reverse("needs:department", args=[corp["fin"].pk])
    )
    assert staff.name in page.content.decode()  # named: the head sees who


def test_only_a_customer_of_the_relationship_may_raise_about_it(corp):
    edge = _edge(corp["ops"], corp["sales"])
    outsider = corp["people"]["E031"]  # 财务部: does not receive 运营部's service
    with pytest.raises(services.NeedError):
        services.raise_need(outsider, edge, kind=NeedKind.NEED, text="x")
    assert _raise(_client(outsider.user), edge, "x").status_code == 400
    assert not Need.objects.exists()


def test_who_may_see_and_answer_a_department_s_threads(corp, hr_user):
    edge = _edge(corp["ops_a"], corp["sales"])
    need = services.raise_need(corp["people"]["E021"], edge, kind=NeedKind.NEED, text="需要周报")
    url = reverse("needs:department", args=[corp["ops_a"].pk])
    answer_url = reverse("needs:answer", args=[need.pk])
    # Heads of the department and of those above see it; others get a 404.
    for user, status in [
        (corp["heads"]["OPS_A"].user, 200),
        (corp["heads"]["OPS"].user, 200),
        (corp["ceo"].user, 200),
        (hr_user, 200),
        (corp["heads"]["OPS_B"].user, 404),
        (corp["heads"]["FIN"].user, 404),
        (corp["people"]["E051"].user, 404),  # a member of 运营一组, not its head
        (corp["people"]["E021"].user, 404),  # the raiser: their own page, not the provider's
    ]:
        assert _client(user).get(url).status_code == status, user
    for user in (corp["heads"]["FIN"].user, corp["people"]["E051"].user):
        assert _client(user).post(answer_url, {"reply": "x"}).status_code == 404
    # HR reads but does not answer for the department.
    hr = _client(hr_user)
    assert "icr-answer" not in hr.get(url).content.decode()
    hr.post(answer_url, {"reply": "HR 代答"})
    assert Need.objects.get().status == NeedStatus.OPEN
    # A head above may answer.
    _client(corp["heads"]["OPS"].user).post(answer_url, {"reply": "已安排"})
    assert Need.objects.get().status == NeedStatus.DONE
    # Signed out: to the login page.
    assert Client().get(url).status_code == 302


def test_the_next_cycle_s_figure_shows_beside_the_thread_only_when_shown(corp, cycles):
    seller = corp["people"]["E021"]
    need_a = services.raise_need(
        seller, _edge(corp["ops_a"], corp["sales"]), kind=NeedKind.NEED, text="甲"
    )
    need_b = services.raise_need(
        seller, _edge(corp["ops_b"], corp["sales"]), kind=NeedKind.NEED, text="乙"
    )
    # The next cycle: everyone rates 运营一组 4; only two sellers rate 运营二组 (too few).
    sellers_rating_b = {corp["people"]["E021"].pk, corp["people"]["E022"].pk}

    def skip(req):
        return req.provider_department_id == corp["ops_b"].pk and (
            req.customer_department_id == corp["sales"].pk and req.rater_id not in sellers_rating_b
        )

    cycle = cycles.run(lambda req, crit: 4, skip=skip, edge_types=[EdgeType.FUNCTION])
    page = _client(seller.user).get(reverse("needs:mine")).content.decode()
    thread_a = page.split(f'data-need="{need_a.pk}"')[1].split("icr-need-figures")[1][:900]
    thread_b = page.split(f'data-need="{need_b.pk}"')[1].split("icr-need-figures")[1][:900]
    assert cycle.name in thread_a and "4.0" in thread_a
    assert "Fewer than 3 answers" in thread_b and "4.0" not in thread_b
    head_page = _client(corp["heads"]["OPS"].user).get(
        reverse("needs:department", args=[corp["ops"].pk])
    )
    assert "Fewer than 3 answers" in head_page.content.decode()


def test_a_person_s_figure_is_not_shown_beside_a_thread_to_their_customers(corp, cycles):
    """A person's figures are theirs and HR's: a report's thread about their superior shows
    none to the report or to the heads above."""
    seller = corp["people"]["E021"]
    edge = Edge.objects.active().get(
        type=EdgeType.RANK, rank_kind=RankKind.CONDITION, customer_employee=seller
    )
    need = services.raise_need(seller, edge, kind=NeedKind.NEED, text="需要更多客户资源")
    assert need.provider_employee == corp["heads"]["SALES"] and need.raiser is None
    cycles.run(lambda req, crit: 2)
    page = _client(seller.user).get(reverse("needs:mine")).content.decode()
    assert "需要更多客户资源" in page and "icr-need-figures" not in page
    ceo_page = _client(corp["ceo"].user).get(reverse("needs:department", args=[corp["hq"].pk]))
    assert "需要更多客户资源" in ceo_page.content.decode()
    assert "icr-need-figures" not in ceo_page.content.decode()


def _need(corp, customer, *, answered_after=None):
    today = timezone.localdate()
    raised = today - dt.timedelta(days=10)
    answered = raised + dt.timedelta(days=answered_after) if answered_after is not None else None
    return Need(
        kind=NeedKind.NEED,
        edge_type=EdgeType.FUNCTION,
        provider_department=corp["ops"],
        customer_department=customer,
        text="x",
        raiser_key="k",
        raised_on=raised,
        status=NeedStatus.DONE if answered else NeedStatus.OPEN,
        reply="done" if answered else "",
        answered_on=answered,
    )


def test_counts_under_n_are_not_shown_nor_left_to_subtraction(corp):
    Need.objects.bulk_create(
        [_need(corp, corp["sales"], answered_after=d) for d in (1, 2, 3, 6)]
        + [_need(corp, corp["fin"]) for _ in range(3)]
        + [_need(corp, corp["hq"])]
    )
    counts = department_counts(corp["ops"])
    assert counts["total"].shown and counts["total"].raised == 8
    # 总部's one thread is pooled with the smallest shown row (财务部's 3), so the total minus
    # the shown rows is that pool, never 总部's count alone.
    assert [(r.label, r.raised) for r in counts["by_customer"]] == [("销售部", 4)]
    assert counts["pool"].shown and sorted(counts["pool"].pooled) == ["总部", "财务部"]
    assert counts["pool"].raised == 4
    assert counts["by_customer"][0].mean_days == 3.0  # (1 + 2 + 3 + 6) / 4
    assert counts["pool"].mean_days is None  # nothing answered there
    page = _client(corp["heads"]["OPS"].user).get(
        reverse("needs:department", args=[corp["ops"].pk])
    )
    html = page.content.decode()
    assert "Other customer departments, together" in html
    assert html.count("icr-count-row") == 3
    # Down to two threads: not even the total is shown.
    Need.objects.exclude(pk__in=list(Need.objects.values_list("pk", flat=True)[:2])).delete()
    counts = department_counts(corp["ops"])
    assert not counts["total"].shown and counts["by_customer"] == []
    assert counts["pool"] is None or not counts["pool"].shown
    html = (
        _client(corp["heads"]["OPS"].user)
        .get(reverse("needs:department", args=[corp["ops"].pk]))
        .content.decode()
    )
    assert "Fewer than 3" in html and "icr-count-total" in html


def test_the_results_page_shows_the_counts_and_leads_to_the_threads(corp, cycles):
    Need.objects.bulk_create([_need(corp, corp["sales"], answered_after=2) for _ in range(3)])
    cycles.run()
    html = (
        _client(corp["heads"]["OPS"].user)
        .get(reverse("results:department", args=[corp["ops"].pk]))
        .content.decode()
    )
    assert 'id="need-counts"' in html and "2.0" in html
    assert reverse("needs:department", args=[corp["ops"].pk]) in html


def test_the_database_refuses_a_named_less_raiser_and_an_answer_without_text(corp):
    from django.db import transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        row = _need(corp, corp["sales"])
        row.raiser = corp["people"]["E021"]  # anonymous rows store no raiser
        row.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        row = _need(corp, corp["sales"], answered_after=1)
        row.reply = ""  # done without an answer
        row.save()


def test_pages_speak_chinese(corp):
    client = _client(corp["people"]["E021"].user)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("needs:mine"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "提出需求或投诉" in html and "建议一项未记录的关系" in html
    need = services.raise_need(
        corp["people"]["E021"], _edge(corp["ops"], corp["sales"]), kind="complaint", text="慢"
    )
    services.answer_need(need, user=corp["heads"]["OPS"].user, reply="已处理")
    head = _client(corp["heads"]["OPS"].user)
    head.cookies["django_language"] = "zh-hans"
    html = head.get(reverse("needs:department", args=[corp["ops"].pk])).content.decode()
    assert "需求与投诉" in html and "0 天后答复" in html and "匿名" in html


def test_the_threads_page_costs_the_same_for_one_thread_or_many(corp, cycles):
    from django.test.utils import CaptureQueriesContext

    seller = corp["people"]["E021"]
    services.raise_need(seller, _edge(corp["ops"], corp["sales"]), kind="need", text="一")
    cycles.run()
    head = _client(corp["ceo"].user)
    url = reverse("needs:department", args=[corp["hq"].pk])

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert head.get(url).status_code == 200
        return len(captured)

    one = queries()
    for provider in (corp["ops_a"], corp["ops_b"]):
        services.raise_need(seller, _edge(provider, corp["sales"]), kind="need", text="二")
    rank = Edge.objects.active().get(
        type=EdgeType.RANK, rank_kind=RankKind.CONDITION, customer_employee=seller
    )
    services.raise_need(seller, rank, kind="need", text="三")
    services.raise_need(
        corp["people"]["E060"],
        _edge(corp["fin"], corp["ops_b"]),
        kind="need",
        text="四",
        named=True,
    )
    assert queries() == one


def test_my_relationships_lead_to_raising_a_need_about_a_service_received(corp):
    seller = corp["people"]["E021"]
    edge = _edge(corp["ops"], corp["sales"])
    client = _client(seller.user)
    html = client.get(reverse("relations:my_relationships")).content.decode()
    link = f"{reverse('needs:mine')}?edge={edge.pk}#raise"
    assert link in html
    # Only on the services received: the rank edge the seller provides has no such link.
    served = Edge.objects.active().get(type=EdgeType.RANK, provider_employee=seller)
    assert f"?edge={served.pk}#raise" not in html
    page = client.get(reverse("needs:mine"), {"edge": edge.pk}).content.decode()
    assert f'<option value="{edge.pk}" selected>' in page
