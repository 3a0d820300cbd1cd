"""A closed cycle keeps the department tree it closed with (issue 17).

The close copies the tree (`reviews.snapshot`); recomputing a closed cycle later (HR saving its
result settings) rolls up, suppresses and exports with that copy, whatever happened to the
departments since: a department moved to another parent, a person moved, a department renamed.
Otherwise the export before and after a move differs by exactly the moved part's raters.
"""

import importlib

from django.conf import settings
from django.db import connection
from django.test import Client

from relations import services as graph
from relations.models import Department
from reviews import snapshot
from reviews.close import compute_rollups
from reviews.close import suppression as sp
from reviews.close.compute import suppression_rows
from reviews.models import CycleDepartment, ResponseRate, Rollup
from tests.results.test_pages import exported_lines

N = 3  # ICR_MIN_RATERS in these tests (conftest)

FIGURE_COLUMNS = (
    "raters",
    "not_received",
    "n1",
    "n2",
    "n3",
    "n4",
    "n5",
    "score_sum",
    "mean",
    "favourable",
    "only_type",
    "suppressed",
)
KEY_COLUMNS = ("scope", "department_id", "employee_id", "kind", "criterion_id")


def score(req, crit) -> int:
    # From names and the criterion's order, not ids: the same answers on both databases.
    return 1 + (sum(map(ord, req.rater_name + req.provider_name)) + crit.order) % 5


def few_about_ops_b(req) -> bool:
    # OPS_B is rated by two sellers only: its figures are suppressed, and so are complements.
    return req.provider_name == "运营二组" and req.rater_name not in ("销售员0", "销售员1")


def figures(cycle) -> dict:
    """Every rollup row of the cycle, by its natural key: all figure columns and flags."""
    rows = Rollup.objects.filter(cycle=cycle).values_list(
        *KEY_COLUMNS, "customer_department_id", *FIGURE_COLUMNS
    )
    width = len(KEY_COLUMNS) + 1
    return {row[:width]: row[width:] for row in rows}


def rates(cycle) -> set:
    return set(
        ResponseRate.objects.filter(cycle=cycle).values_list(
            "scope", "department_id", "requests", "answered"
        )
    )


def reorganise(corp) -> None:
    """After the close: OPS_B moves from OPS to FIN (FIN gains a sub-department, OPS loses
    one), SALES moves under OPS, a rater moves, and OPS is renamed (code and name)."""
    graph.set_department_parent(corp["ops_b"], corp["fin"])
    graph.set_department_parent(corp["sales"], corp["ops"])
    graph.move_employee(corp["people"]["E060"], corp["sales"])  # 二组员, a rater of FIN
    Department.objects.filter(pk=corp["ops"].pk).update(code="OPS_NEW", name="运营中心")


def save_result_settings(cycle, hr_user) -> None:
    """What HR does: save the cycle's result settings, which computes its results again."""
    client = Client()
    client.force_login(hr_user)
    response = client.post(
        f"/results/cycles/{cycle.pk}/settings/", {"rank_task_visibility": "hidden"}
    )
    assert response.status_code == 302


def test_moves_and_renames_after_the_close_change_no_figure_and_no_exported_line(
    corp, cycles, hr_user
):
    cycle = cycles.run(score, skip=few_about_ops_b)
    lines, rows, rates_before = exported_lines(cycle, hr_user), figures(cycle), rates(cycle)
    assert any(row[-1] for row in rows.values()) and not all(row[-1] for row in rows.values())
    assert any(line[1] == "Department with sub-departments" for line in lines)
    reorganise(corp)
    save_result_settings(cycle, hr_user)
    assert exported_lines(cycle, hr_user) == lines
    assert figures(cycle) == rows
    assert rates(cycle) == rates_before
    compute_rollups(cycle)  # and once more, directly
    assert exported_lines(cycle, hr_user) == lines
    assert figures(cycle) == rows


def tree_copy(cycle) -> list[tuple]:
    return list(
        CycleDepartment.objects.filter(cycle=cycle)
        .order_by("department_id")
        .values_list("id", "department_id", "parent_id", "code", "name")
    )


def test_the_close_copies_the_tree_once_and_a_later_close_copies_the_tree_of_then(
    corp, cycles, hr_user
):
    live = sorted(Department.objects.values_list("id", "parent_id", "code", "name"))
    cycle = cycles.run(score, skip=few_about_ops_b)
    copy = tree_copy(cycle)
    assert [row[1:] for row in copy] == live
    reorganise(corp)
    save_result_settings(cycle, hr_user)
    compute_rollups(cycle)
    assert tree_copy(cycle) == copy  # the same rows, ids included: never written again
    assert snapshot.freeze_tree(cycle) == 0
    # The next cycle closes with the tree of its own close.
    later = cycles.run(score, skip=few_about_ops_b)
    assert [row[1:] for row in tree_copy(later)] == sorted(
        Department.objects.values_list("id", "parent_id", "code", "name")
    )
    fin, ops = corp["fin"].pk, corp["ops"].pk
    assert snapshot.tree_children(cycle)[fin] == []
    assert corp["ops_b"].pk in snapshot.tree_children(later)[fin]
    trees = Rollup.objects.filter(scope="tree", department_id=fin)
    assert not trees.filter(cycle=cycle).exists()  # FIN had no sub-departments then
    assert trees.filter(cycle=later).exists()
    # Each export names the departments as its cycle closed.
    assert {line[2] for line in exported_lines(cycle, hr_user)[1:]} >= {"OPS"}
    later_codes = {line[2] for line in exported_lines(later, hr_user)[1:]}
    assert "OPS_NEW" in later_codes and "OPS" not in later_codes
    assert Rollup.objects.filter(cycle=later, scope="tree", department_id=ops).exists()


def test_an_open_cycle_has_no_copy_of_the_tree_and_its_rates_follow_todays(corp, cycles):
    cycle = cycles.run(score, close=False)
    compute_rollups(cycle)
    assert not CycleDepartment.objects.filter(cycle=cycle).exists()
    graph.set_department_parent(corp["ops_b"], corp["fin"])
    compute_rollups(cycle)
    fin = ResponseRate.objects.get(cycle=cycle, scope="tree", department=corp["fin"])
    alone = ResponseRate.objects.get(cycle=cycle, scope="self", department=corp["fin"])
    assert fin.requests > alone.requests  # OPS_B's requests count under FIN now


# The figures of the departments with their subtrees (all criteria) and the response rates
# after the reorganisation and a recomputation: the tree of the close, on both databases.
FROZEN_SUBTREES = {
    ("HQ", ""): (63, 0, [36, 60, 68, 48, 40]),
    ("HQ", "function"): (25, 0, [12, 28, 28, 16, 16]),
    ("HQ", "rank_condition"): (19, 0, [12, 16, 20, 16, 12]),
    ("HQ", "rank_task"): (19, 0, [12, 16, 20, 16, 12]),
    ("OPS", ""): (31, 0, [20, 32, 24, 24, 24]),
    ("OPS", "function"): (14, 0, [12, 16, 12, 8, 8]),
    ("OPS", "rank_condition"): (8, 0, [4, 8, 4, 8, 8]),
    ("OPS", "rank_task"): (9, 0, [4, 8, 8, 8, 8]),
}
FROZEN_RATES = {
    ("FIN", "self"): (9, 9),
    ("FIN", "tree"): (9, 9),
    ("HQ", "self"): (3, 3),
    ("HQ", "tree"): (71, 63),
    ("OPS", "self"): (13, 13),
    ("OPS", "tree"): (39, 31),
    ("OPS_A", "self"): (13, 13),
    ("OPS_A", "tree"): (13, 13),
    ("OPS_B", "self"): (13, 5),
    ("OPS_B", "tree"): (13, 5),
    ("SALES", "self"): (20, 20),
    ("SALES", "tree"): (20, 20),
}


def test_both_databases_roll_up_and_suppress_with_the_tree_of_the_close(corp, cycles, hr_user):
    # PostgreSQL flags the rows in a work table before they become the cycle's partition,
    # SQLite in place: both with the copy of the tree, to the same rows.
    cycle = cycles.run(score, skip=few_about_ops_b)
    reorganise(corp)
    save_result_settings(cycle, hr_user)
    codes = {pk: code for _id, pk, _parent, code, _name in tree_copy(cycle)}
    subtrees = Rollup.objects.filter(cycle=cycle, scope="tree", criterion=None)
    assert {
        (codes[r.department_id], r.kind): (r.raters, r.not_received, r.distribution)
        for r in subtrees
    } == FROZEN_SUBTREES
    assert {
        (codes[d], scope): (requests, answered) for scope, d, requests, answered in rates(cycle)
    } == FROZEN_RATES
    # The flags are those of the suppression run on the tree of the close, which differ here
    # from those on today's tree.
    rows = suppression_rows(Rollup.objects.filter(cycle=cycle), "suppressed")
    stored = [row[-1] for row in rows]
    rows = [row[:-1] for row in rows]
    d = settings.ICR_MIN_DISTRIBUTION_RATERS  # what may print decides figures too
    assert sp.suppression_flags(rows, N, snapshot.tree_children(cycle), d)[0] == stored
    assert sp.suppression_flags(rows, N, snapshot.department_children(), d)[0] != stored


def test_the_migration_copies_todays_tree_for_cycles_closed_before_it(corp, cycles):
    cycle = cycles.run(score)
    CycleDepartment.objects.filter(cycle=cycle).delete()  # as if closed before migration 0013
    graph.set_department_parent(corp["ops_b"], corp["fin"])
    migration = importlib.import_module("reviews.migrations.0013_cycle_tree").Migration
    with connection.cursor() as cursor:
        cursor.execute(migration.operations[-1].sql)
    assert [row[1:] for row in tree_copy(cycle)] == sorted(
        Department.objects.values_list("id", "parent_id", "code", "name")
    )
