"""Writing a cycle's results: rollup rows, response rates and kept comments, set-based.

`compute_rollups(cycle)` runs when a cycle closes (receiver of `services.cycle_closed`, inside the
closing transaction) and can be run again at any time: under a lock on the cycle it deletes the
cycle's rows and writes them again with a fixed number of `INSERT … SELECT … GROUP BY`
statements, so a retried task doubles nothing and the query count does not grow with the
company. While a cycle is open only response rates are written: figures that changed between
two visits would tell who answered in between.

The statements (plain SQL for PostgreSQL and SQLite):
1. the finest department rows, from the scores: provider department × type × criterion ×
   customer department (one of the two passes over the scores);
2. the same without criterion ("all criteria") from the answers: raters and "did not receive"
   counts, with the distribution summed from step 1 (answers of a cycle have distinct keys,
   one per rater of a relationship, so counting answers counts distinct raters);
3. the "all types" and "all customers" levels, summed from those rows (an answer belongs to
   exactly one provider, type and customer department, so raters add up); a department
   serving a customer through one type has no all-types row for it: the type's row, flagged
   `only_type` (by steps 1 and 2; closing on PostgreSQL, by the suppression), stands for it;
4. each department that has sub-departments with its whole subtree (`scope=tree`), through a
   recursive closure of the department tree as the cycle closed (`reviews.snapshot`: copied
   the first time, read by every recomputation; a department without sub-departments: its
   department-alone rows of all customers are that figure, `reviews.models.with_subtree`);
5. people as providers, only those with at least ICR_MIN_RATERS raters, leaving the rank task
   rating out of their "all types" row (see `RankTaskVisibility`);
then the suppression flags (`reviews.results.Suppression`) and the comments. On PostgreSQL
the statements write to a temporary work table and the rows reach the rollup table once, with
their flags, as the cycle's own partition (`_partition_rows`): the passes over the scores use
parallel workers, and once the finest rows are in, a thread runs the other statements (the
other levels, the people's pass, then response rates, comments and the close's summary) while
Python flags the rows computed so far (`_beside`). On SQLite the rows are flagged in place
(`reviews.results.suppress`), in the same order.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import compress

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.dispatch import receiver

from relations.models import Department, EdgeType

from .models import (
    Answer,
    AnswerScore,
    Cycle,
    CycleResultSettings,
    CycleStatus,
    RankTaskVisibility,
    RequestStatus,
    ResponseRate,
    ResultComment,
    ReviewRequest,
    Rollup,
    RollupKind,
    RollupScope,
)
from .services import SideQueries, analyze_tables, cycle_closed
from .snapshot import TREE_TABLE, create_tree_table, freeze_tree, tree_children, tree_sql

ROLLUP_COLUMNS = (
    "cycle_id, scope, department_id, employee_id, kind, criterion_id, customer_department_id, "
    "raters, not_received, n1, n2, n3, n4, n5, score_sum, mean, favourable, only_type, "
    "suppressed"
)
# Summing rollup rows: the distribution, the sum and the figures derived from them.
SUMS = """
    SUM(r.raters), SUM(r.not_received), SUM(r.n1), SUM(r.n2), SUM(r.n3), SUM(r.n4), SUM(r.n5),
    SUM(r.score_sum),
    1.0 * SUM(r.score_sum) / NULLIF(SUM(r.n1 + r.n2 + r.n3 + r.n4 + r.n5), 0),
    1.0 * SUM(r.n4 + r.n5) / NULLIF(SUM(r.n1 + r.n2 + r.n3 + r.n4 + r.n5), 0),
    FALSE, %s
"""
# Counting scores: one row per (answer, criterion), so COUNT(*) within a criterion is the number
# of distinct answer keys (unique on answer + criterion). Grouped by the plain columns (the
# kind is derived outside, from the groups; the cycle, one value, not at all) so PostgreSQL can
# aggregate in parallel workers; counted with FILTER, which with that took 0.2 s off the
# first pass over five million scores (make bench).
SCORE_SUMS = """
    COUNT(*) AS n, COUNT(*) FILTER (WHERE s.score = 1) AS n1,
    COUNT(*) FILTER (WHERE s.score = 2) AS n2, COUNT(*) FILTER (WHERE s.score = 3) AS n3,
    COUNT(*) FILTER (WHERE s.score = 4) AS n4, COUNT(*) FILTER (WHERE s.score = 5) AS n5,
    SUM(s.score) AS score_sum
"""
SCORE_FIGURES = """
    g.n, 0, g.n1, g.n2, g.n3, g.n4, g.n5, g.score_sum, 1.0 * g.score_sum / g.n,
    1.0 * (g.n4 + g.n5) / g.n
"""


@dataclass
class RollupSummary:
    cycle_id: int
    figures: int
    suppressed: int
    comments: int
    response_rates: int


@dataclass
class _Insert:
    """`INSERT INTO <into> (<columns>) <select> [ORDER BY <order_by>]`, into the rollup (or work)
    table unless `into` names another; `parallel`: a pass over the answers (and their scores)
    that PostgreSQL may run in parallel workers (`_run`); `reads_new_rows`: it reads rows of
    the work table written since its statistics were last taken (`_run` takes them again)."""

    select: str
    params: list
    parallel: bool = False
    reads_new_rows: bool = False
    into: str = ""
    columns: str = ROLLUP_COLUMNS
    order_by: str = ""

    def sql(self, table: str) -> str:
        order = f" ORDER BY {self.order_by}" if self.order_by else ""
        return f"INSERT INTO {self.into or table} ({self.columns}) {self.select}{order}"


def _tables(rollup: str | None = None) -> dict[str, str]:
    q = connection.ops.quote_name
    return {
        "rollup": rollup or q(Rollup._meta.db_table),
        "answer": q(Answer._meta.db_table),
        "score": q(AnswerScore._meta.db_table),
        "dept": q(Department._meta.db_table),
        "request": q(ReviewRequest._meta.db_table),
        "rate": q(ResponseRate._meta.db_table),
    }


def _kind_sql(alias: str = "a") -> str:
    """The rollup kind of an answer: its type, with rank split into task and condition."""
    a = alias
    return f"(CASE WHEN {a}.edge_type = %s THEN %s || {a}.rank_kind ELSE {a}.edge_type END)"


KIND_PARAMS = [EdgeType.RANK.value, "rank_"]
RANK = EdgeType.RANK.value
# The rollup kinds of rank, as an SQL list (constants: no parameters to number).
RANK_KINDS = ", ".join(
    f"'{k}'" for k in (RollupKind.RANK_TASK.value, RollupKind.RANK_CONDITION.value)
)

CLOSURE_SQL = """
    WITH RECURSIVE closure(ancestor, descendant) AS (
        SELECT t.id, t.id FROM {dept} t
        UNION
        SELECT c.ancestor, d.id FROM closure c JOIN {dept} d ON d.parent_id = c.descendant
    )
"""  # UNION, not UNION ALL: a (forbidden but possible) loop in the tree still terminates.
# {dept}: the tree as (id, parent_id), a closed cycle's copy of it (`snapshot.tree_sql`).
# PostgreSQL, closing: the closure computed once into this table, with statistics. The planner
# guesses a million rows for the recursive query (ten thousand here) and sorts both sides of
# the join instead of hashing the closure (make bench).
CLOSURE_TABLE = "icr_rollup_closure"
# PostgreSQL, closing: the answers counted per provider once, for both the people with a figure
# of their own and the comments kept (`_counted_sql`): two passes over them were one each.
COUNTED_TABLE = "icr_rollup_counted"


def _closure_sql(dept: str, *, materialized: bool) -> str:
    if materialized:
        return f"WITH closure AS (SELECT ancestor, descendant FROM {CLOSURE_TABLE})"  # noqa: S608
    return CLOSURE_SQL.format(dept=dept)


def _create_closure_table(cursor, cycle: Cycle) -> None:
    # The tree the cycle closed with, as a table with statistics (`snapshot.TREE_TABLE`).
    closure = CLOSURE_SQL.format(dept=create_tree_table(cursor, cycle))
    cursor.execute(f"DROP TABLE IF EXISTS {CLOSURE_TABLE}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {CLOSURE_TABLE} ON COMMIT DROP AS "  # noqa: S608
        f"{closure} SELECT ancestor, descendant FROM closure"
    )
    cursor.execute(f"ANALYZE {CLOSURE_TABLE}")


def rank_task_named(cycle: Cycle) -> bool:
    setting = CycleResultSettings.objects.filter(cycle=cycle).first()
    return setting is not None and setting.rank_task_visibility == RankTaskVisibility.NAMED


_FINEST_SQL = (
    "scope = 'self' AND kind <> '' AND criterion_id IS NOT NULL "
    "AND customer_department_id IS NOT NULL"
)


def _department_statements(cycle: Cycle, *, table: str | None = None) -> list[_Insert]:
    t = _tables(table)
    # The tree the cycle closed with; closing on PostgreSQL, its table made with the closure.
    tree = TREE_TABLE if table == WORK_TABLE else tree_sql(cycle)
    kind = _kind_sql()
    base_filter = """
        a.cycle_id = %s AND a.submitted
        AND a.provider_department_id IS NOT NULL AND a.customer_department_id IS NOT NULL
    """
    self_ = RollupScope.SELF.value
    detail = "r.scope = %s AND r.kind <> '' AND r.customer_department_id IS NOT NULL"
    partitioned = table == WORK_TABLE

    def only_type(partition: str, not_rank: str) -> str:
        # The one type other than rank between two departments (rank stays out of their
        # figures per customer). Closing on PostgreSQL, Python finds these rows
        # (`Suppression.only_type`) and the partition gets the flag with the suppression's:
        # the window over the finest rows took 0.15 s of the first pass, which everything
        # waits for (make bench).
        if partitioned:
            return "FALSE"
        return (
            f"({not_rank} AND SUM(CASE WHEN {not_rank} THEN 1 ELSE 0 END) "
            f"OVER (PARTITION BY {partition}) = 1)"
        )

    statements: list[_Insert] = []
    # 1. Department × type × criterion × customer department, from the scores.
    statements.append(
        _Insert(
            f"""
            SELECT CAST(%s AS BIGINT), %s, g.pd, CAST(NULL AS BIGINT), {_kind_sql("g")},
                   g.criterion_id, g.cd, {SCORE_FIGURES},
                   {only_type("g.pd, g.criterion_id, g.cd", f"g.edge_type <> '{RANK}'")}, %s
            FROM (
                SELECT a.provider_department_id AS pd, a.edge_type, a.rank_kind,
                       s.criterion_id, a.customer_department_id AS cd, {SCORE_SUMS}
                FROM {t["answer"]} a JOIN {t["score"]} s ON s.answer_id = a.id
                WHERE {base_filter} AND NOT a.not_received
                GROUP BY a.provider_department_id, a.edge_type, a.rank_kind,
                         s.criterion_id, a.customer_department_id
            ) g
            """,  # noqa: S608
            [cycle.pk, self_, *KIND_PARAMS, True, cycle.pk],
            parallel=True,
        )
    )
    # 2. The same over all criteria: raters and "did not receive" from the answers.
    statements.append(
        _Insert(
            f"""
            SELECT %s, %s, g.pd, CAST(NULL AS BIGINT), g.kind, CAST(NULL AS BIGINT), g.cd,
                   g.raters, g.nr,
                   COALESCE(d.n1, 0), COALESCE(d.n2, 0), COALESCE(d.n3, 0), COALESCE(d.n4, 0),
                   COALESCE(d.n5, 0), COALESCE(d.score_sum, 0),
                   1.0 * d.score_sum / NULLIF(d.n1 + d.n2 + d.n3 + d.n4 + d.n5, 0),
                   1.0 * (d.n4 + d.n5) / NULLIF(d.n1 + d.n2 + d.n3 + d.n4 + d.n5, 0),
                   {only_type("g.pd, g.cd", f"g.kind NOT IN ({RANK_KINDS})")}, %s
            FROM (
                SELECT a.provider_department_id AS pd, {kind} AS kind,
                       a.customer_department_id AS cd,
                       SUM(CASE WHEN a.not_received THEN 0 ELSE 1 END) AS raters,
                       SUM(CASE WHEN a.not_received THEN 1 ELSE 0 END) AS nr
                FROM {t["answer"]} a
                WHERE {base_filter}
                GROUP BY a.provider_department_id, {kind}, a.customer_department_id
            ) g
            LEFT JOIN (
                SELECT r.department_id, r.kind, r.customer_department_id,
                       SUM(r.n1) AS n1, SUM(r.n2) AS n2, SUM(r.n3) AS n3, SUM(r.n4) AS n4,
                       SUM(r.n5) AS n5, SUM(r.score_sum) AS score_sum
                FROM {t["rollup"]} r
                WHERE r.cycle_id = %s AND {detail} AND r.criterion_id IS NOT NULL
                GROUP BY r.department_id, r.kind, r.customer_department_id
            ) d ON d.department_id = g.pd AND d.kind = g.kind AND d.customer_department_id = g.cd
            """,  # noqa: S608
            [
                cycle.pk,
                self_,
                True,
                *KIND_PARAMS,
                cycle.pk,
                *KIND_PARAMS,
                cycle.pk,
                self_,
            ],
            parallel=True,
        )
    )
    # 3. All customers per type and all of both (criterion kept): on PostgreSQL in one pass
    # (GROUPING SETS; NULL kind means all types), on SQLite one statement each. Then all
    # types per customer, rank left out (a person and their superior, whose groups are the
    # smallest, are not department serving department), only where there are several: one
    # type's row is that figure too (`only_type`, steps 1-2).
    kept = [("r.kind",), ()]  # besides department and criterion

    def grouping(keep: tuple[str, ...]) -> str:
        return ", ".join(["r.department_id", "r.criterion_id", *keep])

    if connection.vendor == "postgresql":
        sets = ", ".join(f"({grouping(keep)})" for keep in kept)
        levels = [("COALESCE(r.kind, '')", "NULL", "", f"GROUPING SETS ({sets})", "")]
    else:
        levels = [
            ("r.kind" if "r.kind" in keep else "''", "NULL", "", grouping(keep), "")
            for keep in kept
        ]
    levels.append(
        (
            "''",
            "r.customer_department_id",
            f"AND r.kind NOT IN ({RANK_KINDS})",
            grouping(("r.customer_department_id",)),
            "HAVING COUNT(*) > 1",
        )
    )
    for kind_col, customer_col, only, group_by, having in levels:
        statements.append(
            _Insert(
                f"""
                SELECT %s, %s, r.department_id, NULL, {kind_col}, r.criterion_id,
                       {customer_col}, {SUMS}
                FROM {t["rollup"]} r
                WHERE r.cycle_id = %s AND {detail} {only}
                GROUP BY {group_by} {having}
                """,  # noqa: S608
                [cycle.pk, self_, True, cycle.pk, self_],
            )
        )
    # 4. Each department that has sub-departments with its subtree, from the department-alone
    # rows of all customers. Without sub-departments those rows are the figures (`with_subtree`):
    # most departments are leaves, and copies of their rows were a sixth of a large cycle's.
    statements.append(
        _Insert(
            f"""
            {_closure_sql(tree, materialized=partitioned)}
            SELECT %s, %s, c.ancestor, NULL, r.kind, r.criterion_id, NULL, {SUMS}
            FROM {t["rollup"]} r JOIN closure c ON c.descendant = r.department_id
            WHERE r.cycle_id = %s AND r.scope = %s AND r.customer_department_id IS NULL
              AND c.ancestor IN (SELECT p.parent_id FROM {tree} p)
            GROUP BY c.ancestor, r.kind, r.criterion_id
            """,  # noqa: S608
            [cycle.pk, RollupScope.TREE.value, True, cycle.pk, self_],
            reads_new_rows=True,  # the rows of all customers, from step 3
        )
    )
    return statements


def _eligible_people_sql(
    cycle: Cycle, *, min_raters: int, counted_table: str = ""
) -> tuple[str, list]:
    """The people with a figure of their own: rated by at least `min_raters` answers outside
    the rank task rating (a column `pe`). `counted_table`: the answers counted already
    (`_create_counted_table`)."""
    counted, params = _counted_source(cycle, counted_table)
    sql = f"""
        SELECT c.employee_id AS pe FROM ({counted}) c WHERE c.employee_id IS NOT NULL
        GROUP BY c.employee_id HAVING SUM(c.n) >= %s
    """  # noqa: S608
    return sql, [*params, min_raters]


def _person_statements(
    cycle: Cycle,
    *,
    min_raters: int,
    named: bool,
    table: str | None = None,
    eligible: list[int] | None = None,
) -> list[_Insert]:
    """People as providers: only those rated by enough people outside the rank task rating.

    The rank task rating (a superior about a direct report) gets rows of its own only when HR
    chose to show it to the report, named; it never enters a person's "all types" row, so that
    row minus the per-type rows cannot reveal it. `eligible`: those people's ids, when the
    caller has read them.
    """
    t = _tables(table)
    kind = _kind_sql()
    person = RollupScope.PERSON.value
    task = RollupKind.RANK_TASK.value
    if eligible is None:
        # The eligible people joined, not tested with IN (subquery): a join lets PostgreSQL
        # fetch just their scores through the index.
        eligible_sql, answers_params = _eligible_people_sql(cycle, min_raters=min_raters)
        answers = f"{t['answer']} a LEFT JOIN ({eligible_sql}) e ON e.pe = a.provider_employee_id"
        is_eligible, is_eligible_params = "e.pe IS NOT NULL", []
    else:
        # A constant array: the whole pass, index lookups included, runs in parallel
        # workers. Joined to the subquery, the lookups ran in the leader alone (bench cycle:
        # 0.6-0.7 s instead of 0.9-1.2 s).
        answers, answers_params = f"{t['answer']} a", []
        is_eligible = "a.provider_employee_id = ANY(%s::bigint[])"
        is_eligible_params = [_bigint_array(eligible)]
    chosen = f"""
        a.cycle_id = %s AND a.submitted AND a.provider_employee_id IS NOT NULL
        AND a.provider_department_id IS NOT NULL
        AND (({kind} <> %s AND {is_eligible}) OR ({kind} = %s AND %s))
    """
    chosen_params = [
        cycle.pk,
        *KIND_PARAMS,
        task,
        *is_eligible_params,
        *KIND_PARAMS,
        task,
        named,
    ]
    return [
        _Insert(
            f"""
            SELECT CAST(%s AS BIGINT), %s, g.pd, g.pe, {_kind_sql("g")}, g.criterion_id,
                   CAST(NULL AS BIGINT), {SCORE_FIGURES}, FALSE, %s
            FROM (
                SELECT a.provider_department_id AS pd, a.provider_employee_id AS pe,
                       a.edge_type, a.rank_kind, s.criterion_id, {SCORE_SUMS}
                FROM {answers} JOIN {t["score"]} s ON s.answer_id = a.id
                WHERE {chosen} AND NOT a.not_received
                GROUP BY a.provider_department_id, a.provider_employee_id,
                         a.edge_type, a.rank_kind, s.criterion_id
            ) g
            """,  # noqa: S608
            [cycle.pk, person, *KIND_PARAMS, True, *answers_params, *chosen_params],
            parallel=True,
        ),
        _Insert(
            f"""
            SELECT %s, %s, g.pd, g.pe, g.kind, CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
                   g.raters, g.nr,
                   COALESCE(d.n1, 0), COALESCE(d.n2, 0), COALESCE(d.n3, 0), COALESCE(d.n4, 0),
                   COALESCE(d.n5, 0), COALESCE(d.score_sum, 0),
                   1.0 * d.score_sum / NULLIF(d.n1 + d.n2 + d.n3 + d.n4 + d.n5, 0),
                   1.0 * (d.n4 + d.n5) / NULLIF(d.n1 + d.n2 + d.n3 + d.n4 + d.n5, 0),
                   FALSE, %s
            FROM (
                SELECT a.provider_department_id AS pd, a.provider_employee_id AS pe,
                       {kind} AS kind,
                       SUM(CASE WHEN a.not_received THEN 0 ELSE 1 END) AS raters,
                       SUM(CASE WHEN a.not_received THEN 1 ELSE 0 END) AS nr
                FROM {answers}
                WHERE {chosen}
                GROUP BY a.provider_department_id, a.provider_employee_id, {kind}
            ) g
            LEFT JOIN (
                SELECT r.employee_id, r.kind, SUM(r.n1) AS n1, SUM(r.n2) AS n2,
                       SUM(r.n3) AS n3, SUM(r.n4) AS n4, SUM(r.n5) AS n5,
                       SUM(r.score_sum) AS score_sum
                FROM {t["rollup"]} r
                WHERE r.cycle_id = %s AND r.scope = %s AND r.criterion_id IS NOT NULL
                GROUP BY r.employee_id, r.kind
            ) d ON d.employee_id = g.pe AND d.kind = g.kind
            """,  # noqa: S608
            [
                cycle.pk,
                person,
                True,
                *KIND_PARAMS,
                *answers_params,
                *chosen_params,
                *KIND_PARAMS,
                cycle.pk,
                person,
            ],
            parallel=True,
            reads_new_rows=True,  # the people's rows per criterion
        ),
        _Insert(
            f"""
            SELECT %s, %s, r.department_id, r.employee_id, '', r.criterion_id, NULL, {SUMS}
            FROM {t["rollup"]} r
            WHERE r.cycle_id = %s AND r.scope = %s AND r.kind <> '' AND r.kind <> %s
            GROUP BY r.department_id, r.employee_id, r.criterion_id
            """,  # noqa: S608
            [cycle.pk, person, True, cycle.pk, person, task],
        ),
    ]


def _response_rate_statements(cycle: Cycle, *, closing: bool = False) -> list[_Insert]:
    """`closing`: on PostgreSQL, in a close, which makes CLOSURE_TABLE."""
    t = _tables()
    columns = "cycle_id, scope, department_id, requests, answered"
    return [
        _Insert(
            f"""
            SELECT r.cycle_id, %s, r.provider_department_id, COUNT(*),
                   SUM(CASE WHEN r.status <> %s THEN 1 ELSE 0 END)
            FROM {t["request"]} r
            WHERE r.cycle_id = %s AND r.provider_department_id IS NOT NULL
            GROUP BY r.cycle_id, r.provider_department_id
            """,  # noqa: S608
            [RollupScope.SELF.value, RequestStatus.PENDING.value, cycle.pk],
            parallel=True,  # a pass over the cycle's requests
            into=t["rate"],
            columns=columns,
        ),
        _Insert(
            f"""
            {_closure_sql(tree_sql(cycle), materialized=closing)}
            SELECT %s, %s, c.ancestor, SUM(r.requests), SUM(r.answered)
            FROM {t["rate"]} r JOIN closure c ON c.descendant = r.department_id
            WHERE r.cycle_id = %s AND r.scope = %s
            GROUP BY c.ancestor
            """,  # noqa: S608
            [cycle.pk, RollupScope.TREE.value, cycle.pk, RollupScope.SELF.value],
            into=t["rate"],
            columns=columns,
        ),
    ]


def _counted_sql(cycle: Cycle) -> tuple[str, list]:
    """Submitted answers per provider (department_id, employee_id, n), the rank task rating
    left out: who has enough raters for a figure or for comments of their own."""
    t = _tables()
    sql = f"""
        SELECT a.provider_department_id AS department_id,
               a.provider_employee_id AS employee_id, COUNT(*) AS n
        FROM {t["answer"]} a WHERE a.cycle_id = %s AND a.submitted AND {_kind_sql()} <> %s
        GROUP BY a.provider_department_id, a.provider_employee_id
    """  # noqa: S608
    return sql, [cycle.pk, *KIND_PARAMS, RollupKind.RANK_TASK.value]


def _counted_source(cycle: Cycle, counted_table: str) -> tuple[str, list]:
    """`_counted_sql`, or a read of the table it was written to."""
    if counted_table:
        return f"SELECT * FROM {counted_table}", []  # noqa: S608
    return _counted_sql(cycle)


def _create_counted_table(cursor, cycle: Cycle) -> None:
    _create_table_in_parallel(
        cursor, COUNTED_TABLE, "department_id, employee_id, n", *_counted_sql(cycle)
    )


def _comment_rows_sql(
    cycle: Cycle, *, min_comment_raters: int, counted_table: str = ""
) -> tuple[str, list]:
    """(department, employee, text) of the comments to keep, one row per comment.

    A department's comments show when at least M raters answered about the department alone; a
    person's when at least M answered about them. Rank task comments (a superior about a direct
    report) stay out: their author is known by nature. `counted_table`: the answers counted
    already (`_create_counted_table`).
    """
    t = _tables()
    kind = _kind_sql()
    task = RollupKind.RANK_TASK.value
    where = f"a.cycle_id = %s AND a.submitted AND {kind} <> %s"
    params = [cycle.pk, *KIND_PARAMS, task]
    counted, counted_params = _counted_source(cycle, counted_table)
    # Two passes over the answers (or one, counted already): one counts them per provider,
    # one reads the comments.
    sql = f"""
        WITH counted AS ({counted}),
        departments AS (
            SELECT department_id FROM counted GROUP BY department_id HAVING SUM(n) >= %s
        ),
        people AS (
            SELECT employee_id FROM counted WHERE employee_id IS NOT NULL
            GROUP BY employee_id HAVING SUM(n) >= %s
        ),
        commented AS (
            SELECT a.provider_department_id AS department_id,
                   a.provider_employee_id AS employee_id, a.comment AS text
            FROM {t["answer"]} a WHERE {where} AND a.comment <> ''
        )
        SELECT c.department_id, CAST(NULL AS BIGINT) AS employee_id, c.text FROM commented c
        WHERE c.department_id IN (SELECT department_id FROM departments)
        UNION ALL
        SELECT c.department_id, c.employee_id, c.text FROM commented c
        WHERE c.department_id IS NOT NULL
          AND c.employee_id IN (SELECT employee_id FROM people)
    """  # noqa: S608
    return sql, [*counted_params, min_comment_raters, min_comment_raters, *params]


def _first_comments(cycle: Cycle, *, min_comment_raters: int, counted_table: str = "") -> _Insert:
    """The comments of a cycle that has none kept yet, in one INSERT … SELECT."""
    sql, params = _comment_rows_sql(
        cycle, min_comment_raters=min_comment_raters, counted_table=counted_table
    )
    return _Insert(
        f"SELECT %s, c.department_id, c.employee_id, c.text FROM ({sql}) c",  # noqa: S608
        [cycle.pk, *params],
        parallel=True,  # two passes over the answers
        into=connection.ops.quote_name(ResultComment._meta.db_table),
        columns="cycle_id, department_id, employee_id, text",
        order_by="department_id, COALESCE(employee_id, 0), text",
    )


def _sync_comments(cycle: Cycle, *, min_comment_raters: int) -> int:
    """Make the kept comments match the answers without touching those that stay.

    Departments' replies hang on comment rows, so a recomputation keeps every row it would
    write again and only adds or removes the difference (a first computation writes them with
    `_first_comments`). Either way rows go in text order: neither id nor order tells which
    answer a comment came from.
    """
    sql, params = _comment_rows_sql(cycle, min_comment_raters=min_comment_raters)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        wanted = Counter(map(tuple, cursor.fetchall()))
    existing: dict[tuple, list[int]] = {}
    for pk, d, e, text in ResultComment.objects.filter(cycle=cycle).values_list(
        "id", "department_id", "employee_id", "text"
    ):
        existing.setdefault((d, e, text), []).append(pk)
    stale: list[int] = []
    new: list[ResultComment] = []
    for key, ids in existing.items():
        keep = wanted.get(key, 0)
        stale.extend(ids[keep:])
    for key, count in sorted(
        wanted.items(), key=lambda item: (item[0][0], item[0][1] or 0, item[0][2])
    ):
        missing = count - len(existing.get(key, []))
        department, employee, text = key
        new.extend(
            ResultComment(cycle=cycle, department_id=department, employee_id=employee, text=text)
            for _i in range(max(missing, 0))
        )
    if stale:
        ResultComment.objects.filter(pk__in=stale).delete()
    ResultComment.objects.bulk_create(new, batch_size=1000)
    return sum(wanted.values())


# PostgreSQL: the figures are first written to this temporary table (no indexes, no WAL) and
# flagged there; they reach the rollup table once, with their final flags, as a new partition
# (PARTITION_PREFIX<cycle>_<token>) whose indexes are built in one go when it is attached
# (migration 0008). Inserting half a million rows into the large indexed table took twice as
# long, and updating them afterwards more than computing them (make bench, section results).
WORK_TABLE = "icr_rollup_work"
STEP_TABLE = "icr_rollup_step"  # one parallel step at a time, then copied (`_run`)
PARTITION_PREFIX = "reviews_rollup_c"


def _analyze_work_table(cursor) -> None:
    # A sample of 3,000 rows instead of 30,000: a tenth of the time, and enough for the
    # planner to see how many rows a step reads. Without fresh statistics it expected one
    # row of all customers and sorted them instead of hashing (make bench: 0.6 s, not 0.2).
    cursor.execute(
        f"SET LOCAL default_statistics_target = 10; ANALYZE {WORK_TABLE}; "
        "SET LOCAL default_statistics_target TO DEFAULT"
    )


def _run(cursor, insert: _Insert) -> None:
    """Run `insert` into its table, by default WORK_TABLE."""
    if insert.reads_new_rows:
        _analyze_work_table(cursor)
    if not insert.parallel:
        cursor.execute(insert.sql(WORK_TABLE), insert.params)
        return
    _create_table_in_parallel(cursor, STEP_TABLE, insert.columns, insert.select, insert.params)
    copy = replace(insert, select=f"SELECT * FROM {STEP_TABLE}", params=[])  # noqa: S608
    cursor.execute(copy.sql(WORK_TABLE))
    cursor.execute(f"DROP TABLE {STEP_TABLE}")


def _create_table_in_parallel(cursor, table: str, columns: str, select: str, params) -> int:
    """A temporary table of `select`'s rows; returns how many.

    A pass over a million answers or millions of scores: CREATE TABLE AS may use parallel
    workers (an INSERT may not), and worker startup is nothing next to the pass."""
    cursor.execute("SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0")
    cursor.execute(f"CREATE TEMPORARY TABLE {table} ({columns}) ON COMMIT DROP AS {select}", params)
    rows = cursor.rowcount
    cursor.execute(
        "SET LOCAL parallel_setup_cost TO DEFAULT; SET LOCAL parallel_tuple_cost TO DEFAULT"
    )
    return rows


def _create_work_table(cursor, first: _Insert) -> None:
    """WORK_TABLE made by the first pass itself, numbered as the rollup table's ids would be:
    copying the rows into a table made beforehand took 0.2 s more (make bench).

    Its columns are cast to the rollup table's types: summed as bigints and numerics, which
    the aggregates would otherwise leave, the next steps took twice as long."""
    cursor.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        [Rollup._meta.db_table],
    )
    types = dict(cursor.fetchall())
    columns = [c.strip() for c in first.columns.split(",")]
    # One left by an earlier computation in the same (outer) transaction, as in tests.
    cursor.execute(f"DROP TABLE IF EXISTS {WORK_TABLE}")
    cast = ", ".join(f"CAST(f.{c} AS {types[c]})" for c in columns)
    rows = _create_table_in_parallel(
        cursor,
        WORK_TABLE,
        f"id, {first.columns}",
        f"SELECT CAST(row_number() OVER () AS {types['id']}), {cast} "  # noqa: S608
        f"FROM ({first.select}) f({', '.join(columns)})",
        first.params,
    )
    cursor.execute(f"ALTER TABLE {WORK_TABLE} ALTER COLUMN id SET NOT NULL")
    cursor.execute(
        f"ALTER TABLE {WORK_TABLE} ALTER COLUMN id "
        f"ADD GENERATED BY DEFAULT AS IDENTITY (START WITH {rows + 1})"
    )


@contextmanager
def _beside(work: Callable[[object], None]):
    """Run `work(cursor)` in this transaction while the block computes in Python.

    Suppression is seconds of pure Python on one core while PostgreSQL waits; the database
    connection (psycopg2's, thread-safe, used by nobody else meanwhile) can work on the
    other. A failure in the work is raised here after the block.
    """
    raw = connection.connection
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with raw.cursor() as cursor:
                work(cursor)
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    worker = threading.Thread(target=run, name="icr-rollups-beside", daemon=True)
    worker.start()
    try:
        yield
    finally:
        worker.join()
    if errors:
        with connection.wrap_database_errors:  # as Django's own cursors raise them
            raise errors[0]


def _bigint_array(ids: list[int]) -> str:
    """A bigint[] parameter as one text literal: a list would be sent as ARRAY[…] of as
    many constants, which PostgreSQL parses one by one (seconds for 300,000 ids)."""
    return "{" + ",".join(map(str, ids)) + "}"


def new_partition(cursor, cycle_id: int) -> tuple[str, str]:
    """A new, empty table shaped like the rollup table, to fill and then `attach_partition`.

    Returns its name and the rollup id sequence (the table has no id default of its own).
    """
    rollup = _tables()["rollup"]
    partition = f"{PARTITION_PREFIX}{int(cycle_id)}_{secrets.token_hex(3)}"
    cursor.execute(
        f"CREATE TABLE {partition} (LIKE {rollup} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Rollup._meta.db_table])
    return partition, cursor.fetchone()[0]


# Any constant, the same in every close: only closes take blocks of rollup ids.
ROLLUP_IDS_LOCK = 0x1C2_0001


def reserve_ids(cursor, sequence: str, count: int) -> int:
    """Take `count` consecutive ids from the rollup sequence at once; returns the first.

    Half a million `nextval` calls cost half a second of a close (make bench, section
    results). The lock keeps two closes from reserving overlapping ranges; it is held to the
    end of the transaction, which the partition's attachment serialises anyway.
    """
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLLUP_IDS_LOCK])
    cursor.execute("SELECT nextval(%s::regclass)", [sequence])
    first = cursor.fetchone()[0]
    if count > 1:
        cursor.execute("SELECT setval(%s::regclass, %s)", [sequence, first + count - 1])
    return first


def attach_partition(cursor, cycle_id: int, partition: str) -> None:
    """Make this filled table the cycle's partition, in place of any earlier one.

    Last in the transaction: dropping an earlier partition (a recomputation) locks the whole
    rollup table until commit; attaching, which builds the indexes, blocks only other
    attachments (and scans the DEFAULT partition, which ICR leaves empty).
    """
    rollup = _tables()["rollup"]
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass AND pg_get_expr(c.relpartbound, c.oid) = %s",
        [Rollup._meta.db_table, f"FOR VALUES IN ('{int(cycle_id)}')"],
    )
    for (earlier,) in cursor.fetchall():
        cursor.execute(f"DROP TABLE {connection.ops.quote_name(earlier)}")
    cursor.execute(f"DELETE FROM {rollup} WHERE cycle_id = %s", [cycle_id])  # noqa: S608
    cursor.execute(
        f"ALTER TABLE {rollup} ATTACH PARTITION {partition} FOR VALUES IN ({int(cycle_id)})"
    )


class _ReadBeside:
    """A read into a cursor of its own (made by the thread beside, or before it starts),
    fetched by the calling thread.

    Executing the query needs no GIL; turning its rows into Python rows does, so the
    calling thread does that once the read is there (`rows`).
    """

    def __init__(self, sql: str, params: list):
        self.sql, self.params = sql, params
        self.cursor = connection.connection.cursor()
        self.done = threading.Event()
        self.ok = False

    def run(self) -> None:
        try:
            self.cursor.execute(self.sql, self.params)
            self.ok = True
        finally:
            self.done.set()

    def rows(self) -> list[tuple] | None:
        """The rows, or None if the thread failed (`_beside` raises why after the block)."""
        self.done.wait()
        try:
            return self.cursor.fetchall() if self.ok else None
        finally:
            self.cursor.close()


def _partition_rows(
    cycle: Cycle,
    department_inserts: list[_Insert],
    person_inserts: Callable[[object], list[_Insert]],
    min_raters: int,
    beside: list[_Insert],
    side: SideQueries | None = None,
) -> tuple[int, int]:
    """Figures computed in WORK_TABLE, flagged, swapped in as the cycle's partition.

    Once the finest rows are in, a thread runs every other statement on the connection
    while this one computes the flags, each part of the rows as soon as it is read: the
    finest rows while the other department-alone rows are computed, those while the subtree
    rows are, all of them while the people's are, the people's while the statements that do
    not need the flags (`beside`, then `side`) run. `person_inserts(cursor)` gives the
    people's statements. Returns (rows, suppressed rows)."""
    from .close.suppression import ROW_FIELDS, Suppression, order_key

    def read(where: str) -> str:
        # Sorted by department only (integers: cheap on the connection, which is the busier
        # side); Python sorts the rest, which takes a third of the time it takes on rows in
        # the order the aggregates left them (make bench).
        return (
            f"SELECT {', '.join(ROW_FIELDS)} FROM {WORK_TABLE} "  # noqa: S608
            f"WHERE {where} ORDER BY department_id"
        )

    self_, tree, person = (
        s.value for s in (RollupScope.SELF, RollupScope.TREE, RollupScope.PERSON)
    )
    with connection.cursor() as cursor:
        # Grouping millions of scores: hash tables in memory rather than spilled to disk, and
        # no JIT compilation, which costs more than it saves on statements that run once (this
        # transaction only).
        cursor.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
        finest_insert, *alone_inserts, subtree_insert = department_inserts
        _create_work_table(cursor, finest_insert)
        children = tree_children(cycle)  # the tree the cycle closed with
        finest = _ReadBeside(read(_FINEST_SQL), [])
        finest.run()
        alone = _ReadBeside(read(f"scope = %s AND NOT ({_FINEST_SQL})"), [self_])
        subtrees = _ReadBeside(read("scope = %s"), [tree])
        people = _ReadBeside(read("scope = %s"), [person])

        def work(raw_cursor) -> None:
            try:
                # Statistics for the statements that read the work table, and the closure
                # for those that roll up the tree: here, not before the finest rows are
                # read, which everything else waits for.
                _analyze_work_table(raw_cursor)
                for insert in alone_inserts:
                    _run(raw_cursor, insert)
                alone.run()
                _create_closure_table(raw_cursor, cycle)
                _run(raw_cursor, subtree_insert)
                subtrees.run()
                for insert in person_inserts(raw_cursor):
                    _run(raw_cursor, insert)
                people.run()
                # Last, while Python flags the people's rows: before the people's pass, these
                # left Python's last step alone at the end (make bench: half a second).
                for insert in beside:
                    _run(raw_cursor, insert)
                if side is not None:
                    side.run(raw_cursor)
            finally:
                for reading in (alone, subtrees, people):
                    reading.done.set()  # also on failure, which _beside raises

        suppression = Suppression(min_raters, children)
        ids: list[int] = []
        with _beside(work):
            for reading in (finest, alone, subtrees, people):
                rows = reading.rows()
                if rows is None:
                    break  # the thread failed: _beside raises why
                suppression.add(rows)
            del rows
        # The same order on both databases (`suppression_flags` sorts the same way).
        suppression.rows.sort(key=order_key)
        hidden = suppression.settle()
        ids = [row[0] for row in suppression.rows]
        last_work_id = max(ids, default=0)
        # One character per work id, "1" where the row is suppressed (and, apart, where it
        # is its type's only row): PostgreSQL reads a row's flag by position, where a list
        # of ids had to be parsed and hashed first.
        flags = bytearray(b"0") * last_work_id
        for work_id in compress(ids, hidden):
            flags[work_id - 1] = ord("1")
        only_type = bytearray(b"0") * last_work_id
        for position in suppression.only_type:
            only_type[ids[position] - 1] = ord("1")
        suppressed = hidden.count(True)
        leftovers = [ids, hidden, suppression]
        del ids, hidden, suppression
        partition, sequence = new_partition(cursor, cycle.pk)
        first_id = reserve_ids(cursor, sequence, last_work_id)
        # A department's rows written together: its page reads them from a few heap pages
        # instead of one page each (the department page's reads took half the time; the
        # sort adds about 0.3 s to a close of half a million rows, make bench).
        columns = ROLLUP_COLUMNS.replace(", only_type, suppressed", "")
        selected = ", ".join(f"w.{c.strip()}" for c in columns.split(","))
        # The sort of every column of half a million rows takes about 110 MB: in memory it
        # is a quarter of the INSERT faster than spilled to disk (make bench).
        cursor.execute("SET LOCAL work_mem = '256MB'")
        freeing = threading.Thread(target=leftovers.clear, name="icr-rollups-free", daemon=True)
        freeing.start()
        cursor.execute(
            f"""
            INSERT INTO {partition} (id, {ROLLUP_COLUMNS})
            SELECT %s + w.id, {selected}, get_bit(%s::varbit, w.position) = 1,
                   get_bit(%s::varbit, w.position) = 1
            FROM (SELECT *, CAST(id AS INTEGER) - 1 AS position FROM {WORK_TABLE}) w
            ORDER BY w.department_id
            """,  # noqa: S608
            [first_id - 1, only_type.decode(), flags.decode()],
        )
        figures = cursor.rowcount
        freeing.join()
        cursor.execute(f"DROP TABLE {WORK_TABLE}, {CLOSURE_TABLE}, {COUNTED_TABLE}, {TREE_TABLE}")
        attach_partition(cursor, cycle.pk, partition)
    return figures, suppressed


def compute_rollups(cycle: Cycle, *, side: SideQueries | None = None) -> RollupSummary:
    """Write the cycle's results again from its answers (figures only once it is closed).

    `side`: queries of the caller's to run while suppression is computed, if it is.
    """
    from .results import suppress

    min_raters = settings.ICR_MIN_RATERS
    min_comment_raters = settings.ICR_MIN_COMMENT_RATERS
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update().get(pk=cycle.pk)
        closed = cycle.status == CycleStatus.CLOSED
        if closed:  # the tree it closed with, copied the first time (`reviews.snapshot`)
            freeze_tree(cycle)
        partitioned = closed and connection.vendor == "postgresql"
        if not partitioned:  # a partition is swapped whole (_partition_rows)
            Rollup.objects.filter(cycle=cycle).delete()
        ResponseRate.objects.filter(cycle=cycle).delete()
        # Statements that do not read the figures: on PostgreSQL they run beside suppression.
        independent = _response_rate_statements(cycle, closing=partitioned)
        table = WORK_TABLE if partitioned else None
        department_inserts = _department_statements(cycle, table=table) if closed else []
        named = closed and rank_task_named(cycle)
        figures = suppressed = comments = 0
        # A first computation (the close) writes the comments in one INSERT … SELECT.
        first_comments = closed and not ResultComment.objects.filter(cycle=cycle).exists()
        if first_comments:
            # Closing on PostgreSQL, from the answers counted for the people's statements,
            # which run before (`_partition_rows`).
            independent.append(
                _first_comments(
                    cycle,
                    min_comment_raters=min_comment_raters,
                    counted_table=COUNTED_TABLE if partitioned else "",
                )
            )
        if partitioned:

            def person_inserts(cursor) -> list[_Insert]:
                _create_counted_table(cursor, cycle)
                cursor.execute(
                    *_eligible_people_sql(cycle, min_raters=min_raters, counted_table=COUNTED_TABLE)
                )
                return _person_statements(
                    cycle,
                    min_raters=min_raters,
                    named=named,
                    table=table,
                    eligible=[pe for (pe,) in cursor.fetchall()],
                )

            figures, suppressed = _partition_rows(
                cycle,
                department_inserts,
                person_inserts,
                min_raters,
                beside=independent,
                side=side,
            )
        else:
            rollup = _tables()["rollup"]
            person_inserts = (
                _person_statements(cycle, min_raters=min_raters, named=named) if closed else []
            )
            with connection.cursor() as cursor:
                for insert in independent + department_inserts + person_inserts:
                    cursor.execute(insert.sql(rollup), insert.params)
            if closed:
                figures, suppressed = suppress(cycle, min_raters=min_raters)
        if first_comments:
            comments = ResultComment.objects.filter(cycle=cycle).count()
        elif closed:
            comments = _sync_comments(cycle, min_comment_raters=min_comment_raters)
        rates = ResponseRate.objects.filter(cycle=cycle).count()
    return RollupSummary(cycle.pk, figures, suppressed, comments, rates)


def refresh_planner_statistics() -> None:
    """ANALYZE the result tables (PostgreSQL) once a cycle's rows are in.

    A closing cycle adds under a tenth of the rows of a table holding a few cycles, too few
    for autovacuum to analyze it again; until then the planner takes the new cycle for empty
    and reads its department pages through the wrong index (make bench, section results).
    """
    analyze_tables(Rollup, ResponseRate, ResultComment)


@receiver(cycle_closed, dispatch_uid="reviews.rollups.on_cycle_closed")
def on_cycle_closed(sender, cycle: Cycle, side: SideQueries | None = None, **kwargs) -> None:
    """Closing writes the results in the same transaction: closed means results are there."""
    compute_rollups(cycle, side=side)


def refresh_open_cycles() -> int:
    """Response rates of every open cycle (run by the periodic refresh)."""
    count = 0
    for cycle in Cycle.objects.filter(status=CycleStatus.OPEN):
        compute_rollups(cycle)
        count += 1
    return count


@shared_task
def refresh_response_rates() -> int:
    """Periodic (settings.CELERY_BEAT_SCHEDULE): open cycles' response rates, idempotent."""
    return refresh_open_cycles()
