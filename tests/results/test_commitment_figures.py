"""A commitment's figures on the department page: published figures only, as the page shows
them, hidden wherever the close hid them."""

from django.test import Client

from relations.models import Edge, EdgeType
from reviews import results, services
from reviews.models import Criterion, Rollup, RollupScope


def _edge(provider, customer):
    return Edge.objects.get(
        type=EdgeType.FUNCTION, provider_department=provider, customer_department=customer
    )


def _commit(corp, provider, customer, code="timeliness"):
    return services.save_commitment(
        user=corp["ceo"].user,
        edge=_edge(corp[provider], corp[customer]),
        deliverable="报销审核",
        due="3 个工作日内",
        criterion=Criterion.objects.get(code=code),
    )


def _page(corp, dept, cycle):
    client = Client()
    client.force_login(corp["ceo"].user)
    return client.get(f"/results/departments/{corp[dept].pk}/", {"cycle": cycle.pk})


def test_a_commitment_shows_its_criterions_figure_as_the_page_shows_it(corp, cycles):
    _commit(corp, "ops_a", "sales")
    cycle = cycles.run(
        lambda req, crit: 5 if crit.code == "timeliness" else 3, edge_types=["function"]
    )
    page = _page(corp, "ops_a", cycle)
    (row,) = page.context["commitments"]
    timeliness = Criterion.objects.get(code="timeliness")
    stored = Rollup.objects.get(
        cycle=cycle,
        scope=RollupScope.SELF,
        department=corp["ops_a"],
        kind="",
        criterion=timeliness,
        customer_department__isnull=True,
    )
    assert not stored.suppressed  # 运营一组 is rated by 销售部's six people
    assert row["criterion"].mean == results.shown_mean(stored) == 5.0
    # The relationship's figure is the matrix cell 运营一组 → 销售部, shown as the matrix does.
    cell = Rollup.objects.get(
        cycle=cycle,
        scope=RollupScope.SELF,
        department=corp["ops_a"],
        kind__in=["", "function"],
        criterion__isnull=True,
        customer_department=corp["sales"],
    )
    assert row["relationship"].mean == results.shown_mean(cell)
    body = page.content.decode()
    assert 'id="commitments"' in body and "报销审核 · 3 个工作日内" in body


def test_a_commitment_on_a_small_group_shows_no_figure(corp, cycles):
    """财务部 serves 运营二组, whose two people are too few: hidden, and not printed anywhere
    on the commitment."""
    _commit(corp, "fin", "ops_b", code="quality")
    cycle = cycles.run(
        lambda req, crit: 1 if req.provider_name == "财务部" else 4, edge_types=["function"]
    )
    (row,) = _page(corp, "fin", cycle).context["commitments"]
    assert row["relationship"].suppressed and row["relationship"].mean is None
    assert row["relationship"].reason == results.FEW
    stored = Rollup.objects.filter(
        cycle=cycle,
        scope=RollupScope.SELF,
        department=corp["fin"],
        kind="",
        criterion__code="quality",
        customer_department__isnull=True,
    ).first()
    # The criterion's figure over all of 财务部's customers is what the close decided.
    assert row["criterion"].suppressed == (stored is None or stored.suppressed)


def test_a_hidden_criterion_figure_stays_hidden_beside_its_commitment(corp, cycles):
    _commit(corp, "ops_a", "sales")
    cycle = cycles.run(edge_types=["function"])
    Rollup.objects.filter(
        cycle=cycle,
        scope=RollupScope.SELF,
        department=corp["ops_a"],
        criterion__code="timeliness",
        customer_department__isnull=True,
        kind="",
    ).update(suppressed=True)
    page = _page(corp, "ops_a", cycle)
    (row,) = page.context["commitments"]
    assert row["criterion"].suppressed and row["criterion"].mean is None
    html = page.content.decode().split('id="commitments"')[1]
    criterion_cell = html.split('class="icr-commitment-criterion"')[1].split("</td>")[0]
    assert "icr-suppressed" in criterion_cell and "icr-mean" not in criterion_cell


def test_a_row_of_an_unpublished_shape_is_never_shown(corp, cycles):
    cycles.run(edge_types=["function"])
    finer = Rollup.objects.filter(
        scope=RollupScope.SELF, criterion__isnull=False, customer_department__isnull=False
    ).first()
    finer.suppressed = False  # even if a row of this shape were marked shown
    assert results._published_figure("x", finer).suppressed


def test_an_open_cycle_lists_the_commitments_without_figures(corp, cycles):
    _commit(corp, "ops_a", "sales")
    cycle = cycles.run(close=False, edge_types=["function"])
    (row,) = _page(corp, "ops_a", cycle).context["commitments"]
    assert row["criterion"] is None and row["relationship"] is None
