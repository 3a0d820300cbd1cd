"""Reads for the reviews pages, in as few queries as each page needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from .models import Answer, Cycle, CycleStatus, RequestStatus, ReviewRequest, ServiceCommitment


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


def cycle_progress(cycle: Cycle) -> dict:
    """Response rates overall and per rater department, and who has not answered yet.

    Names only: nothing here touches answers, so the list cannot be put next to any of them.
    """
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
