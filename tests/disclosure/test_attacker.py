"""The attacker of `tests/disclosure/attacker.py`, tested, then turned on the published figures.

First the attacker itself: a hand-checkable case without a database, and a planted fault (the
complementary suppression switched off) that it must catch. Then what ICR publishes, for HR
and for a department head, on small random companies (and, in test_attacker_demo.py, on the
demo company): no score of a hidden or small group may be pinned.
"""

from __future__ import annotations

import datetime as dt
import random

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from relations import services as graph
from relations.models import Department, EdgeType
from reviews import results, services
from reviews.models import Cycle, ReviewRequest
from tests.disclosure import attacker as atk
from tests.factories import DepartmentFactory


class Leak(AssertionError):
    """The attacker pinned a target (a model error raises a plain AssertionError)."""


def assert_safe(report: atk.Report) -> None:
    """No score of a hidden or small group pinned, nothing undecided. Rater counts pinned for a
    head (that one person answered) are participation, which heads see as response rates."""
    if not report.scores_safe:
        raise Leak(report.summary())


# --- The attacker on a hand-made case ---------------------------------------------------------

A = atk.Group(1, None, "function", 2)  # one rater, the figure to protect
B = atk.Group(1, None, "function", 3)  # four raters, shown
C = atk.Group(1, None, "function", 4)  # one rater, hidden too


def _figure(customer, *, hidden=False, raters=0, distribution=None, mean=None, reason=""):
    return atk.Figure(
        atk.SELF,
        1,
        None,
        "",
        None,
        customer,
        hidden=hidden,
        reason=reason,
        raters=None if hidden else raters,
        mean=mean,
        distribution=None if distribution is None else tuple(distribution),
        not_received=None if hidden else 0,
    )


def _attack(figures, truth_scores: dict[atk.Group, list[int]]) -> atk.Report:
    """One department (1) serving customers through one type, one criterion (10), N = 3;
    published: the department's all-types, all-criteria figures, per customer and in total."""
    background = atk.Background(
        groups={
            g: atk.GroupFacts(len(s), (10,), answered=len(s), declined=0)
            for g, s in truth_scores.items()
        },
        parents={1: None, 2: None, 3: None, 4: None},
        min_raters=3,
        knows_answered=True,
    )
    truth = atk.Truth(
        raters={g: len(s) for g, s in truth_scores.items()},
        not_received={g: 0 for g in truth_scores},
        counts={(g, 10): tuple(s.count(k) for k in atk.SCORES) for g, s in truth_scores.items()},
    )
    published = atk.Published(
        figures,
        shown_shape=lambda k: k.scope == atk.SELF and k.kind == "" and k.criterion_id is None,
    )
    return atk.attack(published, background, truth, atk.hr())


def test_a_lone_hidden_part_of_a_shown_total_is_pinned():
    # Total 2 + 4 + 4 + 5 + 5 with the four of customer 3 shown: customer 2's score is 2.
    report = _attack(
        [
            _figure(None, raters=5, distribution=[0, 1, 0, 2, 2]),
            _figure(3, raters=4, distribution=[0, 0, 0, 2, 2]),
            _figure(2, hidden=True, reason="few"),
        ],
        {A: [2], B: [4, 4, 5, 5]},
    )
    print(report.summary())
    assert "group d1 function → d2" in report.pinned_targets
    (finding,) = [f for f in report.pinned if f.target == "group d1 function → d2"]
    assert (finding.true_value, finding.low, finding.high) == (2, 2, 2)
    assert not report.safe


def test_two_hidden_parts_that_differ_are_safe():
    # The two hidden singletons scored 2 and 5: either may have given either.
    report = _attack(
        [
            _figure(None, raters=6, distribution=[0, 1, 0, 2, 3]),
            _figure(3, raters=4, distribution=[0, 0, 0, 2, 2]),
            _figure(2, hidden=True, reason="few"),
            _figure(4, hidden=True, reason="few"),
        ],
        {A: [2], B: [4, 4, 5, 5], C: [5]},
    )
    print(report.summary())
    assert report.safe, report.summary()
    assert (report.targets, report.groups) == (4, 2)  # two hidden figures, two groups


def test_a_total_that_pins_everyone_by_itself_is_unanimous_not_a_leak():
    # Everyone scored 5: the total alone says so, the group's own published result.
    report = _attack(
        [
            _figure(None, raters=5, distribution=[0, 0, 0, 0, 5]),
            _figure(3, raters=4, distribution=[0, 0, 0, 0, 4]),
            _figure(2, hidden=True, reason="few"),
        ],
        {A: [5], B: [5, 5, 5, 5]},
    )
    assert report.safe
    assert "group d1 function → d2" in report.unanimous_targets
    assert len(report.unanimous_targets) == 2  # the group, and the hidden figure that is it
    assert report.unanimous[0].by_figure.customer_department_id is None


def test_a_printed_mean_is_an_interval_of_half_a_last_decimal():
    # Mean 3.20 of five, printed to two decimals: the sum is within 15.975..16.025, so 16;
    # customer 3's four at 3.50 sum to 14: customer 2 scored 2.
    report = _attack(
        [
            _figure(None, raters=5, mean=3.2),
            _figure(3, raters=4, mean=3.5),
            _figure(2, hidden=True, reason="few"),
        ],
        {A: [2], B: [3, 3, 4, 4]},
    )
    assert {(f.low, f.high) for f in report.pinned} == {(2, 2)}


# --- The attacker must catch a planted fault --------------------------------------------------


def test_without_complementary_suppression_the_attacker_pins_a_small_group(corp, cycles):
    # Every figure shown unless it has fewer than N raters: a department's total minus its
    # shown types leaves a one-rater type bare (the rank ratings of a small department).
    rng = random.Random(17)
    cycle = cycles.run(score=lambda req, crit: rng.randint(1, 5))
    n = settings.ICR_MIN_RATERS
    published = atk.figures_from_rollups(cycle, hidden=lambda row: row.raters < n)
    role = atk.hr()
    report = atk.attack(
        published, atk.background_from_db(cycle, role), atk.truth_from_db(cycle), role
    )
    print(report.summary())
    assert report.pinned_targets, report.summary()
    assert not report.undecided


# --- Today's publication ----------------------------------------------------------------------


def _reason(row) -> str:
    return "few" if results.hidden_reason(row) == results.FEW else "protect"


def _published(
    cycle: Cycle, role: atk.Role, *, seconds: float = 60.0, solve_seconds: float = 10.0
) -> atk.Report:
    """What ICR publishes, as pages and exports print it, and why each hidden row is hidden."""
    published = atk.figures_from_rollups(cycle, **atk.PROPOSED, reason=_reason)
    report = atk.attack(
        published,
        atk.background_from_db(cycle, role),
        atk.truth_from_db(cycle),
        role,
        seconds=seconds,
        solve_seconds=solve_seconds,
    )
    print(f"\n{report.summary()}")
    return report


def _random_company(rng: random.Random) -> Cycle:
    """3-6 departments in a random tree, up to 15 people, a few function relationships, one
    cycle answered at random (some requests left, some "not received") and closed."""
    departments = [DepartmentFactory(code="R0", name="总部R0")]
    for i in range(1, rng.randint(3, 6)):
        parent = rng.choice(departments)
        departments.append(DepartmentFactory(code=f"R{i}", name=f"部门R{i}", parent=parent))
    people = []
    heads = {}
    for i in range(rng.randint(len(departments) + 1, 15)):
        department = departments[i] if i < len(departments) else rng.choice(departments)
        parent = department.parent
        manager = heads.get(department.pk) or (heads.get(parent.pk) if parent else None)
        person = graph.hire_employee(
            employee_id=f"R{i:03d}", name=f"员工{i}", department=department, manager=manager
        )
        heads.setdefault(department.pk, person)
        people.append(person)
    pairs = {tuple(rng.sample(departments, 2)) for _i in range(rng.randint(1, 4))}
    for provider, customer in sorted(pairs, key=lambda p: (p[0].pk, p[1].pk)):
        if (customer, provider) not in pairs or provider.pk < customer.pk:
            graph.create_pair(EdgeType.FUNCTION, provider, customer, service="服务")
    now = timezone.now()
    cycle = services.create_cycle(name="R", opens_at=now, deadline=now + dt.timedelta(hours=12))
    services.open_cycle(cycle, now=now)
    for req in ReviewRequest.objects.filter(cycle=cycle).select_related("cycle"):
        draw = rng.random()
        if draw < 0.15:
            continue
        if draw < 0.22:
            services.submit_answer(req, not_received=True, now=now)
            continue
        criteria = services.applicable_criteria(cycle, req.edge_type, req.rank_kind)
        scores = {c.pk: rng.randint(1, 5) for c in criteria}
        services.submit_answer(req, scores=scores, now=now)
    services.close_cycle(cycle, now=now + dt.timedelta(hours=1))
    cycle.refresh_from_db()
    return cycle


# Companies of a handful of people, where every group is small and the equations chain. The
# examples are companies where the attacker once pinned a score: 1952 through a superior's
# named rating counted as cover; 63 through a chain of equations that the pairwise rules took
# one at a time (now audited, `Suppression._audit_chains`); 112 through a five-rater figure's
# favourable count (now printed only with the distribution). The others are pins that are a
# shown group's own result, reported as unanimous: 153, a three-rater mean of 4.3 under a
# subtree distribution with no 3 in it (`atk._pinned_alone`); 335, a nine-rater figure whose
# raters the siblings' figures and the subtree's distribution confine to 4 or 5
# (`atk._pinned_with_its_group`); 226 is a department whose one rater is a superior rating a
# report, named: not a target. 400 pinned a one-rater rank condition group's two criteria
# to 4 or 5 through a type's figure, which is the sum of its criteria (now audited with the
# equations whose scores add up, not only their raters); 413 pinned a one-rater group to 1 or
# 2 through a known sum of five raters that all scored low (now audited by score); 204 through
# a known sum of six raters that are the six least scores of a printed distribution (now
# audited against it); 242 through the whole company's distribution for a criterion, whose
# figure split into shown sums and two hidden figures of two raters (now unprinted: fewer
# than D raters lie in its hidden parts). Seeds 0-559 were run so.
@hypothesis_settings(
    max_examples=2,
    deadline=None,
    database=None,
    # The same companies on every run: CI's verdict does not depend on the draw.
    derandomize=True,
    # No shrinking: a failing company is printed whole, and slow to shrink.
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
@example(seed=1952)
@example(seed=63)
@example(seed=112)
@example(seed=153)
@example(seed=226)
@example(seed=335)
@example(seed=204)
@example(seed=400)
@example(seed=413)
@example(seed=242)
def test_no_hidden_figure_of_a_small_random_company_is_pinned(db, thresholds, seed):
    # Each example in a savepoint rolled back after it: examples do not see each other's rows.
    with transaction.atomic():
        services.forget_cached_criteria()
        cycle = _random_company(random.Random(seed))
        reports = [_published(cycle, atk.hr(), seconds=10)]
        root = Department.objects.get(code="R0")
        for department in Department.objects.filter(parent=root).order_by("code")[:1]:
            reports.append(_published(cycle, atk.head(department), seconds=10))
        transaction.set_rollback(True)
    for report in reports:
        assert_safe(report)
