"""Relationships raters said they did not receive, listed for HR with the reasons given, which
show only where at least M raters of the group gave them."""

from django.test import Client
from django.urls import reverse

from needs.selectors import not_received_groups
from relations.models import EdgeType


def _declines(corp, provider, count):
    """The first `count` sellers say they did not receive `provider`'s service."""
    sellers = [corp["people"][f"E02{i}"].pk for i in range(1, 1 + count)]

    def not_received(req):
        return req.provider_department_id == provider.pk and req.rater_id in sellers

    return not_received


def _admin(hr_user, cycle):
    client = Client()
    client.force_login(hr_user)
    return client.get(reverse("admin:needs_not_received"), {"cycle": cycle.pk})


def test_a_few_decliners_are_listed_without_their_reasons(corp, cycles, hr_user, monkeypatch):
    from reviews import services

    real = services.submit_answer

    def with_reason(req, **kwargs):
        if kwargs.get("not_received"):
            kwargs["reason"] = f"理由{req.rater_id}"
        return real(req, **kwargs)

    monkeypatch.setattr(services, "submit_answer", with_reason)
    cycle = cycles.run(
        not_received=_declines(corp, corp["ops_b"], 2), edge_types=[EdgeType.FUNCTION]
    )
    (group,) = not_received_groups(cycle)
    assert (group.provider, group.customer_department) == ("运营二组", "销售部")
    assert (group.declined, group.asked, group.percent) == (2, 6, 33)
    assert group.reasons is None  # two raters HR knows declined: each reason would be theirs
    html = _admin(hr_user, cycle).content.decode()
    assert "运营二组" in html and "icr-reasons-hidden" in html and "理由" not in html
    # Only HR reaches the review.
    for user in (corp["ceo"].user, corp["people"]["E021"].user):
        client = Client()
        client.force_login(user)
        response = client.get(reverse("admin:needs_not_received"), {"cycle": cycle.pk})
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_reasons_show_in_text_order_where_m_raters_gave_them(corp, cycles, hr_user, monkeypatch):
    from reviews import services

    real = services.submit_answer
    texts = {}

    def with_reason(req, **kwargs):
        if kwargs.get("not_received"):
            kwargs["reason"] = texts.setdefault(req.rater_id, f"理由{len(texts)}")
        return real(req, **kwargs)

    monkeypatch.setattr(services, "submit_answer", with_reason)
    cycle = cycles.run(
        not_received=_declines(corp, corp["ops_a"], 5), edge_types=[EdgeType.FUNCTION]
    )
    (group,) = not_received_groups(cycle)
    assert group.declined == 5 and group.reasons == sorted(texts.values())
    html = _admin(hr_user, cycle).content.decode()
    assert all(text in html for text in texts.values())


def test_an_open_cycle_lists_nothing_and_one_decline_is_not_many(corp, cycles, hr_user):
    open_cycle = cycles.run(
        not_received=_declines(corp, corp["ops_a"], 5), close=False, edge_types=["function"]
    )
    assert not_received_groups(open_cycle) == []
    from reviews import services

    services.close_cycle(open_cycle)
    open_cycle.refresh_from_db()
    assert len(not_received_groups(open_cycle)) == 1
    closed = cycles.run(not_received=_declines(corp, corp["ops_a"], 1), edge_types=["function"])
    assert not_received_groups(closed) == []
