"""Rollup rows: right figures, rolled up the tree, written on close, idempotent, set-based."""

from collections import defaultdict

import pytest
from django.db import DatabaseError, connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from relations.models import Department, subtree_ids
from reviews import services
from reviews.close import compute as close_compute
from reviews.close import compute_rollups, statements
from reviews.models import (
    Answer,
    AnswerScore,
    CycleStatus,
    ResponseRate,
    Rollup,
    RollupScope,
    subtree_rows,
    with_subtree,
)

FIGURE_FIELDS = ("raters", "not_received", "n1", "n2", "n3", "n4", "n5", "score_sum")


def kind_of(answer: Answer) -> str:
    return f"rank_{answer.rank_kind}" if answer.edge_type == "rank" else answer.edge_type


def reference(cycle) -> dict:
    """The department figures computed the slow way, straight from the answers."""
    figures: dict = defaultdict(lambda: dict.fromkeys(FIGURE_FIELDS, 0))
    trees = subtree_ids(list(Department.objects.values_list("id", flat=True)))
    ancestors = defaultdict(list)
    for root, members in trees.items():
        for member in members:
            ancestors[member].append(root)
    answers = Answer.objects.filter(cycle=cycle, submitted=True)
    scores = defaultdict(list)
    for s in AnswerScore.objects.filter(answer__in=answers):
        scores[s.answer_id].append(s)
    for answer in answers:
        kind = kind_of(answer)
        keys = []
        for k in ("", kind):
            for cust in (None, answer.customer_department_id):
                if cust is not None and k == "" and kind.startswith("rank_"):
                    continue  # all types per customer leaves rank out
                keys.append(("self", answer.provider_department_id, k, cust))
            for root in ancestors[answer.provider_department_id]:
                keys.append(("tree", root, k, None))
        for key in keys:
            overall = figures[(*key, None)]
            if answer.not_received:
                overall["not_received"] += 1
                continue
            overall["raters"] += 1
            for s in scores[answer.id]:
                for fig in (overall, figures[(*key, s.criterion_id)]):
                    fig[f"n{s.score}"] += 1
                    fig["score_sum"] += s.score
                figures[(*key, s.criterion_id)]["raters"] += 1
    return {k: v for k, v in figures.items()}


def as_stored(figures: dict) -> tuple[dict, set]:
    """The rows a cycle stores of these figures, and those flagged `only_type`: where a
    department serves a customer through one type besides rank, that type's row is also its
    all-types figure (which leaves rank out), which has no row of its own; and a department
    without sub-departments has no subtree rows: its department-alone rows of all customers are
    those figures."""
    kinds = defaultdict(list)
    for scope, dept, kind, customer, criterion in figures:
        if scope == "self" and kind and customer is not None and not kind.startswith("rank_"):
            kinds[(dept, customer, criterion)].append(kind)
    only = {("self", d, ks[0], c, crit) for (d, c, crit), ks in kinds.items() if len(ks) == 1}
    rows = dict(figures)
    for _scope, dept, kind, customer, criterion in only:
        assert (
            rows.pop(("self", dept, "", customer, criterion))
            == rows[("self", dept, kind, customer, criterion)]
        )
    parents = set(Department.objects.filter(parent__isnull=False).values_list("parent", flat=True))
    for scope, dept, kind, customer, criterion in list(rows):
        if scope == "tree" and dept not in parents:
            assert (
                rows.pop((scope, dept, kind, customer, criterion))
                == rows[("self", dept, kind, customer, criterion)]
            )
    return rows, only


def stored(cycle) -> dict:
    rows = Rollup.objects.filter(cycle=cycle).exclude(scope=RollupScope.PERSON)
    return {
        (r.scope, r.department_id, r.kind, r.customer_department_id, r.criterion_id): {
            f: getattr(r, f) for f in FIGURE_FIELDS
        }
        for r in rows
    }


def varied_score(req, crit):
    return 1 + (req.pk * 7 + crit.pk * 3) % 5


def test_closing_a_cycle_writes_figures_equal_to_counting_the_answers(corp, cycles):
    cycle = cycles.run(
        varied_score,
        not_received=lambda req: req.pk % 11 == 0,
        skip=lambda req: req.pk % 13 == 0,
    )
    assert cycle.status == CycleStatus.CLOSED
    rows, only = as_stored(reference(cycle))
    assert stored(cycle) == rows
    # (A person's only type is flagged too: tests/results/test_suppression.py.)
    flagged = Rollup.objects.filter(cycle=cycle, only_type=True).exclude(scope=RollupScope.PERSON)
    assert {
        (r.scope, r.department_id, r.kind, r.customer_department_id, r.criterion_id)
        for r in flagged
    } == only
    # The cases are there: customers served through one type besides rank (this company has
    # function alone between departments: tests/results/test_suppression.py has several),
    # rank answers, which stay out of the figures per customer, and departments with and
    # without sub-departments.
    assert only
    assert any(key[0] == "self" and key[2].startswith("rank_") for key in rows)
    assert any(key[0] == "tree" for key in rows)
    assert {key[1] for key in rows if key[0] == "self"} - {
        key[1] for key in rows if key[0] == "tree"
    }


def test_a_department_with_its_subtree_sums_its_sub_departments(corp, cycles):
    cycle = cycles.run(varied_score)
    ops, a, b = corp["ops"], corp["ops_a"], corp["ops_b"]

    def overall(scope, dept):
        rows = Rollup.objects.filter(
            with_subtree() if scope == "tree" else Q(scope=scope, customer_department=None),
            cycle=cycle,
            department=dept,
            kind="",
            criterion=None,
        )
        [row] = subtree_rows(rows) if scope == "tree" else rows
        return row

    tree, alone = overall("tree", ops), overall("self", ops)
    assert tree.scope == "tree"
    assert tree.raters == alone.raters + overall("tree", a).raters + overall("tree", b).raters
    assert tree.raters > alone.raters
    assert tree.score_sum == sum(
        overall(s, d).score_sum for s, d in (("self", ops), ("tree", a), ("tree", b))
    )
    # The sub-departments have none of their own: their figures are their own rows.
    assert not Department.objects.filter(parent__in=[a, b]).exists()
    assert overall("tree", a) == overall("self", a)
    assert tree.mean == pytest.approx(tree.score_sum / tree.count)
    assert tree.favourable == pytest.approx((tree.n4 + tree.n5) / tree.count)


def test_raters_are_distinct_answer_keys_and_not_received_is_counted_apart(corp, cycles):
    cycle = cycles.run(not_received=lambda req: req.rater_name == "销售员0")
    row = Rollup.objects.get(
        cycle=cycle,
        scope="self",
        department=corp["ops_a"],
        kind="function",
        criterion=None,
        customer_department=corp["sales"],
    )
    keys = (
        Answer.objects.filter(
            cycle=cycle,
            provider_department=corp["ops_a"],
            customer_department=corp["sales"],
            edge_type="function",
            not_received=False,
        )
        .values("key")
        .distinct()
        .count()
    )
    assert (row.raters, row.not_received) == (keys, 1)
    assert row.raters == 5


def test_recomputing_gives_the_same_rows_and_doubles_nothing(corp, cycles):
    cycle = cycles.run(varied_score)
    before = stored(cycle)
    count = Rollup.objects.filter(cycle=cycle).count()
    rates = list(
        ResponseRate.objects.filter(cycle=cycle).values_list(
            "department_id", "scope", "requests", "answered"
        )
    )
    compute_rollups(cycle)
    compute_rollups(cycle)
    assert stored(cycle) == before
    assert Rollup.objects.filter(cycle=cycle).count() == count
    assert sorted(rates) == sorted(
        ResponseRate.objects.filter(cycle=cycle).values_list(
            "department_id", "scope", "requests", "answered"
        )
    )


def cycle_partitions(cycle) -> list[str]:
    """PostgreSQL: the partitions of the rollup table that hold this cycle (reviews 0008)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'reviews_rollup'::regclass "
            "AND pg_get_expr(c.relpartbound, c.oid) = %s",
            [f"FOR VALUES IN ('{cycle.pk}')"],
        )
        return [name for (name,) in cursor.fetchall()]


def test_recomputing_one_cycle_leaves_the_others_alone(corp, cycles):
    first = cycles.run(varied_score)
    second = cycles.run()
    first_rows = stored(first)
    assert first_rows and stored(second)
    compute_rollups(second)
    compute_rollups(second)
    assert stored(first) == first_rows
    if connection.vendor == "postgresql":
        # Each closed cycle's figures are one partition of their own, swapped whole.
        assert len(cycle_partitions(first)) == 1
        assert len(cycle_partitions(second)) == 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM reviews_rollup_default")
            assert cursor.fetchone()[0] == 0


def test_every_figure_keeps_an_id_of_its_own_across_cycles_and_recomputations(corp, cycles):
    # Pages fetch figures by id; a close takes its ids from the sequence in one block.
    first = cycles.run(varied_score)
    second = cycles.run(varied_score)
    compute_rollups(first)
    compute_rollups(second)
    ids = list(Rollup.objects.values_list("id", flat=True))
    assert len(ids) == len(set(ids)) > 0
    if connection.vendor == "postgresql":  # the next id handed out lies past every figure's
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence('reviews_rollup', 'id'))")
            assert cursor.fetchone()[0] > max(ids)


def test_a_recomputation_that_fails_leaves_the_figures_as_they_were(corp, cycles, monkeypatch):
    # On PostgreSQL the people's pass runs in a thread beside suppression: its failure must
    # reach the caller, as a database error, with nothing of the recomputation kept.
    cycle = cycles.run(varied_score)
    before = stored(cycle)
    count = Rollup.objects.filter(cycle=cycle).count()

    def failing(*args, **kwargs):
        return [statements.Insert("SELECT * FROM no_such_table", [])]

    monkeypatch.setattr(close_compute, "person_statements", failing)
    with pytest.raises(DatabaseError):
        compute_rollups(cycle)
    assert stored(cycle) == before
    assert Rollup.objects.filter(cycle=cycle).count() == count


def test_closing_again_changes_no_figure(corp, cycles):
    cycle = cycles.run(varied_score)
    before = stored(cycle)
    services.close_cycle(cycle)
    assert stored(cycle) == before


def test_an_open_cycle_has_response_rates_but_no_figures(corp, cycles):
    cycle = cycles.run(skip=lambda req: req.rater_name.startswith("销售员"), close=False)
    compute_rollups(cycle)
    assert not Rollup.objects.filter(cycle=cycle).exists()
    rate = ResponseRate.objects.get(cycle=cycle, scope="self", department=corp["ops_a"])
    asked = cycle.requests.filter(provider_department=corp["ops_a"])
    assert rate.requests == asked.count()
    assert rate.answered == asked.exclude(status="pending").count() < rate.requests
    tree = ResponseRate.objects.get(cycle=cycle, scope="tree", department=corp["hq"])
    assert tree.requests == cycle.requests.count()


def test_person_figures_exist_only_for_people_with_enough_raters(corp, cycles):
    cycle = cycles.run()
    people = set(
        Rollup.objects.filter(cycle=cycle, scope="person", kind="", criterion=None).values_list(
            "employee_id", flat=True
        )
    )
    assert corp["heads"]["SALES"].pk in people  # five sellers rate their superior
    assert corp["heads"]["OPS_B"].pk not in people  # one report only
    assert corp["people"]["E021"].pk not in people  # a seller: only the superior rates them


def test_the_number_of_queries_does_not_grow_with_the_company(corp, cycles):
    from relations import services as graph

    def queries(cycle) -> int:
        with CaptureQueriesContext(connection) as ctx:
            compute_rollups(cycle)
        return len(ctx.captured_queries)

    small = queries(cycles.run(varied_score))
    for i in range(12):
        graph.hire_employee(
            employee_id=f"X{i:03d}",
            name=f"新人{i}",
            department=corp["fin"],
            manager=corp["heads"]["FIN"],
        )
    bigger = cycles.run(varied_score)
    assert bigger.answers.count() > 1.2 * Answer.objects.exclude(cycle=bigger).count()
    assert queries(bigger) == small


def test_the_periodic_refresh_updates_open_cycles_response_rates(corp, cycles):
    from reviews.tasks import refresh_response_rates

    cycle = cycles.run(close=False, skip=lambda req: True)
    refresh_response_rates.delay()
    rate = ResponseRate.objects.get(cycle=cycle, scope="tree", department=corp["hq"])
    assert (rate.requests, rate.answered) == (cycle.requests.count(), 0)
