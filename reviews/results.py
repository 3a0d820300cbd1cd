"""Reading results: access to departments and people, the pages' selectors and the export.

What is published and hidden is decided once per cycle, when it closes
(`reviews.close.suppression`), and stored as `Rollup.suppressed`; `docs/disclosure.md` is the
threat model. Here:

1. Hidden figures show why: "fewer than N answers" for a group too small to show, "hidden to
   protect a smaller group" for one hidden so that subtraction cannot reveal another
   (`Figure.reason`).
2. Shown figures are printed coarse enough to protect by themselves: the mean to one decimal;
   the score distribution, and the favourable share (its top two bars) as a whole percent,
   only for groups of at least D anonymous raters (settings.ICR_MIN_DISTRIBUTION_RATERS) that
   printed distributions do not give a smaller group's by subtraction
   (`Rollup.distribution_shown`).
3. This cycle and the trend: the change since the previous cycle is shown only when both
   figures are; the trend shows each cycle's own figure and no sum over cycles.
4. Comments are kept only for groups of at least M raters (settings.ICR_MIN_COMMENT_RATERS), and
   show without names, dated by cycle only.
5. A superior's rating of a direct report (rank task) never enters a person's "all types"
   figure; it is shown to the report, named, only when HR chose so for the cycle.
"""

from __future__ import annotations

import heapq
import itertools
import operator
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db.models import Count, F, Min, Q
from django.http import Http404
from django.utils.translation import gettext as _

from relations.models import Department, DepartmentTree, Edge, Employee
from relations.roles import Roles, roles_of, visible_department_ids

from .close.suppression import is_published
from .models import (
    PART_KINDS,
    CommentReply,
    Criterion,
    Cycle,
    CycleStatus,
    ImprovementAction,
    PeriodFigure,
    RequestStatus,
    ResponseRate,
    ResultComment,
    ReviewRequest,
    Rollup,
    RollupKind,
    RollupScope,
    ServiceCommitment,
    cells_of_kind,
    subtree_rows,
    with_subtree,
)
from .snapshot import department_labels


def disclosure_summary(cycle: Cycle) -> dict:
    """How much of a closed cycle's published figures is hidden, counted over the groups of at
    least N raters (a smaller group is hidden by rule): all published rows, and the headlines
    (each department over all types, criteria and customers, alone and with its subtree); and
    of the shown figures of at least D raters, how many print their score distribution."""
    n = settings.ICR_MIN_RATERS
    published = big = big_hidden = headlines = headlines_hidden = 0
    alone = alone_hidden = 0
    rows = Rollup.objects.filter(cycle=cycle).values_list(
        "scope",
        "kind",
        "criterion_id",
        "customer_department_id",
        "only_type",
        "raters",
        "suppressed",
        "distribution_shown",
    )
    d = settings.ICR_MIN_DISTRIBUTION_RATERS
    shown_with_d = printed = 0
    for scope, kind, criterion, customer, only_type, raters, hidden, dist in rows.iterator(5000):
        if not is_published(scope, kind, criterion, customer, only_type):
            continue
        published += 1
        if not hidden and raters >= d:
            shown_with_d += 1
            printed += dist
        if raters < n:
            continue
        big += 1
        big_hidden += hidden
        if scope != RollupScope.PERSON and kind == "" and criterion is None and customer is None:
            headlines += 1
            headlines_hidden += hidden
            if scope == RollupScope.SELF:
                alone += 1
                alone_hidden += hidden

    def share(part: int, whole: int) -> float:
        return round(100 * part / whole, 1) if whole else 0.0

    return {
        "published": published,
        "with_n_raters": big,
        "hidden_with_n_raters": big_hidden,
        "hidden_percent": share(big_hidden, big),
        "headlines": headlines,
        "headlines_hidden": headlines_hidden,
        "headlines_hidden_percent": share(headlines_hidden, headlines),
        "alone_headlines": alone,
        "alone_headlines_hidden": alone_hidden,
        "shown_with_d_raters": shown_with_d,
        "distributions_printed": printed,
    }


# --- Access ---------------------------------------------------------------------------------


_UNSET = object()


def department_for(user, pk: int, *, visible=_UNSET) -> Department:
    """A department this user may see results of; anything else is a 404.

    `visible` is `visible_department_ids(user)` when the caller has it already.
    """
    if visible is _UNSET:
        visible = visible_department_ids(user)
    if visible is not None and pk not in visible:
        raise Http404
    try:
        return Department.objects.get(pk=pk)
    except Department.DoesNotExist as exc:
        raise Http404 from exc


def employee_for(user, pk: int, *, roles: Roles | None = None) -> Employee:
    """HR sees every person's page, everyone else only their own; anything else is a 404.

    `roles`: the user's roles when the caller has them."""
    roles = roles or roles_of(user)
    if not roles.is_hr and roles.employee_id != pk:
        raise Http404
    try:
        return Employee.objects.select_related("department").get(pk=pk)
    except Employee.DoesNotExist as exc:
        raise Http404 from exc


# --- Figures --------------------------------------------------------------------------------


@dataclass
class Figure:
    """One figure as a page shows it: the numbers, or "not enough responses"."""

    label: str
    raters: int = 0
    not_received: int = 0
    mean: float | None = None
    favourable: float | None = None
    distribution: list[int] | None = None  # printed only where the close allowed it
    suppressed: bool = True
    change: float | None = None
    key: str = ""
    # Printed without favourable share, distribution or change, and under FINE_SCORES scores
    # to a whole point (`Rollup.coarse`).
    coarse: bool = False
    whole_point: bool = False
    # Why a hidden figure is hidden: FEW (under N raters) or PROTECTING (another figure),
    # and the words for it.
    reason: str = ""
    hidden_text: str = ""

    @property
    def favourable_percent(self) -> int | None:
        return round(100 * self.favourable) if self.favourable is not None else None


def _figure(
    label: str, row: Rollup | None, previous: Rollup | None = None, key: str = ""
) -> Figure:
    if row is None:
        return Figure(label=label, key=key)
    if row.suppressed:
        return Figure(
            label=label,
            key=key,
            suppressed=True,
            reason=hidden_reason(row),
            hidden_text=hidden_label(row),
        )
    change = None
    mean, before = shown_mean(row), shown_mean(previous)
    if mean is not None and before is not None and not row.coarse and not previous.coarse:
        change = round(mean - before, MEAN_DECIMALS)
    return Figure(
        label=label,
        key=key,
        raters=row.raters,
        not_received=row.not_received,
        mean=mean,
        favourable=shown_favourable(row),
        distribution=shown_distribution(row),
        suppressed=False,
        change=change,
        coarse=row.coarse,
        whole_point=row.coarse and sum(row.distribution) < FINE_SCORES,
    )


# How figures are printed: coarse enough that a shown figure protects by itself.
MEAN_DECIMALS = 1
# A mean to one decimal over this many scores leaves at least three possible sums: printed
# coarse (a group changed by a few raters since an earlier cycle), such a figure keeps its
# decimal, and the few's scores still span more than a point.
FINE_SCORES = 30
FEW, PROTECTING = "few", "protecting"


def hidden_reason(row: Rollup) -> str:
    """FEW when the group itself has under N raters, else PROTECTING: hidden so that
    subtraction cannot reveal a smaller group (`reviews.close.suppression`)."""
    return FEW if row.raters < settings.ICR_MIN_RATERS else PROTECTING


def hidden_label(row: Rollup) -> str:
    if hidden_reason(row) == FEW:
        return _("Fewer than %(n)d answers") % {"n": settings.ICR_MIN_RATERS}
    return _("Hidden to protect a smaller group")


def shown_distribution(row: Rollup) -> list[int] | None:
    """The score counts, only where the close printed them: a group of at least D anonymous
    raters that no printed distributions give a smaller group's by subtraction, and whose
    hidden parts hold none or at least D of them (`reviews.close.suppression`)."""
    if row.suppressed or row.coarse or not row.distribution_shown:
        return None
    return row.distribution


def shown_favourable(row: Rollup) -> float | None:
    """The favourable share (4–5) where the distribution is printed: it is the distribution's
    top two bars, so it follows the distribution's rule (D raters, complementary, not coarse).
    A small group's favourable count beside its mean pins the rest of it alike."""
    if shown_distribution(row) is None:
        return None
    return row.favourable


def shown_mean(row: Rollup | None) -> float | None:
    if row is None:
        return None
    return shown_value(row.suppressed, row.mean, row.coarse and sum(row.distribution))


def shown_value(suppressed: bool, mean: float | None, coarse_scores: int = 0) -> float | None:
    """A mean as pages show it: None when suppressed (or empty), else to one decimal; a figure
    printed coarse (`Rollup.coarse`, `coarse_scores` its number of scores) to a whole point
    unless it holds FINE_SCORES scores or more."""
    if suppressed or mean is None:
        return None
    if 0 < coarse_scores < FINE_SCORES:
        return float(round(mean))
    return round(mean, MEAN_DECIMALS)


def result_cycles():
    """Cycles that have results to show: closed ones, and open ones for response rates."""
    return Cycle.objects.surveys().exclude(status=CycleStatus.DRAFT).order_by("-deadline", "-id")


def pick_cycle(cycle_id: str | None) -> Cycle | None:
    cycles = result_cycles()
    if cycle_id and str(cycle_id).isdigit():
        found = cycles.filter(pk=int(cycle_id)).first()
        if found is not None:
            return found
    return cycles.filter(status=CycleStatus.CLOSED).first() or cycles.first()


def previous_cycle(cycle: Cycle) -> Cycle | None:
    return (
        Cycle.objects.filter(status=CycleStatus.CLOSED, kind=cycle.kind)
        .filter(Q(deadline__lt=cycle.deadline) | Q(deadline=cycle.deadline, id__lt=cycle.id))
        .order_by("-deadline", "-id")
        .first()
    )


def kind_label(kind: str) -> str:
    return str(RollupKind(kind).label)


def _criteria(cycle: Cycle) -> list[Criterion]:
    return list(cycle.criteria.order_by("order", "id"))


def _breakdown(rows: dict, prev: dict, criteria: list[Criterion], *, kinds: list[str]) -> dict:
    """Overall, per type and per criterion figures from rows keyed (kind, criterion_id)."""
    overall = _figure(_("Overall"), rows.get(("", None)), prev.get(("", None)), key="all")
    by_kind = [
        _figure(kind_label(k), rows.get((k, None)), prev.get((k, None)), key=k)
        for k in kinds
        if (k, None) in rows
    ]
    by_criterion = [
        _figure(c.name, rows.get(("", c.pk)), prev.get(("", c.pk)), key=str(c.pk))
        for c in criteria
        if ("", c.pk) in rows
    ]
    return {"overall": overall, "by_kind": by_kind, "by_criterion": by_criterion}


def _keyed(qs) -> dict:
    return {(r.kind, r.criterion_id): r for r in qs}


def _trend(qs_by_cycle, cycles: list[Cycle], series_kinds: list[str]) -> dict:
    """Chart data: one line per type (and overall), one point per closed cycle."""
    points: dict[tuple, float | None] = {}
    for row in qs_by_cycle:
        points[(row.cycle_id, row.kind)] = shown_mean(row)
    return {
        "cycles": [c.name for c in cycles],
        "series": [
            {
                "name": _("Overall") if k == "" else kind_label(k),
                "data": [points.get((c.pk, k)) for c in cycles],
            }
            for k in ["", *series_kinds]
            if any(points.get((c.pk, k)) is not None for c in cycles)
        ],
    }


def _closed_cycles_until(cycle: Cycle, limit: int = 12) -> list[Cycle]:
    cycles = list(
        Cycle.objects.filter(
            status=CycleStatus.CLOSED, kind=cycle.kind, deadline__lte=cycle.deadline
        ).order_by("-deadline", "-id")[:limit]
    )
    return list(reversed(cycles))


# A year of weekly periods.
HANDOFF_PERIODS_SHOWN = 53
HANDOFF_KINDS = [RollupKind.PROCESS, RollupKind.WORKFLOW]


def handoff_results(department: Department, *, limit: int = HANDOFF_PERIODS_SHOWN) -> dict | None:
    """The department's (with its subtree) continuous results from hand-off ratings: the
    latest closed period's figures and one point per period. Read from the figures the
    periods' closes wrote (`PeriodFigure`, copies of their rollups), so the same suppression
    applies as to cycles; two queries."""
    periods = list(
        Cycle.objects.handoff_periods()
        .filter(status=CycleStatus.CLOSED)
        .order_by("-period_start")
        .only("id", "name", "period_start", "period_end")[:limit]
    )
    if not periods:
        return None
    periods.reverse()
    rows = list(
        PeriodFigure.objects.filter(
            department=department,
            period_start__gte=periods[0].period_start,
            kind__in=["", *HANDOFF_KINDS],
        )
    )
    by_period = {p.period_start: p.pk for p in periods}
    for row in rows:  # the trend keys points by cycle
        row.cycle_id = by_period.get(row.period_start, row.cycle_id)
    latest, before = periods[-1], periods[-2] if len(periods) > 1 else None
    now_rows = {r.kind: r for r in rows if r.cycle_id == latest.pk}
    prev_rows = {r.kind: r for r in rows if before is not None and r.cycle_id == before.pk}
    overall = _figure(_("Overall"), now_rows.get(""), prev_rows.get(""), key="all")
    by_kind = [
        _figure(kind_label(k), now_rows.get(k), prev_rows.get(k), key=k)
        for k in HANDOFF_KINDS
        if k in now_rows
    ]
    trend = _trend(rows, periods, HANDOFF_KINDS)
    trend["cycles"] = [f"{p.period_start:%Y-%m-%d}" for p in periods]
    return {"period": latest, "overall": overall, "by_kind": by_kind, "trend": trend}


def _rate(cycle: Cycle, department_id: int, scope: str) -> dict | None:
    return _rate_figures(
        ResponseRate.objects.filter(cycle=cycle, department_id=department_id, scope=scope).first()
    )


def _rate_figures(rate: ResponseRate | None) -> dict | None:
    if rate is None:
        return None
    share = rate.share
    return {
        "requests": rate.requests,
        "answered": rate.answered,
        "percent": round(100 * share) if share is not None else None,
    }


def rater_response(cycle: Cycle, department_ids: list[int]) -> dict:
    """How many people rate these departments in this cycle (have a request about one of
    them) and how many of them answered all those requests: counts only, never who.

    The rule: the counts are shown only when at least ICR_MIN_RATERS people rate the
    departments (`shown`). Under that, "2 of 2 answered" or "0 of 1" would tell a head
    that knows the few raters (a rank relationship, a small customer department) what each
    of them did; then the page says only that the group is too small, and a reminder still
    goes out without a number. Read from the requests, so it is current while the cycle is
    open: only whether people answered, which no figure is computed from before the close.
    """
    per_rater = (
        ReviewRequest.objects.filter(cycle=cycle, provider_department_id__in=department_ids)
        .order_by()
        .values("rater_id")
        .annotate(pending=Count("id", filter=Q(status=RequestStatus.PENDING)))
    )
    totals = per_rater.aggregate(
        raters=Count("rater_id"), done=Count("rater_id", filter=Q(pending=0))
    )
    raters, answered = totals["raters"] or 0, totals["done"] or 0
    shown = raters >= settings.ICR_MIN_RATERS
    return {
        "shown": shown,
        "min": settings.ICR_MIN_RATERS,
        "raters": raters if shown else None,
        "answered": answered if shown else None,
        "pending": raters - answered if shown else None,
        "percent": round(100 * answered / raters) if shown else None,
        "anyone": raters > 0,
    }


class Cell(NamedTuple):
    """A matrix cell as the department page reads it: enough to place, rank and compare.

    `shown` is the mean as the page shows it (`shown_value`): None when suppressed. Worked out
    once per cell: a large tree's page reads thousands and uses each several times.
    """

    id: int
    cycle_id: int
    department_id: int
    customer_department_id: int
    shown: float | None


_CELL_COLUMNS = (
    "id",
    "cycle_id",
    "department_id",
    "customer_department_id",
    "suppressed",
    "mean",
    "coarse",
    *("n1", "n2", "n3", "n4", "n5"),
)


# How many reciprocity gaps and comment groups the department page lists at most.
GAPS_SHOWN = 25
COMMENTS_SHOWN = 40


def department_dashboard(
    department: Department,
    cycle: Cycle | None,
    *,
    kind: str = "",
    criterion_id: int | None = None,
    tree: DepartmentTree | None = None,
) -> dict:
    """Everything the department page shows, read from the stored rows only.

    A fixed, small number of queries whatever the size of the company or the tree: the page is
    read far more often than cycles close (make bench, section results). `tree`: the
    department tree when the caller has read it already.
    """
    context: dict = {"department": department, "cycle": cycle, "kind": kind}
    context["commitments"] = commitment_figures(department, cycle)
    if cycle is None:
        return context
    tree = tree or DepartmentTree.load()
    tree_ids, names, children = (
        tree.subtree(department.pk),
        tree.names,
        tree.children(department.pk),
    )
    tree_set = set(tree_ids)
    criteria = _criteria(cycle)
    context["criteria"] = criteria
    context["criterion_id"] = criterion_id
    context["closed"] = cycle.status == CycleStatus.CLOSED
    if not context["closed"]:
        # Read from the requests: only while open, when reminding is what it is for (a closed
        # cycle's page reads stored rows only, `ResponseRate`).
        context["rater_response"] = rater_response(cycle, tree_ids)
        context["response_rate"] = _rate(cycle, department.pk, RollupScope.TREE)
        return context
    previous = previous_cycle(cycle)
    context["previous"] = previous
    cycles = _closed_cycles_until(cycle)
    cycle_ids = {c.pk for c in cycles} | {cycle.pk} | ({previous.pk} if previous else set())

    # The department with its subtree: this cycle, the previous one and the trend, one query.
    # The trend needs only the all-criteria rows of the older cycles (a sixth of them).
    both = {cycle.pk} | ({previous.pk} if previous else set())
    tree_rows = subtree_rows(
        Rollup.objects.filter(with_subtree(), department=department).filter(
            Q(cycle_id__in=both) | Q(cycle_id__in=cycle_ids - both, criterion__isnull=True)
        )
    )
    context.update(
        _breakdown(
            _keyed(r for r in tree_rows if r.cycle_id == cycle.pk),
            _keyed(r for r in tree_rows if previous and r.cycle_id == previous.pk),
            criteria,
            kinds=PART_KINDS,
        )
    )
    # What changed most since the previous cycle, for the page's headline.
    moved = [
        f for f in [*context["by_kind"], *context["by_criterion"]] if f.change not in (None, 0)
    ]
    context["changes"] = sorted(moved, key=lambda f: -abs(f.change))[:4]
    rates = {
        r.cycle_id: r
        for r in ResponseRate.objects.filter(
            cycle_id__in=cycle_ids, scope=RollupScope.TREE, department=department
        )
    }
    context["response_rate"] = _rate_figures(rates.get(cycle.pk))

    # The department alone and each direct sub-department (with its subtree).
    parts = list(
        Rollup.objects.filter(
            with_subtree(),
            cycle=cycle,
            kind="",
            criterion__isnull=True,
            department_id__in=[department.pk, *(c for c, _n in children)],
        )
    )
    alone = next(
        (r for r in parts if r.scope == RollupScope.SELF and r.department_id == department.pk),
        None,
    )
    with_their_subtrees = {r.department_id: r for r in subtree_rows(parts)}
    context["parts"] = [
        _figure(_("%(name)s alone") % {"name": department.name}, alone, key=str(department.pk))
    ] + [_figure(name, with_their_subtrees.get(pk), key=str(pk)) for pk, name in children]
    for part in context["parts"]:
        part.link_id = int(part.key)

    # Trend of the department with its subtree.
    trend_ids = {c.pk for c in cycles}
    context["trend"] = _trend(
        (r for r in tree_rows if r.criterion_id is None and r.cycle_id in trend_ids),
        cycles,
        PART_KINDS,
    )
    context["trend"]["response"] = [
        (lambda r: round(100 * r.share) if r and r.share is not None else None)(rates.get(c.pk))
        for c in cycles
    ]

    # The matrix and everything built on its cells: department alone × customer department,
    # this cycle's (both directions, for the gaps) and the previous cycle's own cells, one query.
    everything = len(tree_set) == len(names)
    this_cycle = Q(cycle=cycle)
    if not everything:  # the whole company needs no id list
        this_cycle &= Q(department_id__in=tree_ids) | Q(customer_department_id__in=tree_ids)
    wanted = this_cycle
    if previous is not None:
        last_cycle = Q(cycle=previous)
        if not everything:
            last_cycle &= Q(department_id__in=tree_ids)
        wanted |= last_cycle
    # Thousands of cells for a large tree: plain tuples, the few shown in full fetched below.
    matrix = [
        Cell(pk, cycle_id, provider, customer, shown_value(suppressed, mean, coarse and sum(n)))
        for pk, cycle_id, provider, customer, suppressed, mean, coarse, *n in Rollup.objects.filter(
            cells_of_kind(kind),
            scope=RollupScope.SELF,
            criterion_id=criterion_id,
            customer_department__isnull=False,
        )
        .filter(wanted)
        .values_list(*_CELL_COLUMNS)
    ]
    this_id, previous_id = cycle.pk, previous.pk if previous is not None else None
    cells = [c for c in matrix if c.cycle_id == this_id]
    own = [c for c in cells if c.department_id in tree_set]
    providers = sorted({c.department_id for c in own}, key=lambda d: names.get(d, ""))
    customers = sorted({c.customer_department_id for c in own}, key=lambda d: names.get(d, ""))
    provider_index = {d: i for i, d in enumerate(providers)}
    customer_index = {d: i for i, d in enumerate(customers)}
    context["heatmap"] = {
        "providers": [names.get(d, "?") for d in providers],
        "customers": [names.get(d, "?") for d in customers],
        "cells": [
            [
                customer_index[c.customer_department_id],
                provider_index[c.department_id],
                c.shown,
            ]
            for c in own
        ],
    }
    by_pair = {(c.department_id, c.customer_department_id): c for c in cells}
    gaps = []
    seen: set[frozenset] = set()
    for (a, b), a_serves_b in by_pair.items():
        # A department serving itself (steps of one process inside it) has no gap to show.
        if a == b or a not in tree_set or frozenset((a, b)) in seen:
            continue
        b_serves_a = by_pair.get((b, a))
        if b_serves_a is None:
            continue
        seen.add(frozenset((a, b)))
        b_rates_a, a_rates_b = a_serves_b.shown, b_serves_a.shown
        if b_rates_a is None or a_rates_b is None:
            continue
        gap = round(abs(a_rates_b - b_rates_a), MEAN_DECIMALS)
        gaps.append((-gap, names.get(a, "?"), names.get(b, "?"), a_rates_b, b_rates_a))
    # A large tree has thousands of pairs: the page lists the largest gaps and says how many
    # there are (each sub-department's page lists its own).
    context["gaps_total"] = len(gaps)
    context["gaps"] = [
        {"a": a, "b": b, "a_rates_b": a_rates_b, "b_rates_a": b_rates_a, "gap": -gap}
        for gap, a, b, a_rates_b, b_rates_a in heapq.nsmallest(GAPS_SHOWN, gaps)
    ]
    prev_cells = {
        (r.department_id, r.customer_department_id): r
        for r in matrix
        if r.cycle_id == previous_id and r.department_id in tree_set
    }
    weakest = sorted(
        (c for c in own if c.shown is not None and c.department_id != c.customer_department_id),
        key=lambda c: (c.shown, names.get(c.department_id, "")),
    )[:8]
    before = {c.id: prev_cells.get((c.department_id, c.customer_department_id)) for c in weakest}
    # By id within their cycles: the rollup table is partitioned by cycle (PostgreSQL), and
    # ids alone would be looked up in every cycle's partition.
    full = Rollup.objects.filter(cycle_id__in={c.cycle_id for c in matrix}).in_bulk(
        [c.id for c in weakest] + [b.id for b in before.values() if b is not None]
    )
    context["weakest"] = [
        {
            "provider_id": c.department_id,
            "customer_id": c.customer_department_id,
            "provider": names.get(c.department_id, "?"),
            "customer": names.get(c.customer_department_id, "?"),
            "figure": _figure("", full[c.id], before[c.id] and full.get(before[c.id].id)),
        }
        for c in weakest
    ]

    # Anonymous comments about the department's service, with the department's answers.
    comments = ResultComment.objects.filter(cycle=cycle, employee__isnull=True)
    if not everything:
        comments = comments.filter(department_id__in=tree_ids)
    # The department's own first, then its sub-departments' (each also on its own page); only
    # the rows of the groups shown are read.
    groups = comment_groups(comments, first_department_id=department.pk)
    context["comments_total"] = len(groups)
    context["comments"] = standing_comments(groups[:COMMENTS_SHOWN])
    for comment in context["comments"]:
        comment.department_name = names.get(comment.department_id, "?")
    context["actions"] = actions_with_change(tree_ids, cycle, names)
    return context


def _published_figure(label: str, row: Rollup | None) -> Figure:
    """A row's figure as pages show it, and hidden if its shape is never published: only
    figures the pages already show may stand beside a commitment."""
    if row is not None and not is_published(
        row.scope, row.kind, row.criterion_id, row.customer_department_id, row.only_type
    ):
        row = None
    return _figure(label, row)


def commitment_figures(department: Department, cycle: Cycle | None) -> list[dict]:
    """The department's commitments on the relationships it provides (still active), each with
    the figures that show how well it is kept, in a closed cycle:

    - `criterion`: the tied criterion's figure for the department over all its customers
      (department alone, all types, that criterion), a published figure;
    - `relationship`: the relationship's cell, the department alone for that customer
      department over all criteria (the matrix's), published for departments serving
      departments outside rank.

    Both are stored rows read as they are (`_figure`): a suppressed row shows as hidden, with
    its reason, and no other number is derived, so a commitment shows nothing the department
    page does not already show. (The tied criterion for one customer is not a published shape,
    so it is not shown.) Three queries whatever the number of commitments.
    """
    commitments = list(
        ServiceCommitment.objects.active()
        .filter(edge__valid_to__isnull=True)
        .filter(
            Q(edge__provider_department=department)
            | Q(edge__provider_employee__department=department)
        )
        .select_related(
            "criterion", "edge__customer_department", "edge__customer_employee__department"
        )
        .order_by("edge__type", "edge_id", "id")
    )
    if not commitments:
        return []

    def customer_department_id(edge) -> int | None:
        if edge.customer_department_id is not None:
            return edge.customer_department_id
        return edge.customer_employee.department_id if edge.customer_employee else None

    by_criterion: dict[int, Rollup] = {}
    cells: dict[int, Rollup] = {}
    if cycle is not None and cycle.status == CycleStatus.CLOSED:
        criterion_ids = {c.criterion_id for c in commitments if c.criterion_id}
        if criterion_ids:
            by_criterion = {
                r.criterion_id: r
                for r in Rollup.objects.filter(
                    cycle=cycle,
                    scope=RollupScope.SELF,
                    department=department,
                    kind=RollupKind.ALL,
                    criterion_id__in=criterion_ids,
                    customer_department__isnull=True,
                )
            }
        customers = {customer_department_id(c.edge) for c in commitments} - {None, department.pk}
        cells = {
            r.customer_department_id: r
            for r in Rollup.objects.filter(
                cells_of_kind(RollupKind.ALL),
                cycle=cycle,
                scope=RollupScope.SELF,
                department=department,
                criterion__isnull=True,
                customer_department_id__in=customers,
            )
        }
    closed = cycle is not None and cycle.status == CycleStatus.CLOSED
    out = []
    for commitment in commitments:
        edge = commitment.edge
        customer = customer_department_id(edge)
        out.append(
            {
                "commitment": commitment,
                "customer": edge.customer,
                "type": edge.type_label(),
                "criterion": _published_figure(
                    commitment.criterion.name, by_criterion.get(commitment.criterion_id)
                )
                if closed and commitment.criterion_id
                else None,
                "relationship": _published_figure("", cells.get(customer))
                if closed and customer not in (None, department.pk)
                else None,
            }
        )
    return out


@dataclass
class LineExchange:
    """How one side of the company rates the other, from the matrix cells as pages print them.

    `means` are the printed means (`shown_value`) of the shown cells where a department of
    the providing side serves one of the rating side; the figure is their plain average (each
    relationship counts once), with how many cells were shown and hidden.
    """

    label: str
    shown: int = 0
    hidden: int = 0
    mean: float | None = None
    lowest: float | None = None
    highest: float | None = None


def line_exchange(cycle: Cycle | None) -> list[LineExchange]:
    """The front line rating the functions and the functions rating the front line, in a
    closed cycle (the company page).

    Disclosure: nothing new is aggregated from answers or raters. The figures are computed
    only from matrix cells as every department page prints them (the all-types, all-criteria
    figure of a department alone for one customer department, published and suppressed at the
    close): a hidden cell contributes nothing but its count, a shown one only its printed
    mean (coarse ones to a whole point). So whoever sees this (HR, who sees every department's
    matrix) learns nothing the matrices do not show; no rater count, score sum or
    distribution of any group is printed here. Lines are today's, on the tree the cycle closed
    with (`CycleDepartment`), a department without its own line taking its parent's
    (`relations.models.effective_lines`).
    """
    from relations.models import LineKind, effective_lines

    from .models import CycleDepartment

    sides = [
        (LineKind.FUNCTIONAL, LineKind.FRONT, _("The front line rates the functions")),
        (LineKind.FRONT, LineKind.FUNCTIONAL, _("The functions rate the front line")),
    ]
    if cycle is None or cycle.status != CycleStatus.CLOSED:
        return []
    own = dict(Department.objects.exclude(line="").values_list("id", "line"))
    if not own:
        return []
    parents = dict(
        CycleDepartment.objects.filter(cycle=cycle).values_list("department_id", "parent_id")
    ) or dict(Department.objects.values_list("id", "parent_id"))
    lines = effective_lines(parents, own)
    printed: dict[tuple[str, str], list[float | None]] = {}
    for provider, customer, suppressed, mean, coarse, *n in Rollup.objects.filter(
        cells_of_kind(RollupKind.ALL),
        cycle=cycle,
        scope=RollupScope.SELF,
        criterion__isnull=True,
        customer_department__isnull=False,
    ).values_list(*_CELL_COLUMNS[2:]):
        if provider == customer:
            continue
        key = (lines.get(provider, ""), lines.get(customer, ""))
        printed.setdefault(key, []).append(shown_value(suppressed, mean, coarse and sum(n)))
    out = []
    for provider_line, customer_line, label in sides:
        values = printed.get((provider_line, customer_line), [])
        shown = [v for v in values if v is not None]
        out.append(
            LineExchange(
                label=label,
                shown=len(shown),
                hidden=len(values) - len(shown),
                mean=round(sum(shown) / len(shown), MEAN_DECIMALS) if shown else None,
                lowest=min(shown) if shown else None,
                highest=max(shown) if shown else None,
            )
        )
    return out


def comment_groups(comments, *, first_department_id: int | None = None) -> list[tuple]:
    """The same text from several raters is one group, counted in the database.

    Each group is (department id, text, how many wrote it, the id of the row that stands for
    it): the answered row if any (a department answers the group), else the first. Ordered by
    department and text, `first_department_id`'s groups first. No ORDER BY in the query: the
    model's default, by cycle, would join the cycle table.
    """
    rows = (
        comments.order_by()
        .values_list("department_id", "text")
        .annotate(
            times=Count("id"), first=Min("id"), answered=Min("id", filter=Q(reply__isnull=False))
        )
    )
    return sorted(
        ((d, text, times, answered or first) for d, text, times, first, answered in rows),
        key=lambda g: (g[0] != first_department_id, g[0], g[1]),
    )


def standing_comments(groups: list[tuple]) -> list[ResultComment]:
    """The rows standing for these `comment_groups`, with their answers and `times`."""
    rows = ResultComment.objects.select_related("reply").in_bulk([g[3] for g in groups])
    out = []
    for _department, _text, times, pk in groups:
        comment = rows[pk]
        comment.times = times
        out.append(comment)
    return out


def _cell_mean(cycle_id: int, provider_id: int, customer_id: int, kind: str) -> float | None:
    row = Rollup.objects.filter(
        cells_of_kind(kind),
        cycle_id=cycle_id,
        scope=RollupScope.SELF,
        department_id=provider_id,
        customer_department_id=customer_id,
        criterion__isnull=True,
    ).first()
    return shown_mean(row)


def actions_with_change(tree_ids: list[int], cycle: Cycle, names: dict) -> list[dict]:
    """Actions recorded on this cycle and earlier ones, with the relationship's figure then
    (the cycle it was recorded on) and now (this cycle, when it is a later one)."""
    actions = (
        ImprovementAction.objects.filter(
            provider_department_id__in=tree_ids, cycle__deadline__lte=cycle.deadline
        )
        .select_related("cycle")
        .order_by("-cycle__deadline", "due", "id")[:50]
    )
    out = []
    for action in actions:
        then = _cell_mean(
            action.cycle_id,
            action.provider_department_id,
            action.customer_department_id,
            action.kind,
        )
        now = None
        if action.cycle_id != cycle.pk:
            now = _cell_mean(
                cycle.pk,
                action.provider_department_id,
                action.customer_department_id,
                action.kind,
            )
        out.append(
            {
                "action": action,
                "provider": names.get(action.provider_department_id, "?"),
                "customer": names.get(action.customer_department_id, "?"),
                "then": then,
                "now": now,
                "change": round(now - then, MEAN_DECIMALS)
                if now is not None and then is not None
                else None,
            }
        )
    return out


# --- Employee pages -------------------------------------------------------------------------


def _relationships(employee: Employee) -> dict:
    from relations.selectors import _grouped, _row, my_departments

    departments = my_departments(employee)
    edges = (
        Edge.objects.active()
        .select_related(
            "provider_department",
            "provider_employee__department",
            "customer_department",
            "customer_employee__department",
        )
        .order_by("type", "rank_kind", "id")
    )
    serve = edges.filter(Q(provider_employee=employee) | Q(provider_department__in=departments))
    served_by = edges.filter(Q(customer_employee=employee) | Q(customer_department__in=departments))
    return {
        "serve": _grouped([_row(e, "provider") for e in serve]),
        "served_by": _grouped([_row(e, "customer") for e in served_by]),
    }


# A department's services in which its members take part. Rank relationships are each
# person's own: their department figures are not shown to members (a report who sees their
# superior's named rating could subtract it from the department's).
DEPARTMENT_SERVICE_KINDS = (RollupKind.FUNCTION, RollupKind.PROCESS, RollupKind.WORKFLOW)


def kinds_served(serve_groups) -> list[str]:
    """The kinds of department service a person takes part in as a provider (themselves or
    through their department), from their "whom I serve" groups."""
    types = {row.edge.type for group in serve_groups for row in group.rows}
    return [k.value for k in DEPARTMENT_SERVICE_KINDS if k.value in types]


def department_figures(employee: Employee, cycle: Cycle, kinds: list[str]) -> list[Figure]:
    """The person's department alone, as a provider to all its customers, for the kinds of
    service the person takes part in: only the figures the close let be shown (the department
    page shows the same rows to its head; a hidden one is left out, not described). One query."""
    if not kinds or employee.department_id is None:
        return []
    rows = {
        r.kind: r
        for r in Rollup.objects.filter(
            cycle=cycle,
            scope=RollupScope.SELF,
            department_id=employee.department_id,
            customer_department__isnull=True,
            criterion__isnull=True,
            kind__in=kinds,
            suppressed=False,
        )
    }
    return [_figure(kind_label(k), rows[k], key=k) for k in kinds if k in rows]


def employee_page(employee: Employee, cycle: Cycle | None, *, own: bool) -> dict:
    """ "My service": for the person themselves first what they can see (their department's
    shown figures for the services they take part in, the departments' answers to comments of
    the cycles they rated in), then figures about them, then their requests."""
    context: dict = {"employee": employee, "cycle": cycle, "own": own}
    context.update(_relationships(employee))
    if own and cycle is not None and cycle.status == CycleStatus.CLOSED:
        context["department_figures"] = department_figures(
            employee, cycle, kinds_served(context["serve"])
        )
    if own:
        requests = ReviewRequest.objects.filter(rater=employee).select_related("cycle")
        context["open_requests"] = list(
            requests.filter(cycle__status=CycleStatus.OPEN).order_by("status", "provider_name")
        )
        context["past_requests"] = list(
            requests.filter(cycle__status=CycleStatus.CLOSED).order_by(
                "-cycle__deadline", "provider_name"
            )[:100]
        )
        context["replies"] = replies_for_rater(employee)
    if cycle is None or cycle.status != CycleStatus.CLOSED:
        return context
    criteria = _criteria(cycle)
    previous = previous_cycle(cycle)
    rows = Rollup.objects.filter(cycle=cycle, scope=RollupScope.PERSON, employee=employee)
    prev_rows = (
        Rollup.objects.filter(cycle=previous, scope=RollupScope.PERSON, employee=employee)
        if previous
        else Rollup.objects.none()
    )
    keyed = _keyed(rows)
    kinds = [k for k in PART_KINDS if k != RollupKind.RANK_TASK]
    # A person's figures per criterion are not published (reviews.close.suppression): per
    # type only.
    context.update(_breakdown(keyed, _keyed(prev_rows), [], kinds=kinds))
    context["per_criterion"] = False
    context["has_figures"] = ("", None) in keyed
    if own and (RollupKind.RANK_TASK, None) in keyed:
        # HR chose to show the superior's rating to the report, named, for this cycle.
        context["manager_review"] = {
            "overall": _figure(_("Overall"), keyed[(RollupKind.RANK_TASK, None)]),
            "by_criterion": [
                _figure(c.name, keyed.get((RollupKind.RANK_TASK, c.pk)))
                for c in criteria
                if (RollupKind.RANK_TASK, c.pk) in keyed
            ],
            "manager": employee.manager,
        }
    cycles = _closed_cycles_until(cycle)
    trend_rows = Rollup.objects.filter(
        cycle__in=cycles, scope=RollupScope.PERSON, employee=employee, criterion__isnull=True
    ).exclude(kind=RollupKind.RANK_TASK)
    context["trend"] = _trend(trend_rows, cycles, kinds)
    context["comments"] = standing_comments(
        comment_groups(ResultComment.objects.filter(cycle=cycle, employee=employee))
    )
    return context


def replies_for_rater(employee: Employee) -> list[CommentReply]:
    """Departments' answers to comments in cycles where this person rated that department.

    Shown to every rater of the department, so nobody learns whose comment was answered.
    """
    rated = (
        ReviewRequest.objects.filter(rater=employee, cycle__status=CycleStatus.CLOSED)
        .exclude(status=RequestStatus.PENDING)
        .exclude(provider_department__isnull=True)
        .values_list("cycle_id", "provider_department_id")
        .distinct()
    )
    condition = Q()
    for cycle_id, department_id in rated:
        condition |= Q(comment__cycle_id=cycle_id, comment__department_id=department_id)
    if not condition:
        return []
    replies = list(
        CommentReply.objects.filter(condition, comment__employee__isnull=True)
        .select_related("comment", "comment__cycle")
        .order_by("-comment__cycle__deadline", "comment__text")[:100]
    )
    names = dict(Department.objects.values_list("id", "name"))
    for reply in replies:
        reply.department_name = names.get(reply.comment.department_id, "?")
    return replies


# --- Export ---------------------------------------------------------------------------------


def _copy_row(row: Rollup) -> Rollup:
    """A shallow copy of a row read for the export, without `copy.copy`'s pickling protocol
    (a third of the full export's time at company scale)."""
    clone = Rollup.__new__(Rollup)
    clone.__dict__.update(row.__dict__)
    return clone


# Rows that can be published as they are or as an all-types copy (`is_published`): the
# export reads only these. The others, per customer and criterion, are most of a cycle's rows.
_MAY_BE_PUBLISHED = Q(criterion__isnull=True) | (
    Q(customer_department__isnull=True) & (Q(kind=RollupKind.ALL) | Q(only_type=True))
)
_MAY_BE_PUBLISHED_SUBTREE = Q(criterion__isnull=True) | Q(kind=RollupKind.ALL)


def _with_all_types_rows(rows):
    """The rows, each department's (they come ordered by scope and department) with an
    all-types copy of each `only_type` row, in the order of the stored rows."""
    order = operator.attrgetter("employee_id", "kind", "criterion_id", "customer_department_id")

    def key(row):
        return tuple(0 if v is None else v for v in order(row))

    for _department, group in itertools.groupby(
        rows, key=operator.attrgetter("scope", "department_id")
    ):
        group = list(group)
        copies = [_copy_row(row) for row in group if row.only_type]
        if not copies:
            yield from group
            continue
        for row in copies:
            row.kind = RollupKind.ALL
        yield from sorted(group + copies, key=key)


def _subtree_lines(rows):
    """Rows read with `with_subtree()`, ordered by department, type, criterion and scope: each
    department's figures with its subtree (`subtree_rows`), as subtree rows."""
    for _department, group in itertools.groupby(rows, key=operator.attrgetter("department_id")):
        for row in subtree_rows(group):
            row.scope = RollupScope.TREE  # a department-alone row standing for one
            yield row


class ExportLine(NamedTuple):
    """One published figure for a file: what it is about (`base`, as `export_headers` names
    the first columns), and either its numbers or why it is hidden (`hidden`, then `numbers`
    is empty)."""

    scope: str
    department_id: int
    base: list
    hidden: str
    numbers: list


def export_lines(cycle: Cycle, *, department_ids=None, people: bool = True):
    """The cycle's published figures as `ExportLine`s; hidden ones without their numbers but
    with why, shown ones printed as the pages print them.

    A superior's named rating of one report is left out: it is one rater's answer. Each
    all-types figure per customer has its line, also where one type's row stands for it, and
    each department's figure with its subtree, also where its department-alone row does.
    `department_ids`: only these departments' figures (a head's export); `people=False`:
    without people's figures, which only the person and HR see.
    """
    names = department_labels(cycle)  # codes and names as the cycle closed
    people_names = dict(Employee.objects.values_list("id", "name")) if people else {}
    criteria = {c.pk: c.name for c in Criterion.objects.all()}
    only = Q() if department_ids is None else Q(department_id__in=list(department_ids))
    rows = (
        Rollup.objects.filter(only, _MAY_BE_PUBLISHED, cycle=cycle)
        .exclude(scope=RollupScope.PERSON, kind=RollupKind.RANK_TASK)
        .exclude(scope=RollupScope.TREE)
        .order_by(  # "all" (NULL) first on both databases, as _with_all_types_rows sorts
            "scope",
            "department_id",
            F("employee_id").asc(nulls_first=True),
            "kind",
            F("criterion_id").asc(nulls_first=True),
            F("customer_department_id").asc(nulls_first=True),
        )
    )
    if not people:
        rows = rows.exclude(scope=RollupScope.PERSON)
    # Then the subtree figures ("tree" sorts after "person" and "self"), a department without
    # sub-departments' from its own rows.
    subtrees = (
        Rollup.objects.filter(with_subtree(), _MAY_BE_PUBLISHED_SUBTREE, only, cycle=cycle)
        .order_by("department_id", "kind", F("criterion_id").asc(nulls_first=True), "scope")
        .iterator(chunk_size=2000)
    )
    lines = itertools.chain(
        _with_all_types_rows(rows.iterator(chunk_size=2000)), _subtree_lines(subtrees)
    )
    all_criteria = _("All criteria")
    all_customers = _("All customers")
    all_but_rank = _("All types but rank")
    scope_labels = {s.value: str(s.label) for s in RollupScope}
    kind_labels = {k.value: str(k.label) for k in RollupKind}
    for row in lines:
        # Only the published shapes (an only-type row is published as its all-types copy).
        if not is_published(
            row.scope, row.kind, row.criterion_id, row.customer_department_id, only_type=False
        ):
            continue
        dept = names.get(row.department_id)
        customer = names.get(row.customer_department_id)
        base = [
            cycle.name,
            scope_labels[row.scope],
            dept[0] if dept else "",
            dept[1] if dept else "",
            people_names.get(row.employee_id, "") if row.employee_id else "",
            all_but_rank
            if row.customer_department_id and row.kind == RollupKind.ALL
            else kind_labels[row.kind],
            criteria.get(row.criterion_id, all_criteria) if row.criterion_id else all_criteria,
            (customer[1] if customer else "") if row.customer_department_id else all_customers,
        ]
        if row.suppressed:
            yield ExportLine(row.scope, row.department_id, base, hidden_label(row), [])
            continue
        distribution = shown_distribution(row)
        mean, favourable = shown_mean(row), shown_favourable(row)
        yield ExportLine(
            row.scope,
            row.department_id,
            base,
            "",
            [
                row.raters,
                mean,
                round(100 * favourable) if favourable is not None else None,
                *(distribution or [None] * 5),
                row.not_received,
            ],
        )


def export_rows(cycle: Cycle):
    """HR's export: `export_lines` as plain rows, a hidden figure's reason in the raters'
    column and its numbers empty."""
    for line in export_lines(cycle):
        if line.hidden:
            yield [*line.base, line.hidden, "", "", "", "", "", "", "", ""]
        else:
            yield [*line.base, *("" if v is None else v for v in line.numbers)]


def export_headers() -> list[str]:
    return [
        _("Cycle"),
        _("Scope"),
        _("Department code"),
        _("Department"),
        _("Person"),
        _("Type"),
        _("Criterion"),
        _("Customer department"),
        _("Raters"),
        _("Mean"),
        _("Favourable (4–5) %"),
        _("Score 1"),
        _("Score 2"),
        _("Score 3"),
        _("Score 4"),
        _("Score 5"),
        _("Did not receive"),
    ]
