"""The company page: how the front line rates the functions and the other way round, from
the matrix cells as the department pages print them, never from a hidden one."""

from django.test import Client

from relations.models import Department, LineKind
from reviews import results
from reviews.models import Rollup, RollupScope


def _mark(corp):
    # 销售部 is the front line; 运营部 (and its two groups, by inheritance) and 财务部 functions.
    Department.objects.filter(pk=corp["sales"].pk).update(line=LineKind.FRONT)
    Department.objects.filter(pk__in=[corp["ops"].pk, corp["fin"].pk]).update(
        line=LineKind.FUNCTIONAL
    )


def _scores(req, crit):
    # 销售部 rates the operations units 2; they rate 销售部 5.
    return 2 if req.customer_department_name == "销售部" else 5


def _cells(cycle, providers, customers):
    return [
        r
        for r in Rollup.objects.filter(
            cycle=cycle, scope=RollupScope.SELF, criterion__isnull=True
        ).filter(customer_department_id__in=customers, department_id__in=providers)
        if r.kind == "" or r.only_type
    ]


def test_hr_sees_both_directions_averaged_over_the_shown_cells(corp, cycles, hr_user):
    _mark(corp)
    cycle = cycles.run(_scores, edge_types=["function"])
    client = Client()
    client.force_login(hr_user)
    page = client.get("/results/", {"cycle": cycle.pk})
    front_rates, functions_rate = page.context["line_exchange"]
    ops = [corp["ops"].pk, corp["ops_a"].pk, corp["ops_b"].pk, corp["fin"].pk]
    cells = _cells(cycle, ops, [corp["sales"].pk])
    shown = [results.shown_mean(c) for c in cells if not c.suppressed]
    assert shown and front_rates.shown == len(shown)
    assert front_rates.hidden == len(cells) - len(shown)
    assert front_rates.mean == round(sum(shown) / len(shown), 1) == 2.0
    reverse = _cells(cycle, [corp["sales"].pk], ops)
    assert functions_rate.shown + functions_rate.hidden == len(reverse)
    body = page.content.decode()
    assert 'id="front-line"' in body and "The front line rates the functions" in body
    zh = client.get("/results/", {"cycle": cycle.pk}, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert "一线对职能部门的评价" in zh.content.decode()


def test_a_hidden_cell_never_moves_the_figure(corp, cycles, hr_user):
    _mark(corp)
    cycle = cycles.run(_scores, edge_types=["function"])
    before = results.line_exchange(cycle)[0]
    cell = _cells(cycle, [corp["ops_a"].pk], [corp["sales"].pk])[0]
    # Hidden by the close (as if too few had answered), with a very different mean stored.
    Rollup.objects.filter(pk=cell.pk, cycle=cycle).update(suppressed=True, mean=5.0)
    after = results.line_exchange(cycle)[0]
    assert after.hidden == before.hidden + 1 and after.shown == before.shown - 1
    assert after.mean == 2.0 and after.highest == 2.0


def test_without_lines_or_for_a_head_there_is_no_comparison(corp, cycles, hr_user):
    cycle = cycles.run(_scores, edge_types=["function"])
    assert results.line_exchange(cycle) == []
    _mark(corp)
    head = Client()
    head.force_login(corp["heads"]["SALES"].user)
    response = head.get("/results/")
    assert response.status_code == 302  # a head goes to their department, not the company
