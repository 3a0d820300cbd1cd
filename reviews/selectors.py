"""Reads for the reviews pages, in as few queries as each page needs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from relations.models import EdgeType

from .models import (
    Answer,
    Cadence,
    Criterion,
    Cycle,
    CycleStatus,
    CycleTemplate,
    RequestStatus,
    ReviewRequest,
    ServiceCommitment,
)


def inbox_count(user) -> int:
    """Pending requests of open cycles for the employee behind this login (one query)."""
    return ReviewRequest.objects.filter(
        rater__user=user, cycle__status=CycleStatus.OPEN, status=RequestStatus.PENDING
    ).count()


@dataclass
class ProviderGroup:
    """The requests of one rater about one provider (a person or a department)."""

    provider: str
    provider_department: str
    requests: list[ReviewRequest] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return sum(1 for r in self.requests if r.is_pending)


# The order a rater goes through their requests: the inbox's, and "next" after an answer.
INBOX_ORDER = ("provider_name", "provider_department_name", "cycle__deadline", "id")


def inbox(user) -> list[ProviderGroup]:
    """Requests of open cycles, grouped by whom they rate; pending groups first. A pending
    request with a saved draft is marked (`has_draft`)."""
    requests = list(
        ReviewRequest.objects.filter(rater__user=user, cycle__status=CycleStatus.OPEN)
        .select_related("cycle")
        .order_by(*INBOX_ORDER)
    )
    # Drafts are found by their requests' keys (answers carry no request id), in one query.
    keys = {req.answer_key(): req for req in requests if req.is_pending}
    drafts = set(Answer.objects.filter(key__in=keys, submitted=False).values_list("key", flat=True))
    for key, req in keys.items():
        req.has_draft = key in drafts
    groups: dict[tuple[str, str], ProviderGroup] = {}
    for req in requests:
        key = (req.provider_name, req.provider_department_name)
        group = groups.setdefault(key, ProviderGroup(*key))
        group.requests.append(req)
    return sorted(groups.values(), key=lambda g: (g.pending == 0, g.provider))


def pending_request_ids(user) -> list[int]:
    """The rater's pending requests of open cycles still before their deadline, in inbox
    order (one query)."""
    return list(
        ReviewRequest.objects.filter(
            rater__user=user,
            cycle__status=CycleStatus.OPEN,
            cycle__deadline__gt=timezone.now(),
            status=RequestStatus.PENDING,
        )
        .order_by(*INBOX_ORDER)
        .values_list("pk", flat=True)
    )


def hr_cycles():
    return Cycle.objects.annotate(
        total=Count("requests"),
        answered=Count("requests", filter=~Q(requests__status=RequestStatus.PENDING)),
    ).order_by("-deadline", "-id")


def _share(done: int, total: int) -> float:
    return round(100 * done / total, 1) if total else 0.0


def response_by_department(cycle: Cycle) -> list[dict]:
    """Requests, answered ones, raters and the response rate per rater department (one query).
    Counts of requests only: nothing here touches answers."""
    by_department = list(
        ReviewRequest.objects.filter(cycle=cycle)
        .values("rater_department_id", "rater_department_name")
        .annotate(
            total=Count("id"),
            answered=Count("id", filter=~Q(status=RequestStatus.PENDING)),
            raters=Count("rater_id", distinct=True),
        )
        .order_by("rater_department_name")
    )
    for row in by_department:
        row["share"] = _share(row["answered"], row["total"])
    return by_department


def cycle_progress(cycle: Cycle) -> dict:
    """Response rates overall and per rater department, and who has not answered yet.

    Names only: nothing here touches answers, so the list cannot be put next to any of them.
    """
    by_department = response_by_department(cycle)
    total = sum(r["total"] for r in by_department)
    answered = sum(r["answered"] for r in by_department)
    missing = list(
        ReviewRequest.objects.filter(cycle=cycle, status=RequestStatus.PENDING)
        .values("rater_id", "rater_name", "rater_department_name")
        .annotate(pending=Count("id"))
        .order_by("rater_department_name", "rater_name")
    )
    return {
        "total": total,
        "answered": answered,
        "share": _share(answered, total),
        "by_department": by_department,
        "missing": missing,
    }


# --- HR's home and the cycle wizard ---------------------------------------------------------


@dataclass
class OpenCycle:
    cycle: Cycle
    by_department: list[dict]
    total: int
    answered: int
    days_left: int

    @property
    def share(self) -> float:
        return _share(self.answered, self.total)


@dataclass
class NextCycle:
    """What opens next: a schedule's next run, or a draft cycle waiting to be opened."""

    name: str
    at: dt.datetime | None
    template: CycleTemplate | None = None
    draft: Cycle | None = None


def next_run(template: CycleTemplate, now: dt.datetime) -> dt.datetime | None:
    """When the schedule's periodic task fires next (None: it is off or has no crontab)."""
    task = template.periodic_task
    if task is None or not task.enabled or task.crontab is None:
        return None
    schedule = task.crontab.schedule
    return now + schedule.remaining_estimate(now)


def next_cycles(now: dt.datetime | None = None) -> list[NextCycle]:
    """Draft cycles first (they wait for HR), then every active schedule by its next run."""
    now = now or timezone.now()
    found = [
        NextCycle(name=c.name, at=c.opens_at, draft=c)
        for c in Cycle.objects.filter(status=CycleStatus.DRAFT).order_by("opens_at", "id")
    ]
    scheduled = []
    templates = CycleTemplate.objects.filter(active=True).select_related("periodic_task__crontab")
    for template in templates:
        at = next_run(template, now)
        if at is not None:
            scheduled.append(NextCycle(name=template.name, at=at, template=template))
    return found + sorted(scheduled, key=lambda n: n.at)


def hr_home(now: dt.datetime | None = None) -> dict:
    """HR's first page: the open cycles' response rates by department, what opens next, the
    last import. A fixed number of queries per open cycle (usually one or two)."""
    from relations.models import OrgImport

    now = now or timezone.now()
    open_cycles = []
    for cycle in Cycle.objects.filter(status=CycleStatus.OPEN).order_by("deadline", "id"):
        rows = response_by_department(cycle)
        open_cycles.append(
            OpenCycle(
                cycle=cycle,
                by_department=rows,
                total=sum(r["total"] for r in rows),
                answered=sum(r["answered"] for r in rows),
                days_left=max((cycle.deadline - now).days, 0),
            )
        )
    return {
        "open_cycles": open_cycles,
        "next_cycles": next_cycles(now),
        "last_import": OrgImport.objects.select_related("user").first(),
        "closed_cycle": Cycle.objects.filter(status=CycleStatus.CLOSED)
        .order_by("-closed_at", "-id")
        .first(),
    }


@dataclass
class Period:
    name: str
    start: dt.date
    end: dt.date


def calendar_period(today: dt.date, cadence: str) -> Period:
    """The calendar quarter (or month, for a monthly schedule) that `today` falls in, named
    the way people say it: "2026 年第 4 季度", "2026 年 12 月"."""
    if cadence == Cadence.MONTHLY:
        start = today.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        name = _("%(year)d-%(month)02d") % {"year": today.year, "month": today.month}
        return Period(str(name), start, end)
    quarter = (today.month - 1) // 3 + 1
    start = dt.date(today.year, 3 * quarter - 2, 1)
    end = (dt.date(today.year, 3 * quarter, 28) + dt.timedelta(days=4)).replace(
        day=1
    ) - dt.timedelta(days=1)
    name = _("%(year)d Q%(quarter)d") % {"year": today.year, "quarter": quarter}
    return Period(str(name), start, end)


def wizard_defaults(now: dt.datetime | None = None) -> dict:
    """The cycle wizard's first values: from the first active schedule (its cadence, days open,
    types, criteria, reminders, evaluators) or the calendar quarter; the types no open cycle
    asks about (opening would be refused otherwise); every active criterion."""
    from django.conf import settings

    now = now or timezone.now()
    today = timezone.localdate(now)
    template = (
        CycleTemplate.objects.filter(active=True)
        .prefetch_related("criteria")
        .order_by("pk")
        .first()
    )
    period = calendar_period(today, template.cadence if template else Cadence.QUARTERLY)
    open_days = template.open_days if template else 14
    busy: set[str] = set()
    for cycle in Cycle.objects.filter(status=CycleStatus.OPEN, deadline__gt=now):
        busy |= cycle.asked_types()
    types = list(template.edge_types) if template else list(EdgeType.values)
    free = [t for t in types if t not in busy]
    criteria = list(template.criteria.all()) if template else []
    deadline_day = today + dt.timedelta(days=open_days)
    deadline = timezone.make_aware(dt.datetime.combine(deadline_day, dt.time(18, 0)))
    offsets = list(template.reminder_offsets) if template else [3, 1]
    return {
        "name": period.name,
        "period_start": period.start,
        "period_end": period.end,
        "deadline": deadline,
        "edge_types": free or types,
        "criteria": criteria or list(Criterion.objects.active()),
        "reminders": ",".join(str(o) for o in sorted(offsets, reverse=True)),
        "member_limit": template.member_limit if template else None,
        "request_cap": settings.ICR_REQUEST_CAP,
        "template": template,
    }


def edge_commitments(edge_id: int) -> list[ServiceCommitment]:
    """The active commitments of one relationship, with their criteria (one query)."""
    return list(
        ServiceCommitment.objects.active().filter(edge_id=edge_id).select_related("criterion")
    )


def edges_with_commitments(edges) -> list:
    """The relationships of `edges` with their ends and all their commitments (two queries)."""
    return list(
        edges.with_ends()
        .select_related("provider_employee__department", "customer_employee__department")
        .prefetch_related(
            Prefetch(
                "commitments",
                queryset=ServiceCommitment.objects.select_related("criterion").order_by(
                    "-active", "id"
                ),
            )
        )
        .order_by("provider_department__code", "type", "id")
    )
