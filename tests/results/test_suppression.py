"""Suppression: small groups, and the subtraction attacks on totals and their parts."""

import itertools
from collections import defaultdict

import pytest

from relations.models import Department
from reviews import results
from reviews.models import Cycle, CycleResultSettings, ResultComment, Rollup
from reviews.rollups import compute_rollups
from tests.factories import DepartmentFactory

N = 3


def rows_of(spec: list[tuple]) -> list[tuple]:
    """(scope, dept, emp, kind, criterion, customer, raters) → rows with ids."""
    return [(i + 1, *row) for i, row in enumerate(spec)]


def hidden_keys(spec: list[tuple]) -> set[tuple]:
    flags = results.suppression_flags(rows_of(spec), N)
    return {row[:6] for row, hidden in zip(spec, flags, strict=True) if hidden}


@pytest.mark.django_db
def test_a_figure_from_fewer_than_n_raters_is_suppressed():
    spec = [("self", 1, None, "", None, None, 2), ("self", 2, None, "", None, None, 3)]
    assert hidden_keys(spec) == {("self", 1, None, "", None, None)}


@pytest.mark.django_db
def test_a_type_filter_and_its_complement_cannot_reveal_a_small_type():
    # All types = 10 raters; function 7, process 2, workflow 1. Without protection, all types
    # minus function gives process + workflow = 3 raters... still fine; but all minus function
    # minus process would give workflow (1 rater) if process were shown.
    spec = [
        ("self", 1, None, "", None, None, 10),
        ("self", 1, None, "function", None, None, 5),
        ("self", 1, None, "process", None, None, 4),
        ("self", 1, None, "workflow", None, None, 1),
    ]
    hidden = hidden_keys(spec)
    assert ("self", 1, None, "workflow", None, None) in hidden
    assert ("self", 1, None, "process", None, None) in hidden  # the smallest shown one
    assert ("self", 1, None, "function", None, None) not in hidden
    assert ("self", 1, None, "", None, None) not in hidden


@pytest.mark.django_db
def test_complements_are_added_until_the_hidden_parts_hold_n_raters():
    spec = [
        ("self", 1, None, "", None, None, 12),
        ("self", 1, None, "function", None, None, 8),
        ("self", 1, None, "process", None, None, 1),
        ("self", 1, None, "workflow", None, None, 1),
        ("self", 1, None, "rank_task", None, None, 2),
    ]
    hidden = hidden_keys(spec)
    # process (1) + workflow (1) = 2 < 3, so rank_task (2) goes too: 4 hidden raters.
    assert {k[3] for k in hidden} == {"process", "workflow", "rank_task"}


@pytest.mark.django_db
def test_a_department_tree_and_its_sub_departments_cannot_reveal_a_small_sub_department():
    # Sub-departments without any of their own have no subtree rows: their own rows are
    # their figures with their subtrees.
    parent = DepartmentFactory(code="P")
    small = DepartmentFactory(code="S", parent=parent)
    big = DepartmentFactory(code="B", parent=parent)
    spec = [
        ("tree", parent.pk, None, "", None, None, 12),
        ("self", parent.pk, None, "", None, None, 5),
        ("self", small.pk, None, "", None, None, 2),
        ("self", big.pk, None, "", None, None, 5),
    ]
    hidden = hidden_keys(spec)
    assert ("self", small.pk, None, "", None, None) in hidden
    assert ("tree", parent.pk, None, "", None, None) not in hidden
    # Parent with its subtree minus the shown parts would give the small one: one more goes.
    assert (
        len(
            hidden
            & {("self", parent.pk, None, "", None, None), ("self", big.pk, None, "", None, None)}
        )
        == 1
    )


@pytest.mark.django_db
def test_a_suppressed_total_is_not_left_to_be_added_up_from_its_parts():
    leaf = DepartmentFactory(code="L")
    # The leaf's tree figure is hidden as a complement elsewhere; its only part (the leaf
    # alone) is the same figure, so it must be hidden too.
    spec = [("tree", leaf.pk, None, "", None, None, 4), ("self", leaf.pk, None, "", None, None, 4)]
    rows = rows_of(spec)
    raters = [r[7] for r in rows]
    hidden = [True, False]
    for eq in results._equations(rows):
        results._enforce(eq, raters, hidden, N)
    assert hidden == [True, True]


@pytest.mark.django_db
def test_a_matrix_row_and_its_customers_cannot_reveal_a_small_customer():
    # Row total 10; customers 2 and 3 are shown; 4 and 5 have one rater each. Row minus the
    # shown customers would be 2 raters: the next smallest customer (3) is hidden as well.
    spec = [
        ("self", 1, None, "", None, None, 10),
        ("self", 1, None, "", None, 2, 5),
        ("self", 1, None, "", None, 3, 3),
        ("self", 1, None, "", None, 4, 1),
        ("self", 1, None, "", None, 5, 1),
    ]
    assert {k[5] for k in hidden_keys(spec)} == {3, 4, 5}
    # Two small customers that hold N raters together need no third one.
    spec[3] = ("self", 1, None, "", None, 4, 2)
    spec[0] = ("self", 1, None, "", None, None, 11)
    assert {k[5] for k in hidden_keys(spec)} == {4, 5}


@pytest.mark.django_db
def test_criteria_overlap_so_a_complement_must_hold_n_raters_on_its_own():
    spec = [
        ("self", 1, None, "", None, None, 10),
        ("self", 1, None, "", 1, None, 10),
        ("self", 1, None, "", 2, None, 10),
        ("self", 1, None, "", 3, None, 2),  # a criterion only one type uses
    ]
    hidden = hidden_keys(spec)
    assert ("self", 1, None, "", 3, None) in hidden
    assert len(hidden & {("self", 1, None, "", 1, None), ("self", 1, None, "", 2, None)}) == 1


@pytest.mark.django_db
def test_people_shown_beside_their_department_cannot_reveal_what_is_left():
    # The department alone, one type: 7 raters; two people with 3 and 3; 1 rater about the
    # department itself. department − people = that one rater, unless a person is hidden too.
    spec = [
        ("self", 1, None, "process", None, None, 7),
        ("person", 1, 11, "process", None, None, 3),
        ("person", 1, 12, "process", None, None, 3),
    ]
    hidden = hidden_keys(spec)
    assert (
        len(
            hidden
            & {("person", 1, 11, "process", None, None), ("person", 1, 12, "process", None, None)}
        )
        == 1
    )


# --- Through the real pipeline ---------------------------------------------------------------


def check_equations(cycle: Cycle, n: int) -> int:
    """An independent check of every total = parts relation among the stored rows.

    Where the total is shown, either every part is shown or at least two unknowns hold at
    least n raters together; where it is hidden, its parts do not all show.
    """
    rows = list(Rollup.objects.filter(cycle=cycle))
    index = {
        (
            r.scope,
            r.department_id,
            r.employee_id,
            r.kind,
            r.criterion_id,
            r.customer_department_id,
        ): r
        for r in rows
    }
    for (scope, d, e, _k, c, cu), r in list(index.items()):
        if r.only_type:  # also its department's all-types figure for that customer
            assert (scope, d, e, "", c, cu) not in index
            index[(scope, d, e, "", c, cu)] = r
    children = defaultdict(list)
    for pk, parent in Department.objects.values_list("id", "parent_id"):
        children[parent].append(pk)
    checked = 0
    families = defaultdict(list)
    for (scope, d, e, k, c, cu), r in index.items():
        if scope == "person" and k == "rank_task":
            continue
        if k:
            families[("kind", scope, d, e, c, cu)].append(r)
        if c is not None:
            families[("crit", scope, d, e, k, cu)].append(r)
        if cu is not None:
            families[("cust", d, k, c)].append(r)
    for fam, parts in families.items():
        if fam[0] == "kind":
            _, scope, d, e, c, cu = fam
            total = index.get((scope, d, e, "", c, cu))
        elif fam[0] == "crit":
            _, scope, d, e, k, cu = fam
            total = index.get((scope, d, e, k, None, cu))
        else:
            _, d, k, c = fam
            total = index.get(("self", d, None, k, c, None))
        checked += _check(total, parts, n, disjoint=fam[0] != "crit")
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
        held = sum(p.raters for p in hidden) if disjoint else max(p.raters for p in hidden)
        assert held >= n
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


def test_rows_sorted_in_python_come_in_the_databases_suppression_order(corp, cycles):
    cycle = cycles.run(skip=lambda r: r.pk % 4 == 0)
    rows = list(
        Rollup.objects.filter(cycle=cycle)
        .order_by(*results.SUPPRESSION_ORDER)
        .values_list(*results.ROW_FIELDS)
    )
    assert len({row[1] for row in rows}) == 3  # person, self and tree rows
    assert any(row[5] is None for row in rows) and any(row[6] is None for row in rows)
    assert sorted(reversed(rows), key=results.suppression_order_key) == rows


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
    assert parts["运营二组"].suppressed
    assert sum(1 for f in page.context["parts"] if f.suppressed) == 2
    assert not page.context["overall"].suppressed
    overall = page.context["overall"]
    shown = [f for f in page.context["parts"] if not f.suppressed]
    # What subtraction gives: the hidden parts together, at least N raters.
    assert overall.raters - sum(f.raters for f in shown) >= N


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


def test_every_combination_of_type_and_criterion_filter_is_consistent(corp, cycles):
    cycle = cycles.run(
        lambda req, crit: 1 + (req.pk * 3 + crit.pk) % 5, skip=lambda req: req.pk % 3 == 0
    )
    kinds = ["", "function", "rank_task", "rank_condition"]
    criteria = [None, *cycle.criteria.values_list("pk", flat=True)]
    for kind, criterion in itertools.product(kinds, criteria):
        context = results.department_dashboard(corp["hq"], cycle, kind=kind, criterion_id=criterion)
        for _i, _j, mean in context["heatmap"]["cells"]:
            if mean is not None:
                assert 1 <= mean <= 5


@pytest.mark.django_db
def test_a_type_alone_between_two_departments_is_taken_for_their_all_types_figure():
    spec = [
        ("self", 1, None, "function", 7, 2, 4),  # the one type towards customer 2
        ("self", 1, None, "function", None, 2, 4),
        ("self", 1, None, "function", 7, 3, 4),  # two types towards customer 3
        ("self", 1, None, "process", 7, 3, 4),
        ("self", 1, None, "", 7, 3, 8),
        ("self", 1, None, "function", 7, None, 8),  # all customers: not a customer's figure
    ]
    suppression = results.Suppression(N, {})
    suppression.add(rows_of(spec))
    suppression.settle()
    assert sorted(suppression.only_type) == [0, 1]
