"""Suppression: small groups, what is published, and subtraction attacks on totals and parts.

The unit tests feed rows (id, scope, dept, emp, kind, criterion, customer, raters) to
`reviews.close.suppression`; the others go through the real pipeline. Whether the published
figures can be solved together is the attacker's job: tests/disclosure.
"""

from collections import defaultdict

import pytest

from relations.models import Department
from reviews import results
from reviews.close import compute_rollups
from reviews.close import suppression as sp
from reviews.models import Cycle, CycleResultSettings, ResultComment, Rollup

N = 3


def rows_of(spec: list[tuple]) -> list[tuple]:
    """(scope, dept, emp, kind, criterion, customer, raters) → rows with ids, each rater
    scoring a 3 (the middle of the scale: no known sum lies near its floor or ceiling)."""
    return [(i + 1, *row, (3 * row[-1], 0, 0, row[-1], 0, 0)) for i, row in enumerate(spec)]


def hidden_keys(spec: list[tuple], children=None) -> set[tuple]:
    flags = sp.suppression_flags(rows_of(spec), N, children or {}).hidden
    return {row[:6] for row, hidden in zip(spec, flags, strict=True) if hidden}


def T(dept, raters, kind="", crit=None, cust=None, scope="self", emp=None):
    return (scope, dept, emp, kind, crit, cust, raters)


def test_a_figure_from_fewer_than_n_raters_is_suppressed():
    assert hidden_keys([T(1, 2), T(2, 3)]) == {T(1, 2)[:6]}


def test_a_small_type_is_hidden_with_the_lightest_complement_and_the_total_shows():
    spec = [T(1, 10), T(1, 5, "function"), T(1, 4, "process"), T(1, 1, "workflow")]
    # workflow (1) alone would be the total minus the others: one more part is hidden, the
    # lightest that makes the hidden parts hold N raters together (process, 4).
    assert hidden_keys(spec) == {T(1, 1, "workflow")[:6], T(1, 4, "process")[:6]}


def test_hidden_parts_hold_n_raters_together():
    spec = [T(1, 10), T(1, 8, "function"), T(1, 1, "process"), T(1, 1, "workflow")]
    hidden = hidden_keys(spec)
    # process + workflow are 2 raters: a third part joins them (the function row, 8).
    assert {T(1, 1, "process")[:6], T(1, 1, "workflow")[:6]} <= hidden
    assert T(1, 8, "function")[:6] in hidden
    assert T(1, 10)[:6] not in hidden  # the headline is the last thing hidden


def test_a_figure_of_n_raters_with_a_superiors_named_rating_among_them_is_hidden():
    # Department 1 per criterion: three raters, one of them the superior rating a report
    # (rank task, which the report and HR may read named): two anonymous raters, too few.
    # Department 2: four raters, one named, three anonymous: shown.
    spec = [
        T(1, 3, crit=7),
        T(1, 1, "rank_task", crit=7),
        T(1, 2, "rank_condition", crit=7),
        T(2, 4, crit=7),
        T(2, 1, "rank_task", crit=7),
        T(2, 3, "rank_condition", crit=7),
    ]
    hidden = hidden_keys(spec)
    assert T(1, 3, crit=7)[:6] in hidden
    assert T(2, 4, crit=7)[:6] not in hidden


def test_printed_distributions_do_not_give_a_smaller_groups_by_subtraction():
    # Department 1 with its sub-department 2: 30 raters = 6 of its own + 24 below. Both
    # subtree figures could print their score counts (D = 10), but their difference would be
    # the 6 raters' counts: one of the two stays unprinted, and so do the 6's.
    spec = [T(1, 30, scope="tree"), T(1, 6), T(2, 24)]
    flags = sp.suppression_flags(rows_of(spec), N, {1: [2]}, distribution_min_raters=10)
    assert flags.hidden == [False, False, False]
    unprinted = flags.distribution_hidden
    assert unprinted[1]
    assert unprinted[0] or unprinted[2]
    assert not all(unprinted), "the larger figure prints its distribution"


# Reduced from seed 242 of the random companies: the whole company's subtree (11 raters) =
# departments 1 and 3 alone (two raters each, hidden) + 2 and 4 (four and three, shown). The
# shown sums leave the subtree's distribution, less their scores, to four raters in two hidden
# figures of two; printed, HR's attacker pinned each of those to within a point through the
# other criteria's figures.
UNKNOWN_SUMS = [
    (T(1, 11, scope="tree"), (2, 2, 3, 2, 2)),
    (T(1, 2), (0, 1, 0, 1, 0)),
    (T(2, 4), (1, 0, 2, 0, 1)),
    (T(3, 2), (0, 0, 1, 1, 0)),
    (T(4, 3), (1, 1, 0, 0, 1)),
]


def unknown_sums_flags() -> sp.Flags:
    return sp.suppression_flags(
        rows_with_counts(UNKNOWN_SUMS), N, {1: [2, 3, 4]}, distribution_min_raters=10
    )


def test_a_distribution_whose_hidden_parts_hold_fewer_than_d_raters_is_not_printed():
    flags = unknown_sums_flags()
    assert flags.hidden == [False, True, False, True, False]
    assert flags.distribution_hidden[0], "the subtree's 11 raters: only 4 in hidden parts"
    # Its parts all shown, a subtree of as many raters prints: each part's sum is its own.
    spec = [T(1, 11, scope="tree"), T(1, 5), T(2, 6)]
    flags = sp.suppression_flags(rows_of(spec), N, {1: [2]}, distribution_min_raters=10)
    assert flags.hidden == [False, False, False]
    assert flags.distribution_hidden == [False, True, True]


def test_without_counting_the_hidden_parts_the_distribution_is_printed(monkeypatch):
    # The planted fault: no rater counted in hidden parts.
    monkeypatch.setattr(
        sp.Suppression, "_raters_of_unknown_sums", lambda self, hidden: [0] * len(self.rows)
    )
    flags = unknown_sums_flags()
    assert flags.hidden == [False, True, False, True, False]
    assert not flags.distribution_hidden[0]


def test_a_hidden_total_is_not_the_sum_of_shown_parts():
    # The total has 2 raters (hidden); its two parts have 1 each (hidden too, by size). A
    # criterion row of the same 2 raters is hidden by size as well.
    spec = [T(1, 2), T(1, 1, "function"), T(1, 1, "process"), T(1, 2, crit=7)]
    assert len(hidden_keys(spec)) == 4


def test_a_department_with_its_sub_departments_cannot_reveal_a_small_one():
    children = {1: [2, 3, 4]}
    spec = [
        T(1, 20, scope="tree"),
        T(1, 6),
        T(2, 7),
        T(3, 5),
        T(4, 2),
    ]
    hidden = hidden_keys(spec, children)
    assert T(4, 2)[:6] in hidden
    assert len(hidden) == 2  # one more part, not the headline with its subtree
    assert T(1, 20, scope="tree")[:6] not in hidden


# Seed 63 of the random companies: department 2 has children 3 (one rater) and 4, and 4 has
# child 5. 2's subtree minus 2 alone minus 5 (shown) is 3 + 4 alone: two one-rater groups, each
# of which passes the pairwise rules in its own equation.
CHAIN = [
    T(2, 14, scope="tree"),
    T(2, 9),
    T(3, 1),
    T(4, 4, scope="tree"),
    T(4, 1),
    T(5, 3),
]
CHAIN_CHILDREN = {2: [3, 4], 4: [5]}


def chain_exposed(hidden: set[tuple]) -> bool:
    """The two one-rater departments' sum is the shown figures' difference."""
    shown = {T(2, 14, scope="tree")[:6], T(2, 9)[:6], T(5, 3)[:6]}
    return not hidden & shown


@pytest.mark.parametrize("programs", [sp.AUDIT_PROGRAMS, 0], ids=["programs", "expansions"])
def test_a_chain_of_subtrees_cannot_give_two_small_departments_away(monkeypatch, programs):
    monkeypatch.setattr(sp, "AUDIT_PROGRAMS", programs)
    hidden = hidden_keys(CHAIN, CHAIN_CHILDREN)
    assert {T(3, 1)[:6], T(4, 1)[:6]} <= hidden
    assert not chain_exposed(hidden)
    assert T(2, 14, scope="tree")[:6] not in hidden  # the headline is the last thing hidden


def test_without_the_chain_audit_the_pairwise_rules_leave_the_chain(monkeypatch):
    # The planted fault: the audit switched off, the pattern passes every pairwise rule and
    # still leaves the two one-rater departments to subtraction.
    monkeypatch.setattr(sp.Suppression, "_audit_chains", lambda self, hidden, raters, n, **kw: [])
    assert chain_exposed(hidden_keys(CHAIN, CHAIN_CHILDREN))


# Random company 413, reduced: department 1 (one rater) with children 2 (seven raters) and 3
# (four), on one criterion. Department 3 is hidden to cover 1, and the pairwise rules hold:
# 1 + 3 is the subtree minus 2, five raters. But when those five are all near the bottom
# (1 + 1 + 1 + 2 + 2 = 7) or the top of the scale, each of them is known to within a point or
# two, and the subtree's printed distribution settled the rest: the one rater gave 1 or 2.
def rows_with_counts(spec: list[tuple]) -> list[tuple]:
    """[(T(...), its score counts n1..n5)] → rows with ids and score sums."""
    return [
        (i + 1, *row, (sum(score * count for score, count in enumerate(counts, 1)), *counts))
        for i, (row, counts) in enumerate(spec)
    ]


def near_the_scale_s_edge(edge: str) -> tuple[list[tuple], set[tuple]]:
    # (row, its score counts n1..n5): 1 or 2 points from the floor or the ceiling.
    own, third = (
        ((0, 1, 0, 0, 0), (3, 1, 0, 0, 0))
        if edge == "bottom"
        else (
            (0, 0, 0, 1, 0),
            (0, 0, 0, 1, 3),
        )
    )
    second = (0, 0, 7, 0, 0)
    spec = [
        (T(1, 12, crit=7, scope="tree"), tuple(map(sum, zip(own, second, third, strict=True)))),
        (T(1, 1, crit=7), own),
        (T(2, 7, crit=7), second),
        (T(3, 4, crit=7), third),
    ]
    rows = rows_with_counts(spec)
    # D above the subtree: no distribution printed (which would bound the scores further).
    hidden = sp.suppression_flags(rows, N, {1: [2, 3]}, distribution_min_raters=20).hidden
    return [row for row, _counts in spec], {
        row[:6] for (row, _counts), h in zip(spec, hidden, strict=True) if h
    }


@pytest.mark.parametrize("edge", ["bottom", "top"])
def test_a_known_sum_near_the_bottom_or_top_of_the_scale_is_no_cover(edge):
    (subtree, own, second, _third), hidden = near_the_scale_s_edge(edge)
    assert own[:6] in hidden and subtree[:6] not in hidden
    # 1 is covered by 2 (1 + 2 spans the scale), not by 3 alone: 1 + 3 is not the subtree
    # minus a shown figure.
    assert second[:6] in hidden


def test_without_the_score_audit_a_known_sum_near_the_floor_is_left(monkeypatch):
    # The planted fault: counting raters alone, the five raters cover the one.
    monkeypatch.setattr(sp, "SCORE_ROOM", 0)
    (subtree, own, second, third), hidden = near_the_scale_s_edge("bottom")
    assert own[:6] in hidden and third[:6] in hidden
    assert not hidden & {subtree[:6], second[:6]}


# Random company 204, reduced: department 1's subtree prints its distribution on a criterion
# (eleven raters: three 2s, five 3s, a 4, two 5s). Department 4's subtree (five raters) shows
# 20, which only 5, 5, 4, 3, 3 make; department 1 alone (four raters) is hidden to cover the
# one rater each of departments 2 and 3, but those six are the rest, 2, 2, 2, 3, 3, 3: each
# of the two gave a 2 or a 3.
DISTRIBUTION_SUM = [
    (T(1, 11, crit=7, scope="tree"), (0, 3, 5, 1, 2)),
    (T(1, 4, crit=7), (0, 3, 1, 0, 0)),
    (T(2, 1, crit=7), (0, 0, 1, 0, 0)),
    (T(3, 1, crit=7), (0, 0, 1, 0, 0)),
    (T(4, 5, crit=7, scope="tree"), (0, 0, 2, 1, 2)),
]


def distribution_sum_hidden() -> set[tuple]:
    rows = rows_with_counts(DISTRIBUTION_SUM)
    flags = sp.suppression_flags(rows, N, {1: [2, 3, 4]}, distribution_min_raters=10)
    return {row[:6] for (row, _counts), h in zip(DISTRIBUTION_SUM, flags.hidden, strict=True) if h}


def test_a_known_sum_of_the_least_scores_a_printed_distribution_holds_is_no_cover():
    subtree, _alone, two, three, four = (row[:6] for row, _counts in DISTRIBUTION_SUM)
    hidden = distribution_sum_hidden()
    assert {two, three} <= hidden
    # 2 and 3 are covered by 1 alone, or by 1 alone and 4; either way no longer by the
    # subtree minus department 4's shown figure.
    assert {subtree, four} & hidden


def test_without_the_distribution_check_the_least_scores_are_left(monkeypatch):
    # The planted fault: only the per-score floor of the distribution (no 1s) is weighed.
    monkeypatch.setattr(sp, "near_the_ends_of_a_distribution", lambda *args: False)
    subtree, alone, two, three, four = (row[:6] for row, _counts in DISTRIBUTION_SUM)
    hidden = distribution_sum_hidden()
    assert {alone, two, three} <= hidden and not {subtree, four} & hidden


def test_a_matrix_row_cannot_reveal_a_small_customer():
    spec = [T(1, 9), T(1, 6, cust=21), T(1, 2, cust=22), T(1, 1, cust=23)]
    hidden = hidden_keys(spec)
    assert {T(1, 2, cust=22)[:6], T(1, 1, cust=23)[:6]} <= hidden
    assert T(1, 9)[:6] not in hidden


def test_criteria_overlap_so_one_hidden_criterion_needs_another():
    spec = [T(1, 6), T(1, 6, crit=7), T(1, 6, crit=8), T(1, 2, "function"), T(1, 4, "process")]
    hidden = hidden_keys(spec)
    # function (2) is hidden with process (4); the criteria rows all show.
    assert hidden == {T(1, 2, "function")[:6], T(1, 4, "process")[:6]}


def test_criteria_of_one_type_only_add_up_to_that_types_figure():
    """Criteria aimed at some types only (rank task and condition customers have their own):
    a criterion's all-types figure is then one type's, and that type's criteria add up to its
    figure. Department 1: function (4 raters) scores criteria 1-4 only, condition customers
    (2) criteria 9-12 only. The small condition figure is hidden, and function with it; if
    function's four criteria all showed, they would give function back, and the total minus
    function the two condition raters' scores."""
    spec = [T(1, 6), T(1, 4, "function"), T(1, 2, "rank_condition")]
    for crit in (1, 2, 3, 4):  # the all-types row, and the per-type one (never published)
        spec += [T(1, 4, crit=crit), T(1, 4, "function", crit=crit)]
    for crit in (9, 10, 11, 12):
        spec += [T(1, 2, crit=crit), T(1, 2, "rank_condition", crit=crit)]
    hidden = hidden_keys(spec)
    assert T(1, 2, "rank_condition")[:6] in hidden
    function_criteria = {T(1, 4, crit=crit)[:6] for crit in (1, 2, 3, 4)}
    function_given = T(1, 4, "function")[:6] not in hidden or not function_criteria & hidden
    assert not (function_given and T(1, 6)[:6] not in hidden), sorted(hidden, key=repr)


def test_people_beside_their_department_count_what_is_left_as_an_unknown():
    # Function: the department has 5 raters, its one person with a figure 4; what is left
    # (1 rater, answers about the department end) is never published. The person's row
    # shown would give that rater by subtraction: it is hidden, or the department's is.
    spec = [
        T(1, 5),
        T(1, 5, "function"),
        T(1, 4, scope="person", emp=9),
        T(1, 4, "function", scope="person", emp=9),
    ]
    hidden = hidden_keys(spec)
    assert hidden, "the leftover of one rater must not come out by subtraction"
    assert T(1, 5)[:6] not in hidden


def test_only_published_shapes_are_shown():
    spec = [
        T(1, 9),
        T(1, 9, "function"),
        T(1, 9, "function", crit=7),  # type x criterion: not published
        T(1, 9, "function", cust=2),  # the one type towards customer 2: published for it
        T(1, 9, "function", crit=7, cust=2),  # finest: not published
        T(1, 9, crit=7),
    ]
    hidden = hidden_keys(spec)
    assert hidden == {T(1, 9, "function", crit=7)[:6], T(1, 9, "function", crit=7, cust=2)[:6]}


def test_the_rows_order_does_not_change_the_flags():
    spec = [T(1, 12), T(1, 5, "function"), T(1, 5, "process"), T(1, 2, "workflow")]
    forward = sp.suppression_flags(rows_of(spec), N, {})[0]
    backward = sp.suppression_flags(list(reversed(rows_of(spec))), N, {})[0]
    assert forward == list(reversed(backward))


def test_hidden_to_protect_is_told_apart_from_too_few():
    spec = [T(1, 10), T(1, 5, "function"), T(1, 4, "process"), T(1, 1, "workflow")]
    protecting = sp.suppression_flags(rows_of(spec), N, {}).protecting
    assert protecting == [2]  # the process row: 4 raters, hidden for the workflow row


def test_a_solver_failure_falls_back_to_a_repair_that_still_protects(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr(sp, "milp", lambda *a, **k: SimpleNamespace(x=None, status=4))
    spec = [T(1, 10), T(1, 8, "function"), T(1, 1, "process"), T(1, 1, "workflow")]
    hidden = hidden_keys(spec)
    assert {T(1, 1, "process")[:6], T(1, 1, "workflow")[:6], T(1, 8, "function")[:6]} <= hidden


# --- Through the real pipeline ---------------------------------------------------------------


def check_equations(cycle: Cycle, n: int) -> int:
    """An independent check of every total = parts relation among the published rows.

    Where the total is shown, either every part is shown or at least two unknowns hold at
    least n raters together; where it is hidden, its parts do not all show. Rows that are not
    published are hidden.
    """
    rows = list(Rollup.objects.filter(cycle=cycle))
    index = {}
    for r in rows:
        kind = "" if r.only_type else r.kind
        if not sp.is_published(r.scope, kind, r.criterion_id, r.customer_department_id, False):
            assert r.suppressed, f"{r} is not published but shows"
            continue
        index[
            (
                r.scope,
                r.department_id,
                r.employee_id,
                kind,
                r.criterion_id,
                r.customer_department_id,
            )
        ] = r
    children = defaultdict(list)
    for pk, parent in Department.objects.values_list("id", "parent_id"):
        children[parent].append(pk)
    checked = 0
    families = defaultdict(list)
    for (scope, d, e, k, c, cu), r in index.items():
        if k and c is None:
            families[("kind", scope, d, e)].append(r)
        if c is not None:
            families[("crit", scope, d, e)].append(r)
        if cu is not None:
            families[("cust", scope, d, e)].append(r)
    for (scope, d, e, k, c, _cu), r in index.items():
        # Per customer rank is left out: with the rank types the customers add up to the total.
        if k in ("rank_task", "rank_condition") and c is None and ("cust", scope, d, e) in families:
            families[("cust", scope, d, e)].append(r)
    for (family, scope, d, e), parts in families.items():
        total = index.get((scope, d, e, "", None, None))
        checked += _check(total, parts, n, disjoint=family != "crit")
    for (scope, d, _e, k, c, _cu), total in index.items():
        if scope == "tree":
            parts = [index.get(("self", d, None, k, c, None))]
            # A child without sub-departments has no subtree rows: its own row is the figure.
            parts += [
                index.get(("tree", ch, None, k, c, None))
                or index.get(("self", ch, None, k, c, None))
                for ch in children[d]
            ]
            checked += _check(total, [p for p in parts if p], n, disjoint=True)
    return checked


def _check(total, parts, n, *, disjoint) -> int:
    if total is None or not parts:
        return 0
    hidden = [p for p in parts if p.suppressed]
    if total.suppressed:
        assert hidden or len(parts) == 0, f"{total} is hidden but its parts add up to it"
        return 1
    for p in parts:
        if p.raters < n:
            assert p.suppressed, f"{p} has {p.raters} raters and shows"
    if hidden:
        assert len(hidden) >= 2, f"{hidden[0]} = {total} minus the shown parts"
        if disjoint:
            assert sum(p.raters for p in hidden) >= n
    return 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_stored_equation_leaves_a_small_figure_to_subtraction(corp, cycles, seed):
    def skip(req):
        return (req.pk * seed) % 4 == 0

    cycle = cycles.run(lambda req, crit: 1 + (req.pk + crit.pk * seed) % 5, skip=skip)
    assert Rollup.objects.filter(cycle=cycle, suppressed=True).exists()
    assert Rollup.objects.filter(cycle=cycle, suppressed=False).exists()
    assert check_equations(cycle, N) > 20


NATURAL_KEY = ("scope", "department", "employee", "kind", "criterion", "customer_department")


def test_recomputing_a_cycle_keeps_every_suppression_flag(corp, cycles):
    # PostgreSQL aggregates in parallel workers, in no set order, and the close reads the rows
    # in three parts: the flags must not depend on the order the rows were computed in.
    cycle = cycles.run(lambda req, crit: 1 + (req.pk + crit.pk) % 5, skip=lambda r: r.pk % 3 == 0)

    def flags():
        rows = Rollup.objects.filter(cycle=cycle).values_list(*NATURAL_KEY, "suppressed")
        return {row[:-1]: row[-1] for row in rows}

    before = flags()
    assert set(before.values()) == {True, False}
    compute_rollups(cycle)
    assert flags() == before


def test_the_dashboard_hides_a_small_sub_department_and_one_more_part(corp, cycles, client):
    cycle = cycles.run(
        edge_types=["function"],
        skip=lambda req: (
            req.provider_department_id == corp["ops_b"].pk
            and req.rater_name not in ("销售员0", "销售员1")
        ),
    )
    client.force_login(corp["heads"]["OPS"].user)
    page = client.get(f"/results/departments/{corp['ops'].pk}/", {"cycle": cycle.pk})
    parts = {f.label: f for f in page.context["parts"]}
    assert parts["运营二组"].suppressed and parts["运营二组"].reason == results.FEW
    overall = page.context["overall"]
    hidden = [f for f in [overall, *page.context["parts"]] if f.suppressed]
    # Never the only unknown: the overall (which also protects 财务部, 2 raters, in the
    # company's figure) or another part is hidden with it, and says why.
    assert len(hidden) >= 2
    assert all(f.reason == results.PROTECTING for f in hidden if f is not parts["运营二组"])
    html = page.content.decode()
    assert "Hidden to protect a smaller group" in html or "为保护" in html


def test_the_change_since_last_cycle_is_not_shown_when_last_cycle_was_suppressed(corp, cycles):
    def small(req):
        return req.provider_department_id == corp["ops_b"].pk and req.rater_name not in (
            "销售员0",
            "销售员1",
        )

    cycles.run(edge_types=["function"], skip=small)
    second = cycles.run(edge_types=["function"])
    context = results.department_dashboard(corp["ops_b"], second)
    assert not context["overall"].suppressed
    assert context["overall"].change is None
    third = cycles.run(edge_types=["function"], score=lambda req, crit: 5)
    context = results.department_dashboard(corp["ops_b"], third)
    assert context["overall"].change == pytest.approx(1.0)


def test_comments_need_m_raters_and_carry_no_names(corp, cycles, settings):
    cycle = cycles.run(
        edge_types=["function"],
        comment=lambda req: f"意见 {req.pk % 3}",
    )
    kept = ResultComment.objects.filter(cycle=cycle, employee__isnull=True)
    by_dept = {c.department_id for c in kept}
    # OPS_A is rated by the six people of SALES; FIN only by the two of OPS_B.
    assert corp["ops_a"].pk in by_dept
    assert corp["fin"].pk not in by_dept
    assert {c.text for c in kept} <= {"意见 0", "意见 1", "意见 2"}
    settings.ICR_MIN_COMMENT_RATERS = 7
    compute_rollups(cycle)
    assert not ResultComment.objects.filter(cycle=cycle, department=corp["ops_a"]).exists()


def test_the_rank_task_rating_never_enters_a_persons_overall(corp, cycles):
    # 李销售 is rated by five sellers (condition) and by 王总 (task).
    cycle = cycles.run(lambda req, crit: 5 if req.rank_kind == "task" else 2)
    head = corp["heads"]["SALES"]
    overall = Rollup.objects.get(
        cycle=cycle, scope="person", employee=head, kind="", criterion=None
    )
    assert overall.mean == 2 and overall.raters == 5
    assert not Rollup.objects.filter(cycle=cycle, employee=head, kind="rank_task").exists()
    # Counted in the department's figures.
    assert (
        Rollup.objects.get(
            cycle=cycle,
            scope="self",
            department=corp["sales"],
            kind="rank_task",
            criterion=None,
            customer_department=None,
        ).raters
        == 6
    )
    CycleResultSettings.objects.create(cycle=cycle, rank_task_visibility="named")
    compute_rollups(cycle)
    named = Rollup.objects.get(
        cycle=cycle, scope="person", employee=head, kind="rank_task", criterion=None
    )
    assert (named.raters, named.mean, named.suppressed) == (1, 5, False)
    overall = Rollup.objects.get(
        cycle=cycle, scope="person", employee=head, kind="", criterion=None
    )
    assert overall.mean == 2


def test_a_type_alone_between_two_departments_is_taken_for_their_all_types_figure():
    spec = [
        ("self", 1, None, "function", 7, 2, 4),  # the one type towards customer 2
        ("self", 1, None, "function", None, 2, 4),
        ("self", 1, None, "function", 7, 3, 4),  # two types towards customer 3
        ("self", 1, None, "process", 7, 3, 4),
        ("self", 1, None, "", 7, 3, 8),
        ("self", 1, None, "function", 7, None, 8),  # all customers: not a customer's figure
    ]
    only_type = sp.suppression_flags(rows_of(spec), N, {}).only_type
    assert only_type == [0, 1]


def test_per_customer_figures_leave_rank_out_and_add_up_with_the_rank_types():
    # 10 raters: rank task 1 and rank condition 3 (no customer breakdown), function 6 towards
    # two customers (4 and 2). The customer figures and the rank types make up the total.
    spec = [
        T(1, 10),
        T(1, 1, "rank_task"),
        T(1, 3, "rank_condition"),
        T(1, 6, "function"),
        T(1, 4, cust=21),
        T(1, 2, cust=22),
    ]
    hidden = hidden_keys(spec)
    assert {T(1, 1, "rank_task")[:6], T(1, 2, cust=22)[:6]} <= hidden
    # Each hidden row has company that makes N raters with it; the headline stays.
    assert T(1, 10)[:6] not in hidden
    rows = rows_of(spec)
    suppression = sp.Suppression(N, {})
    suppression.add(rows)
    suppression.settle()
    (customers,) = [e for e in suppression.equations if 4 in e.parts]
    assert set(customers.parts) == {1, 2, 4, 5} and customers.rest == 0


def test_a_person_rated_through_one_type_has_one_figure():
    # The person's function row is their overall figure: one figure, flagged only_type, with
    # the overall's flag; in their department's people equation it stands as the overall.
    spec = [
        T(1, 6),
        T(1, 6, "function"),
        T(1, 4, scope="person", emp=9),
        T(1, 4, "function", scope="person", emp=9),
    ]
    flags, only_type, _protecting, _unprinted = sp.suppression_flags(rows_of(spec), N, {})
    assert only_type == [3]
    assert flags[2] == flags[3]
    assert not sp.is_published("person", "function", None, None, only_type=True)
    suppression = sp.Suppression(N, {})
    suppression.add(rows_of(spec))
    suppression.settle()
    (people,) = [e for e in suppression.equations if e.total == 1]
    assert people.parts == (2,) and people.rest == 2
