"""Differencing across cycles: a rater who joins or leaves a group while the others answer as
before must not have their scores read off the two cycles' figures (issue 17, point 6).

The attacker here takes every figure a role sees in two closed cycles whose raters differ by
1 to N-1 and assumes the worst for the raters: everybody else gave exactly the same answers in
both. Then the difference of the two figures is what the few who joined (or left) answered. An
integer program over the others' score counts and the joiners' (both cycles' printed means,
favourable shares and distributions as constraints) gives the least and the most the joiners
can have scored; within one point is a pin.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pytest
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from scipy.optimize import Bounds, LinearConstraint, milp

from relations import services as graph
from relations.models import EdgeType
from reviews import services
from reviews.models import Cycle, CycleStatus
from tests.disclosure import attacker as atk
from tests.factories import DepartmentFactory
from tests.results.conftest import CycleRunner

SCORES = np.arange(1, 6, dtype=float)


@dataclass
class Pin:
    key: atk.Key
    raters: tuple[int, int]
    low: int
    high: int

    def __str__(self) -> str:
        scores = f"[{self.low}, {self.high}]"
        return f"{self.key}: raters {self.raters}, the difference's scores in {scores}"


def _interval(value: float, decimals: int) -> tuple[float, float]:
    half = 0.5 * 10.0 ** (-decimals) + atk.EPSILON
    return value - half, value + half


def _printed(figure: atk.Figure, published: atk.Published, counts: np.ndarray, scores: int):
    """Rows (coefficients over `counts`, low, high) for one printed figure whose score counts
    are the expression `counts` (a matrix over the variables, one row per score 1..5) over
    `scores` scores in all."""
    rows = []
    if figure.distribution is not None:
        for s in range(5):
            rows.append((counts[s], figure.distribution[s], figure.distribution[s]))
        return rows
    if figure.mean is not None:
        decimals = published.mean_decimals if figure.mean_decimals is None else figure.mean_decimals
        low, high = _interval(figure.mean, decimals)
        weighted = SCORES @ counts
        rows.append((weighted, low * scores, high * scores))
    if figure.favourable_percent is not None:
        low, high = _interval(figure.favourable_percent, published.favourable_decimals)
        rows.append((counts[3] + counts[4], low / 100 * scores, high / 100 * scores))
    return rows


def differencing_pins(
    before: atk.Published, after: atk.Published, criteria: int, min_raters: int
) -> list[Pin]:
    """Pins of the raters who joined or left a figure between two cycles, assuming everybody
    else answered as before. `criteria`: criteria each rater scores (over all criteria, a
    figure holds raters × criteria scores)."""
    earlier = {f.key: f for f in before.figures if not f.hidden}
    pins = []
    for late in after.figures:
        early = earlier.get(late.key)
        if late.hidden or early is None or early.raters is None or late.raters is None:
            continue
        change = late.raters - early.raters
        if not 1 <= abs(change) < min_raters:
            continue
        per_rater = 1 if late.key.criterion_id is not None else criteria
        # Variables: the others' counts of each score, then the few's.
        stay = min(early.raters, late.raters) * per_rater
        few = abs(change) * per_rater
        others = np.hstack([np.eye(5), np.zeros((5, 5))])
        moved = np.hstack([np.zeros((5, 5)), np.eye(5)])
        small, large = (early, late) if change > 0 else (late, early)
        rows = [(np.ones(5) @ others, stay, stay), (np.ones(5) @ moved, few, few)]
        rows += _printed(small, before if change > 0 else after, others, stay)
        rows += _printed(large, after if change > 0 else before, others + moved, stay + few)
        constraint = LinearConstraint(
            np.array([r[0] for r in rows]), [r[1] for r in rows], [r[2] for r in rows]
        )
        objective = np.hstack([np.zeros(5), SCORES])
        extremes = []
        for sense in (1, -1):
            result = milp(
                sense * objective,
                constraints=constraint,
                integrality=np.ones(10),
                bounds=Bounds(np.zeros(10), np.full(10, np.inf)),
            )
            assert result.status == 0, f"{late.key}: the truth is a solution ({result.message})"
            extremes.append(round(objective @ result.x))
        low, high = min(extremes), max(extremes)
        if high - low <= 1:
            pins.append(Pin(late.key, (early.raters, late.raters), low, high))
    return pins


# --- A company where one rater joins a group of 15 and another a group of 3 -----------------


def _score(req, criterion) -> int:
    """The same answer from the same rater in every cycle, varied across raters."""
    digest = hashlib.sha256(f"{req.rater_name}|{req.provider_name}|{criterion.code}".encode())
    return 1 + digest.digest()[0] % 5


def _company():
    provider = DepartmentFactory(code="P", name="法务部")
    large = DepartmentFactory(code="L", name="销售部")
    small = DepartmentFactory(code="S", name="采购部")
    graph.hire_employee(employee_id="P01", name="法务", department=provider)
    for i in range(16):
        graph.hire_employee(employee_id=f"L{i:02d}", name=f"销售{i}", department=large)
    for i in range(4):
        graph.hire_employee(employee_id=f"S{i:02d}", name=f"采购{i}", department=small)
    graph.create_pair(EdgeType.FUNCTION, provider, large, service="合同审核")
    graph.create_pair(EdgeType.FUNCTION, provider, small, service="合同审核")


def _two_cycles(joiner: str, *, coarse: bool = True) -> tuple[atk.Published, atk.Published, int]:
    """Two closed cycles with the same answers, but `joiner`'s only in the second."""
    runner = CycleRunner()
    runner.run(_score, skip=lambda req: req.rater_name == joiner)
    runner.run(_score)
    first, second = Cycle.objects.filter(status=CycleStatus.CLOSED).order_by("deadline")
    rule = dict(atk.PROPOSED)
    if not coarse:  # the planted fault: coarse figures printed like any other
        rule["coarse"] = False
    before = atk.figures_from_rollups(first, **rule)
    after = atk.figures_from_rollups(second, **rule)
    # Every pair here is a function one: each rater scores the criteria for that type.
    criteria = len(services.applicable_criteria(second, EdgeType.FUNCTION))
    return before, after, criteria


# One rater joins a group of 15 (the department's figures go from 19 to 20 raters), or a group
# of 3 (from 19 to 20, its customer's from 3 to 4).
JOINERS = pytest.mark.parametrize("joiner", ["销售15", "采购3"])


@JOINERS
def test_a_rater_who_joins_a_group_cannot_be_read_off_two_cycles(db, thresholds, settings, joiner):
    _company()
    before, after, criteria = _two_cycles(joiner)
    changed = [
        f
        for f in after.figures
        if not f.hidden and f.mean_decimals is not None  # printed coarse: a joiner's group
    ]
    assert changed, "the groups the joiners entered are among the shown figures"
    pins = differencing_pins(before, after, criteria, settings.ICR_MIN_RATERS)
    assert not pins, "\n".join(map(str, pins))


@JOINERS
def test_the_differencing_attacker_finds_a_joiner_when_figures_are_printed_fine(
    db, thresholds, settings, joiner
):
    # The planted fault: the same cycles with every figure printed to one decimal, with its
    # favourable share and, from D raters, its distribution.
    _company()
    before, after, criteria = _two_cycles(joiner, coarse=False)
    pins = differencing_pins(before, after, criteria, settings.ICR_MIN_RATERS)
    print("\n".join(map(str, pins)))
    assert pins


def test_a_coarse_figure_shows_a_whole_point_and_no_favourable_share_on_pages_and_export(
    db, thresholds
):
    from relations.models import Department
    from reviews import results

    _company()
    _two_cycles("采购3")
    second = Cycle.objects.filter(status=CycleStatus.CLOSED).order_by("deadline").last()
    provider = Department.objects.get(code="P")
    page = results.department_dashboard(provider, second)
    # 20 raters over four criteria: 80 scores, enough for one decimal; each criterion's 20
    # are not.
    overall = page["overall"]
    assert overall.coarse and not overall.suppressed and not overall.whole_point
    assert overall.favourable_percent is None and overall.distribution is None
    assert overall.change is None  # a change beside a coarse figure would look exact
    html = render_to_string("results/_figure.html", {"f": overall})
    assert "favourable" not in html and f"{overall.mean:.1f}" in html
    criterion = page["by_criterion"][0]
    assert criterion.whole_point and criterion.mean == round(criterion.mean)
    html = render_to_string("results/_figure.html", {"f": criterion})
    assert f"≈{round(criterion.mean)}" in html and "favourable" not in html
    headers = results.export_headers()
    code, raters = headers.index(_("Department code")), headers.index(_("Raters"))
    mean, favourable = headers.index(_("Mean")), headers.index(_("Favourable (4–5) %"))
    # The provider's figures went from 19 raters to 20: each of its lines prints coarse.
    lines = [
        line for line in results.export_rows(second) if line[code] == "P" and line[raters] == 20
    ]
    assert lines
    assert all(line[favourable] == "" for line in lines)
    criteria = [line for line in lines if line[headers.index(_("Criterion"))] != _("All criteria")]
    assert criteria and all(line[mean] == round(line[mean]) for line in criteria)
