"""The close's one entry point: a cycle's results written again from its answers.

`compute_rollups(cycle)` runs inside the closing transaction (`reviews.services.close_cycle`
calls it) and can be run again at any time (HR changing a closed cycle's result settings):
under a lock on the cycle it replaces the cycle's rows with the statements of
`reviews.close.statements`, so a retried task doubles nothing. While a cycle is open only
response rates are written: figures that changed between two visits would tell who answered in
between. On PostgreSQL a closed cycle's rows go through `reviews.close.postgres`; on SQLite
they are written in place and flagged here (`suppress`), by the same suppression.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce

from icr.db import analyze_tables

from ..models import (
    Cycle,
    CycleKind,
    CycleStatus,
    PeriodFigure,
    ResponseRate,
    ResultComment,
    Rollup,
    RollupScope,
    subtree_rows,
    with_subtree,
)
from ..snapshot import freeze_tree, tree_children
from .postgres import create_counted_table, partition_rows
from .side import SideQueries
from .statements import (
    COUNTED_TABLE,
    WORK_TABLE,
    Insert,
    department_statements,
    eligible_people_sql,
    first_comments,
    person_statements,
    rank_task_named,
    response_rate_statements,
    sync_comments,
    tables,
)
from .suppression import ROW_FIELDS, SCORE_FIELDS, fold_scores, suppression_flags


@dataclass
class RollupSummary:
    cycle_id: int
    figures: int
    suppressed: int
    comments: int
    response_rates: int


def compute_rollups(cycle: Cycle, *, side: SideQueries | None = None) -> RollupSummary:
    """Write the cycle's results again from its answers (figures only once it is closed).

    `side`: queries of the caller's to run while suppression is computed, if it is.
    """
    min_raters = settings.ICR_MIN_RATERS
    min_comment_raters = settings.ICR_MIN_COMMENT_RATERS
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update().get(pk=cycle.pk)
        closed = cycle.status == CycleStatus.CLOSED
        if closed:  # the tree it closed with, copied the first time (`reviews.snapshot`)
            freeze_tree(cycle)
        partitioned = closed and connection.vendor == "postgresql"
        if not partitioned:  # a partition is swapped whole (partition_rows)
            Rollup.objects.filter(cycle=cycle).delete()
        ResponseRate.objects.filter(cycle=cycle).delete()
        # Statements that do not read the figures: on PostgreSQL they run beside suppression.
        independent = response_rate_statements(cycle, closing=partitioned)
        table = WORK_TABLE if partitioned else None
        department_inserts = department_statements(cycle, table=table) if closed else []
        named = closed and rank_task_named(cycle)
        figures = suppressed = comments = 0
        # A first computation (the close) writes the comments in one INSERT … SELECT.
        comments_first_time = closed and not ResultComment.objects.filter(cycle=cycle).exists()
        if comments_first_time:
            # Closing on PostgreSQL, from the answers counted for the people's statements,
            # which run before (`partition_rows`).
            independent.append(
                first_comments(
                    cycle,
                    min_comment_raters=min_comment_raters,
                    counted_table=COUNTED_TABLE if partitioned else "",
                )
            )
        if partitioned:

            def person_inserts(cursor) -> list[Insert]:
                create_counted_table(cursor, cycle)
                cursor.execute(
                    *eligible_people_sql(cycle, min_raters=min_raters, counted_table=COUNTED_TABLE)
                )
                return person_statements(
                    cycle,
                    min_raters=min_raters,
                    named=named,
                    table=table,
                    eligible=[pe for (pe,) in cursor.fetchall()],
                )

            figures, suppressed = partition_rows(
                cycle,
                department_inserts,
                person_inserts,
                min_raters,
                beside=independent,
                side=side,
                distribution_min_raters=settings.ICR_MIN_DISTRIBUTION_RATERS,
            )
        else:
            rollup = tables()["rollup"]
            person_inserts = (
                person_statements(cycle, min_raters=min_raters, named=named) if closed else []
            )
            with connection.cursor() as cursor:
                for insert in independent + department_inserts + person_inserts:
                    cursor.execute(insert.sql(rollup), insert.params)
            if closed:
                figures, suppressed = suppress(cycle, min_raters=min_raters)
        if closed:
            mark_coarse(cycle, min_raters=min_raters)
            if cycle.kind == CycleKind.HANDOFFS:
                store_period_figures(cycle)
        if comments_first_time:
            comments = ResultComment.objects.filter(cycle=cycle).count()
        elif closed:
            comments = sync_comments(cycle, min_comment_raters=min_comment_raters)
        rates = ResponseRate.objects.filter(cycle=cycle).count()
    return RollupSummary(cycle.pk, figures, suppressed, comments, rates)


def mark_coarse(cycle: Cycle, *, min_raters: int) -> int:
    """Flag the cycle's shown figures to print coarse (`Rollup.coarse`): those whose same
    figure (scope, department, person, type, criterion, customer) was shown in an earlier
    closed cycle with 1 to N-1 raters more or fewer. If the others answered as before, the
    two cycles' difference would be the answers of the few who joined or left; printed to a
    whole point without a favourable share, it spans more than a point for each of them.
    Later cycles are compared with this one when they close. Returns the rows flagged."""
    earlier_cycles = Cycle.objects.filter(status=CycleStatus.CLOSED).filter(
        Q(deadline__lt=cycle.deadline) | Q(deadline=cycle.deadline, pk__lt=cycle.pk)
    )
    same_figure_earlier = (
        Rollup.objects.filter(
            cycle__in=earlier_cycles,
            suppressed=False,
            scope=OuterRef("scope"),
            department_id=OuterRef("department_id"),
            kind=OuterRef("kind"),
            raters__gt=OuterRef("raters") - min_raters,
            raters__lt=OuterRef("raters") + min_raters,
        )
        .exclude(raters=OuterRef("raters"))
        # Null-safe equality on the optional dimensions (ids are positive).
        .annotate(
            same_person=Coalesce("employee_id", 0),
            same_criterion=Coalesce("criterion_id", 0),
            same_customer=Coalesce("customer_department_id", 0),
        )
        .filter(
            same_person=Coalesce(OuterRef("employee_id"), 0),
            same_criterion=Coalesce(OuterRef("criterion_id"), 0),
            same_customer=Coalesce(OuterRef("customer_department_id"), 0),
        )
    )
    return (
        Rollup.objects.filter(cycle=cycle, suppressed=False)
        .filter(Exists(same_figure_earlier))
        .update(coarse=True)
    )


def refresh_planner_statistics() -> None:
    """ANALYZE the result tables (PostgreSQL) once a cycle's rows are in.

    A closing cycle adds under a tenth of the rows of a table holding a few cycles, too few
    for autovacuum to analyze it again; until then the planner takes the new cycle for empty
    and reads its department pages through the wrong index (make bench, section results).
    """
    analyze_tables(Rollup, ResponseRate, ResultComment)


def refresh_open_cycles() -> int:
    """Response rates of every open cycle (run by the periodic refresh)."""
    count = 0
    for cycle in Cycle.objects.filter(status=CycleStatus.OPEN):
        compute_rollups(cycle)
        count += 1
    return count


def suppression_rows(rollups, *more_fields: str) -> list[tuple]:
    """The rollups as the suppression reads them: `ROW_FIELDS`, then `SCORE_FIELDS` as one
    tuple (then `more_fields`)."""
    return fold_scores(rollups.values_list(*ROW_FIELDS, *SCORE_FIELDS, *more_fields))


def suppress(cycle: Cycle, *, min_raters: int) -> tuple[int, int]:
    """Set the cycle's `Rollup.suppressed` flags (rows are written suppressed, then opened).

    The in-place way (SQLite); PostgreSQL flags the rows before they are written
    (`reviews.close.postgres.partition_rows`). Which rows: `reviews.close.suppression`.
    """
    rows = suppression_rows(Rollup.objects.filter(cycle=cycle))
    flags = suppression_flags(
        rows, min_raters, tree_children(cycle), settings.ICR_MIN_DISTRIBUTION_RATERS
    )
    hidden, only_type = flags.hidden, flags.only_type
    shown_ids = [row[0] for row, h in zip(rows, hidden, strict=True) if not h]
    for start in range(0, len(shown_ids), 900):
        Rollup.objects.filter(pk__in=shown_ids[start : start + 900]).update(suppressed=False)
    printed = [row[0] for row, h in zip(rows, flags.distribution_hidden, strict=True) if not h]
    for start in range(0, len(printed), 900):
        Rollup.objects.filter(pk__in=printed[start : start + 900]).update(distribution_shown=True)
    # The statements flag a department's only type per customer; a person's only type is
    # found with the suppression (as closing on PostgreSQL finds both).
    people = [rows[i][0] for i in only_type if rows[i][1] == RollupScope.PERSON]
    for start in range(0, len(people), 900):
        Rollup.objects.filter(pk__in=people[start : start + 900]).update(only_type=True)
    return len(rows), len(rows) - len(shown_ids)


PERIOD_FIGURE_FIELDS = (
    "raters",
    "not_received",
    "n1",
    "n2",
    "n3",
    "n4",
    "n5",
    "mean",
    "favourable",
    "suppressed",
    "distribution_shown",
    "coarse",
)


def store_period_figures(cycle: Cycle) -> int:
    """Copy a closed hand-off period's department figures (with subtree, all criteria, all
    types and each type) from its rollups to `PeriodFigure`; returns the rows written. The
    rows are the rollups' own, flags included: nothing is computed or suppressed again."""
    if cycle.status != CycleStatus.CLOSED:
        return 0
    rows = subtree_rows(
        Rollup.objects.filter(with_subtree(), cycle=cycle, criterion__isnull=True).only(
            "cycle_id", "scope", "department_id", "kind", "criterion_id", *PERIOD_FIGURE_FIELDS
        )
    )
    with transaction.atomic():
        PeriodFigure.objects.filter(cycle=cycle).delete()
        PeriodFigure.objects.bulk_create(
            [
                PeriodFigure(
                    cycle_id=cycle.pk,
                    period_start=cycle.period_start,
                    department_id=row.department_id,
                    kind=row.kind,
                    **{name: getattr(row, name) for name in PERIOD_FIGURE_FIELDS},
                )
                for row in rows
            ],
            batch_size=2000,
        )
    return len(rows)
