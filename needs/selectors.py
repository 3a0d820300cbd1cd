"""Reads for the needs pages and HR's review lists; what rater text and figures they show goes
through the same rules as the results pages (`reviews.results`, docs/disclosure.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, F, Q
from django.utils import timezone

from relations.membership import departments_represented_by
from relations.models import Department, Edge, Employee, subtree_ids
from reviews.close.suppression import is_published
from reviews.models import Answer, Cycle, CycleStatus, RequestStatus, ReviewRequest
from reviews.results import Figure, _figure
from reviews.rollup_models import Rollup, RollupScope, cells_of_kind

from .models import Need, NeedStatus


def receivable_edges(employee: Employee):
    """The active relationships this person receives (themselves or through a department they
    stand for): what they may raise a need about."""
    departments = departments_represented_by(employee)
    return (
        Edge.objects.active()
        .filter(Q(customer_employee=employee) | Q(customer_department__in=departments))
        .select_related(
            "provider_department",
            "provider_employee__department",
            "customer_department",
            "customer_employee",
        )
        .order_by("type", "rank_kind", "id")
    )


def my_needs(employee: Employee) -> list[Need]:
    """The threads this person raised: named ones by their id, anonymous ones recognised by
    their key among the threads of the customer departments they stand for."""
    departments = departments_represented_by(employee)
    candidates = (
        Need.objects.filter(
            Q(raiser=employee) | Q(named=False, customer_department__in=departments)
        )
        .select_related("provider_department", "provider_employee", "customer_department")
        .order_by("-raised_on", "text")
    )
    return [need for need in candidates if need.is_raised_by(employee)]


def department_needs(department: Department, *, limit: int = 200) -> list[Need]:
    """Threads about the service of this department and its sub-departments; named ones show
    their raiser, anonymous ones only the customer department and the type."""
    ids = subtree_ids([department.pk])[department.pk]
    return list(
        Need.objects.about_departments(ids)
        .select_related("provider_department", "provider_employee", "customer_department", "raiser")
        .order_by(
            # Waiting for the provider first.
            F("answered_on").asc(nulls_first=True),
            "-raised_on",
            "text",
        )[:limit]
    )


# --- The group's figure beside a thread ----------------------------------------------------


def _published(row: Rollup | None) -> Rollup | None:
    if row is None:
        return None
    if not is_published(
        row.scope, row.kind, row.criterion_id, row.customer_department_id, row.only_type
    ):
        return None
    return row


def group_rows(needs: list[Need], cycle_ids: set[int]) -> dict[tuple, Rollup]:
    """The published figures of the needs' groups in these cycles, in two queries whatever the
    number of threads: for a department provider, its figure for the customer department (the
    matrix cell, all types but rank); for a person, their overall figure. Keyed (cycle id,
    "person", employee id) and (cycle id, "department", provider id, customer id)."""
    out: dict[tuple, Rollup] = {}
    if not cycle_ids:
        return out
    rows = Rollup.objects.filter(cycle_id__in=cycle_ids, criterion__isnull=True)
    people = {n.provider_employee_id for n in needs if n.provider_employee_id is not None}
    if people:
        for row in rows.filter(
            scope=RollupScope.PERSON,
            employee_id__in=people,
            kind="",
            customer_department__isnull=True,
        ):
            if _published(row):
                out[(row.cycle_id, "person", row.employee_id)] = row
    pairs = [n for n in needs if n.provider_employee_id is None]
    if pairs:
        # The all-types cell, or the one type's row that stands for it (`only_type`).
        for row in rows.filter(
            cells_of_kind(""),
            scope=RollupScope.SELF,
            department_id__in={n.provider_department_id for n in pairs},
            customer_department_id__in={n.customer_department_id for n in pairs},
        ).order_by("-kind"):
            if _published(row):
                out[(row.cycle_id, "department", row.department_id, row.customer_department_id)] = (
                    row
                )
    return out


def _group_key(need: Need, cycle_id: int) -> tuple:
    if need.provider_employee_id is not None:
        return (cycle_id, "person", need.provider_employee_id)
    return (cycle_id, "department", need.provider_department_id, need.customer_department_id)


def may_see_group_figure(need: Need, *, is_hr: bool, employee_id: int | None) -> bool:
    """Whether a viewer of the thread (its raiser, or someone who sees the provider department's
    results) may see its group's figure beside it: a department's figure for the customer
    department, yes (the raiser is one of that group's customers, and it is the matrix cell
    heads see); a person's figure only to HR and the person, as on the results pages."""
    if need.provider_employee_id is None:
        return True
    return is_hr or employee_id == need.provider_employee_id


@dataclass
class ThreadFigures:
    before_cycle: Cycle | None = None
    before: Figure | None = None
    next_cycle: Cycle | None = None
    next: Figure | None = None
    shown: bool = False


def thread_figures(needs: list[Need], *, may_see) -> dict:
    """For each thread: the group's figure in the last closed cycle before it was raised and in
    the first that opened after it (the next cycle), printed as the results pages print them;
    hidden figures show why, never their numbers. `may_see(need)` says whether the viewer may
    see that group's figure at all. A fixed number of queries for any number of threads."""
    closed = list(Cycle.objects.filter(status=CycleStatus.CLOSED).order_by("opens_at", "id"))
    chosen: dict = {}
    for need in needs:
        figures = ThreadFigures()
        if may_see(need) and closed:
            figures.shown = True
            before = [c for c in closed if timezone.localdate(c.deadline) <= need.raised_on]
            after = [c for c in closed if timezone.localdate(c.opens_at) > need.raised_on]
            figures.before_cycle = before[-1] if before else None
            figures.next_cycle = after[0] if after else None
        chosen[need.pk] = figures
    cycle_ids = {
        c.pk for f in chosen.values() for c in (f.before_cycle, f.next_cycle) if c is not None
    }
    rows = group_rows([n for n in needs if chosen[n.pk].shown], cycle_ids)
    for need in needs:
        figures = chosen[need.pk]
        if figures.before_cycle is not None:
            figures.before = _figure("", rows.get(_group_key(need, figures.before_cycle.pk)))
        if figures.next_cycle is not None:
            figures.next = _figure("", rows.get(_group_key(need, figures.next_cycle.pk)))
    return chosen


# --- Counts and response times on the department page --------------------------------------


@dataclass
class CountRow:
    label: str
    raised: int = 0
    answered: int = 0
    resolved: int = 0
    unresolved: int = 0
    waiting: int = 0
    days_sum: float = 0.0
    shown: bool = True
    pooled: list[str] = field(default_factory=list)

    @property
    def mean_days(self) -> float | None:
        if not self.shown or self.answered < settings.ICR_MIN_RATERS:
            return None
        return round(self.days_sum / self.answered, 1)

    def add(self, other: CountRow) -> None:
        for name in ("raised", "answered", "resolved", "unresolved", "waiting", "days_sum"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def department_counts(department: Department, *, tree_ids: list[int] | None = None) -> dict:
    """Needs and complaints about this department and its sub-departments, per customer
    department and in total, with the mean days to a first answer.

    The figures' rule: a count of fewer than N threads is not shown. Customer departments
    under N are pooled ("other customer departments"); a pool still under N takes the smallest
    shown rows until it holds N, so no hidden count follows from the total minus the shown
    rows; a total under N is not shown either, nor then any row (docs/disclosure.md, "Between
    cycles"). `tree_ids`: the department's subtree when the caller has read it.
    """
    n = settings.ICR_MIN_RATERS
    ids = tree_ids if tree_ids is not None else subtree_ids([department.pk])[department.pk]
    # One row per thread, two dates and a status: summed here, the same on both databases.
    by_customer: dict[int, CountRow] = {}
    for customer_id, status, raised_on, answered_on in (
        Need.objects.about_departments(ids)
        .order_by()
        .values_list("customer_department_id", "status", "raised_on", "answered_on")
    ):
        row = by_customer.setdefault(customer_id, CountRow(label=""))
        row.raised += 1
        if answered_on is not None:
            row.answered += 1
            row.days_sum += (answered_on - raised_on).days
        row.resolved += status == NeedStatus.RESOLVED
        row.unresolved += status == NeedStatus.UNRESOLVED
        row.waiting += status in (NeedStatus.OPEN, NeedStatus.UNRESOLVED)
    names = dict(Department.objects.filter(id__in=by_customer).values_list("id", "name"))
    parts = []
    for customer_id, row in by_customer.items():
        row.label = names.get(customer_id, "?")
        parts.append(row)
    total = CountRow(label="")
    for row in parts:
        total.add(row)
    total.shown = total.raised >= n
    shown = sorted((r for r in parts if r.raised >= n), key=lambda r: (r.raised, r.label))
    pool = CountRow(label="")
    for row in parts:
        if row.raised < n:
            pool.add(row)
            pool.pooled.append(row.label)
    while pool.pooled and pool.raised < n and shown:
        smallest = shown.pop(0)
        pool.add(smallest)
        pool.pooled.append(smallest.label)
    pool.shown = pool.raised >= n
    shown.sort(key=lambda r: r.label)
    if not total.shown:  # nothing to break down
        shown, pool = [], CountRow(label="")
    return {
        "total": total,
        "by_customer": shown,
        "pool": pool if pool.pooled else None,
        "any": bool(parts),
        "min_count": n,
    }


# --- HR's review: relationships raters did not receive -------------------------------------


@dataclass
class NotReceivedGroup:
    cycle: Cycle
    type_label: str
    provider: str
    provider_department: str
    customer_department: str
    asked: int
    declined: int
    edge_ids: list[int]
    reasons: list[str] | None  # None: fewer than M wrote reasons' group; not shown

    @property
    def percent(self) -> int:
        return round(100 * self.declined / self.asked) if self.asked else 0


_GROUP = (
    "edge_type",
    "rank_kind",
    "provider_employee_id",
    "provider_department_id",
    "customer_department_id",
)


def not_received_groups(cycle: Cycle, *, min_declined: int | None = None) -> list:
    """The relationship groups of a closed cycle that at least `min_declined` raters said they
    did not receive, most declined first, with the reasons given.

    HR already sees who declined (request status); the reasons are rater text and come from
    the answers, which name no rater: they are shown only for a group where at least M raters
    (settings.ICR_MIN_COMMENT_RATERS, the comments' minimum) said they did not receive it, in
    text order, so no reason can be pinned on one of the decliners HR knows.
    """
    if cycle.status != CycleStatus.CLOSED:
        return []
    min_declined = min_declined or settings.ICR_NOT_RECEIVED_MIN_RATERS
    m = settings.ICR_MIN_COMMENT_RATERS
    requests = ReviewRequest.objects.filter(cycle=cycle).order_by()
    groups = list(
        requests.values(*_GROUP)
        .annotate(
            asked=Count("id"),
            declined=Count("id", filter=Q(status=RequestStatus.DECLINED)),
        )
        .filter(declined__gte=min_declined)
    )
    if not groups:
        return []
    keys = {tuple(g[k] for k in _GROUP) for g in groups}
    condition = Q()
    for key in keys:
        condition |= Q(**dict(zip(_GROUP, key, strict=True)))
    edges: dict[tuple, set[int]] = {}
    labels: dict[tuple, tuple[str, str, str]] = {}
    for row in (
        requests.filter(condition, status=RequestStatus.DECLINED)
        .values_list(
            *_GROUP,
            "edge_id",
            "provider_name",
            "provider_department_name",
            "customer_department_name",
        )
        .distinct()
    ):
        key = tuple(row[: len(_GROUP)])
        edges.setdefault(key, set()).add(row[len(_GROUP)])
        labels[key] = tuple(row[len(_GROUP) + 1 :])
    answer_group = (
        "edge_type",
        "rank_kind",
        "provider_employee_id",
        "provider_department_id",
        "customer_department_id",
    )
    reasons: dict[tuple, list[str]] = {}
    writers: dict[tuple, int] = {}
    answers = Answer.objects.filter(condition, cycle=cycle, submitted=True, not_received=True)
    for row in answers.values_list(*answer_group, "reason"):
        key = tuple(row[:-1])
        writers[key] = writers.get(key, 0) + 1
        if row[-1]:
            reasons.setdefault(key, []).append(row[-1])
    out = []
    for g in groups:
        key = tuple(g[k] for k in _GROUP)
        provider, provider_department, customer_department = labels.get(key, ("?", "?", "?"))
        probe = ReviewRequest(edge_type=g["edge_type"], rank_kind=g["rank_kind"])
        out.append(
            NotReceivedGroup(
                cycle=cycle,
                type_label=probe.type_label(),
                provider=provider,
                provider_department=provider_department,
                customer_department=customer_department,
                asked=g["asked"],
                declined=g["declined"],
                edge_ids=sorted(edges.get(key, ())),
                reasons=sorted(reasons.get(key, [])) if writers.get(key, 0) >= m else None,
            )
        )
    out.sort(key=lambda g: (-g.declined, -g.percent, g.provider, g.customer_department))
    return out
