"""The close's SQL: the statements that compute a cycle's result rows, response rates and
kept comments from its answers, plain SQL for PostgreSQL and SQLite, set-based (a fixed number
of `INSERT … SELECT … GROUP BY`, so the query count does not grow with the company).

1. the finest department rows, from the scores: provider department × type × criterion ×
   customer department (one of the two passes over the scores);
2. the same without criterion ("all criteria") from the answers: raters and "did not receive"
   counts, with the distribution summed from step 1 (answers of a cycle have distinct keys,
   one per rater of a relationship, so counting answers counts distinct raters);
3. the "all types" and "all customers" levels, summed from those rows (an answer belongs to
   exactly one provider, type and customer department, so raters add up); per customer, rank
   is left out, and a department serving a customer through one other type has no all-types
   row for it: the type's row, flagged `only_type` (by steps 1 and 2; closing on PostgreSQL,
   by the suppression), stands for it;
4. each department that has sub-departments with its whole subtree (`scope=tree`), through a
   recursive closure of the department tree as the cycle closed (`reviews.snapshot`: copied
   the first time, read by every recomputation; a department without sub-departments: its
   department-alone rows of all customers are that figure, `reviews.models.with_subtree`);
5. people as providers, only those with at least ICR_MIN_RATERS raters, leaving the rank task
   rating out of their "all types" row (see `RankTaskVisibility`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db import connection

from relations.models import Department, EdgeType

from ..models import (
    Answer,
    AnswerScore,
    Cycle,
    CycleResultSettings,
    RankTaskVisibility,
    RequestStatus,
    ResponseRate,
    ResultComment,
    ReviewRequest,
    Rollup,
    RollupKind,
    RollupScope,
)
from ..snapshot import TREE_TABLE, create_tree_table, tree_sql

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
class Insert:
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


def tables(rollup: str | None = None) -> dict[str, str]:
    q = connection.ops.quote_name
    return {
        "rollup": rollup or q(Rollup._meta.db_table),
        "answer": q(Answer._meta.db_table),
        "score": q(AnswerScore._meta.db_table),
        "dept": q(Department._meta.db_table),
        "request": q(ReviewRequest._meta.db_table),
        "rate": q(ResponseRate._meta.db_table),
    }


def kind_sql(alias: str = "a") -> str:
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
# of their own and the comments kept (`counted_sql`): two passes over them were one each.
COUNTED_TABLE = "icr_rollup_counted"


def closure_sql(dept: str, *, materialized: bool) -> str:
    if materialized:
        return f"WITH closure AS (SELECT ancestor, descendant FROM {CLOSURE_TABLE})"  # noqa: S608
    return CLOSURE_SQL.format(dept=dept)


def create_closure_table(cursor, cycle: Cycle) -> None:
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


FINEST_SQL = (
    "scope = 'self' AND kind <> '' AND criterion_id IS NOT NULL "
    "AND customer_department_id IS NOT NULL"
)


def department_statements(cycle: Cycle, *, table: str | None = None) -> list[Insert]:
    t = tables(table)
    # The tree the cycle closed with; closing on PostgreSQL, its table made with the closure.
    tree = TREE_TABLE if table == WORK_TABLE else tree_sql(cycle)
    kind = kind_sql()
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

    statements: list[Insert] = []
    # 1. Department × type × criterion × customer department, from the scores.
    statements.append(
        Insert(
            f"""
            SELECT CAST(%s AS BIGINT), %s, g.pd, CAST(NULL AS BIGINT), {kind_sql("g")},
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
        Insert(
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
            Insert(
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
        Insert(
            f"""
            {closure_sql(tree, materialized=partitioned)}
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


def eligible_people_sql(
    cycle: Cycle, *, min_raters: int, counted_table: str = ""
) -> tuple[str, list]:
    """The people with a figure of their own: rated by at least `min_raters` answers outside
    the rank task rating (a column `pe`). `counted_table`: the answers counted already
    (`create_counted_table`)."""
    counted, params = counted_source(cycle, counted_table)
    sql = f"""
        SELECT c.employee_id AS pe FROM ({counted}) c WHERE c.employee_id IS NOT NULL
        GROUP BY c.employee_id HAVING SUM(c.n) >= %s
    """  # noqa: S608
    return sql, [*params, min_raters]


def person_statements(
    cycle: Cycle,
    *,
    min_raters: int,
    named: bool,
    table: str | None = None,
    eligible: list[int] | None = None,
) -> list[Insert]:
    """People as providers: only those rated by enough people outside the rank task rating.

    The rank task rating (a superior about a direct report) gets rows of its own only when HR
    chose to show it to the report, named; it never enters a person's "all types" row, so that
    row minus the per-type rows cannot reveal it. `eligible`: those people's ids, when the
    caller has read them.
    """
    t = tables(table)
    kind = kind_sql()
    person = RollupScope.PERSON.value
    task = RollupKind.RANK_TASK.value
    if eligible is None:
        # The eligible people joined, not tested with IN (subquery): a join lets PostgreSQL
        # fetch just their scores through the index.
        eligible_sql, answers_params = eligible_people_sql(cycle, min_raters=min_raters)
        answers = f"{t['answer']} a LEFT JOIN ({eligible_sql}) e ON e.pe = a.provider_employee_id"
        is_eligible, is_eligible_params = "e.pe IS NOT NULL", []
    else:
        # A constant array: the whole pass, index lookups included, runs in parallel
        # workers. Joined to the subquery, the lookups ran in the leader alone (bench cycle:
        # 0.6-0.7 s instead of 0.9-1.2 s).
        answers, answers_params = f"{t['answer']} a", []
        is_eligible = "a.provider_employee_id = ANY(%s::bigint[])"
        is_eligible_params = [bigint_array(eligible)]
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
        Insert(
            f"""
            SELECT CAST(%s AS BIGINT), %s, g.pd, g.pe, {kind_sql("g")}, g.criterion_id,
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
        Insert(
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
        Insert(
            f"""
            SELECT %s, %s, r.department_id, r.employee_id, '', r.criterion_id, NULL, {SUMS}
            FROM {t["rollup"]} r
            WHERE r.cycle_id = %s AND r.scope = %s AND r.kind <> '' AND r.kind <> %s
            GROUP BY r.department_id, r.employee_id, r.criterion_id
            """,  # noqa: S608
            [cycle.pk, person, True, cycle.pk, person, task],
        ),
    ]


def response_rate_statements(cycle: Cycle, *, closing: bool = False) -> list[Insert]:
    """`closing`: on PostgreSQL, in a close, which makes CLOSURE_TABLE."""
    t = tables()
    columns = "cycle_id, scope, department_id, requests, answered"
    return [
        Insert(
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
        Insert(
            f"""
            {closure_sql(tree_sql(cycle), materialized=closing)}
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


def counted_sql(cycle: Cycle) -> tuple[str, list]:
    """Submitted answers per provider (department_id, employee_id, n), the rank task rating
    left out: who has enough raters for a figure or for comments of their own."""
    t = tables()
    sql = f"""
        SELECT a.provider_department_id AS department_id,
               a.provider_employee_id AS employee_id, COUNT(*) AS n
        FROM {t["answer"]} a WHERE a.cycle_id = %s AND a.submitted AND {kind_sql()} <> %s
        GROUP BY a.provider_department_id, a.provider_employee_id
    """  # noqa: S608
    return sql, [cycle.pk, *KIND_PARAMS, RollupKind.RANK_TASK.value]


def counted_source(cycle: Cycle, counted_table: str) -> tuple[str, list]:
    """`counted_sql`, or a read of the table it was written to."""
    if counted_table:
        return f"SELECT * FROM {counted_table}", []  # noqa: S608
    return counted_sql(cycle)


def _comment_rows_sql(
    cycle: Cycle, *, min_comment_raters: int, counted_table: str = ""
) -> tuple[str, list]:
    """(department, employee, text) of the comments to keep, one row per comment.

    A department's comments show when at least M raters answered about the department alone; a
    person's when at least M answered about them. Rank task comments (a superior about a direct
    report) stay out: their author is known by nature. `counted_table`: the answers counted
    already (`create_counted_table`).
    """
    t = tables()
    kind = kind_sql()
    task = RollupKind.RANK_TASK.value
    where = f"a.cycle_id = %s AND a.submitted AND {kind} <> %s"
    params = [cycle.pk, *KIND_PARAMS, task]
    counted, counted_params = counted_source(cycle, counted_table)
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


def first_comments(cycle: Cycle, *, min_comment_raters: int, counted_table: str = "") -> Insert:
    """The comments of a cycle that has none kept yet, in one INSERT … SELECT."""
    sql, params = _comment_rows_sql(
        cycle, min_comment_raters=min_comment_raters, counted_table=counted_table
    )
    return Insert(
        f"SELECT %s, c.department_id, c.employee_id, c.text FROM ({sql}) c",  # noqa: S608
        [cycle.pk, *params],
        parallel=True,  # two passes over the answers
        into=connection.ops.quote_name(ResultComment._meta.db_table),
        columns="cycle_id, department_id, employee_id, text",
        order_by="department_id, COALESCE(employee_id, 0), text",
    )


def sync_comments(cycle: Cycle, *, min_comment_raters: int) -> int:
    """Make the kept comments match the answers without touching those that stay.

    Departments' replies hang on comment rows, so a recomputation keeps every row it would
    write again and only adds or removes the difference (a first computation writes them with
    `first_comments`). Either way rows go in text order: neither id nor order tells which
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
# PostgreSQL, closing: the statements write here, and the rows reach the rollup table once,
# flagged, as the cycle's partition (`reviews.close.postgres`).
WORK_TABLE = "icr_rollup_work"


def bigint_array(ids: list[int]) -> str:
    """A bigint[] parameter as one text literal: a list would be sent as ARRAY[…] of as
    many constants, which PostgreSQL parses one by one (seconds for 300,000 ids)."""
    return "{" + ",".join(map(str, ids)) + "}"
