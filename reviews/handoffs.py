"""Hand-off ratings: accepting hand-offs other systems report, and turning them into requests.

A hand-off is accepted as one insert (`record_handoff`): its client key makes a retry return
the first one. `process_pending`, run in batches by a task, looks its names up, finds the
relationship (a process edge for a step, a workflow edge for a workflow) from the provider to
the receiving person (or a department they stand for), samples it by the type's
`HandoffPolicy`, and writes the request into the current period's hand-off cycle
(`Cycle.kind` handoffs) with its spacing interval: the unique constraints on requests (one per
rater and relationship per period cycle, and per spacing interval) keep concurrent batches from
asking twice. Each new request gets a log row for its own e-mail, sent by the existing batch
task once `services.process_handoffs` (which runs the batches) has them committed. A period's
cycle closes after its deadline like any cycle (`services.sweep`), so its
figures go through the same rollups and suppression.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from relations.models import Department, Edge, EdgeType, Employee, Workflow, WorkflowStep

from .migrations_defaults import ensure_default_criteria
from .models import (
    Criterion,
    Cycle,
    CycleEvent,
    CycleEventKind,
    CycleKind,
    CycleStatus,
    Handoff,
    HandoffOutcome,
    HandoffPolicy,
    NotificationKind,
    NotificationLog,
    NotificationStatus,
    RequestStatus,
    ReviewRequest,
)

HANDOFF_FIELDS = (
    "step_id",
    "workflow_code",
    "provider_employee",
    "provider_department",
    "receiver",
    "external_ref",
    "at",
)
DEFAULT_POLICY = HandoffPolicy(probability=1.0, spacing_days=7)


@dataclass
class Recorded:
    id: int
    created: bool
    same: bool  # False: the key was used before for a different hand-off


def record_handoff(
    *, source_id: int, client_key: str, compare_at: bool = True, **values
) -> Recorded:
    """Accept a hand-off: one insert; the same key again returns the first one (`created`
    False) and says whether it described the same hand-off (its time too unless
    `compare_at` is False: the sender left it to the time of receipt)."""
    values = {name: values.get(name) for name in HANDOFF_FIELDS}
    for name in ("workflow_code", "provider_employee", "provider_department", "external_ref"):
        values[name] = values[name] or ""
    q = connection.ops.quote_name
    table = q(Handoff._meta.db_table)
    columns = ["source_id", "client_key", *HANDOFF_FIELDS, "received_at", "outcome"]
    params = [
        source_id,
        client_key,
        *(values[n] for n in HANDOFF_FIELDS[:-1]),
        connection.ops.adapt_datetimefield_value(values["at"]),
        connection.ops.adapt_datetimefield_value(timezone.now()),
        HandoffOutcome.PENDING,
    ]
    sql = (
        f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        "ON CONFLICT (source_id, client_key) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is not None:
        return Recorded(row[0], True, True)
    first = Handoff.objects.filter(source_id=source_id, client_key=client_key).first()
    compared = HANDOFF_FIELDS if compare_at else HANDOFF_FIELDS[:-1]
    same = all(getattr(first, n) == values[n] for n in compared)
    return Recorded(first.pk, False, same)


# --- Periods --------------------------------------------------------------------------------


def period_bounds(day: dt.date, period: str | None = None) -> tuple[dt.date, dt.date]:
    """The week (Monday to Sunday) or month holding `day` (settings.ICR_HANDOFF_PERIOD)."""
    period = period or settings.ICR_HANDOFF_PERIOD
    if period == "month":
        start = day.replace(day=1)
        following = (start + dt.timedelta(days=32)).replace(day=1)
        return start, following - dt.timedelta(days=1)
    start = day - dt.timedelta(days=day.weekday())
    return start, start + dt.timedelta(days=6)


def period_cycle(now: dt.datetime) -> Cycle:
    """The open hand-off cycle of the period holding `now`, opened if this is its first
    hand-off. Its deadline leaves raters ICR_HANDOFF_ANSWER_DAYS after the period's end."""
    start, end = period_bounds(timezone.localdate(now))
    found = Cycle.objects.handoff_periods().filter(period_start=start).first()
    if found is not None:
        return found
    end_of_period = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    deadline = end_of_period + dt.timedelta(days=settings.ICR_HANDOFF_ANSWER_DAYS)
    cycle = Cycle(
        name=_("Hand-offs %(start)s – %(end)s") % {"start": start, "end": end},
        kind=CycleKind.HANDOFFS,
        period_start=start,
        period_end=end,
        opens_at=now,
        opened_at=now,
        deadline=deadline,
        edge_types=[EdgeType.PROCESS, EdgeType.WORKFLOW],
        reminder_offsets=[],
        status=CycleStatus.OPEN,
    )
    try:
        with transaction.atomic():
            cycle.save()
            if not Criterion.objects.exists():
                ensure_default_criteria()
            cycle.criteria.set(Criterion.objects.active())
            CycleEvent.objects.create(cycle=cycle, kind=CycleEventKind.OPENED, at=now)
    except IntegrityError:
        # Another batch opened the period meanwhile (reviews_cycle_one_handoff_period).
        return Cycle.objects.handoff_periods().get(period_start=start)
    return cycle


# --- Processing -----------------------------------------------------------------------------


def sampled(handoff_id: int, probability: float) -> bool:
    """Whether to ask about this hand-off: a draw fixed by its id and the server secret, so
    processing it again decides the same."""
    if probability >= 1:
        return True
    if probability <= 0:
        return False
    secret = (settings.ICR_ANSWER_KEY_SECRET or settings.SECRET_KEY).encode()
    digest = hmac.new(secret, f"reviews.handoff:{handoff_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < probability


REQUEST_COLUMNS = (
    "cycle_id",
    "edge_id",
    "rater_id",
    "rater_name",
    "rater_department_id",
    "rater_department_name",
    "edge_type",
    "rank_kind",
    "service",
    "provider_employee_id",
    "provider_name",
    "provider_department_id",
    "provider_department_name",
    "customer_name",
    "customer_department_id",
    "customer_department_name",
    "status",
    "created_at",
    "spacing_bucket",
)


@dataclass
class Batch:
    counts: dict[str, int]  # hand-offs per outcome
    notify_cycle_id: int | None = None  # the period cycle whose new log rows wait to be sent


def process_pending(*, limit: int = 5000, now: dt.datetime | None = None) -> Batch:
    """Turn up to `limit` pending hand-offs into rating requests, with a log row each for its
    e-mail (the caller dispatches them: `services.process_handoffs`).

    A fixed number of queries per batch. Batches running side by side take different rows
    (SKIP LOCKED on PostgreSQL; SQLite runs one writer at a time).
    """
    now = now or timezone.now()
    counts = {o: 0 for o in HandoffOutcome.values if o != HandoffOutcome.PENDING}
    with transaction.atomic():
        pending = Handoff.objects.filter(outcome=HandoffOutcome.PENDING).order_by("id")
        if connection.vendor == "postgresql":
            pending = pending.select_for_update(skip_locked=True)
        handoffs = list(pending[:limit])
        if not handoffs:
            return Batch(counts)
        outcome: dict[int, str] = {}
        wanted = _resolve(handoffs, outcome)
        policies = {p.edge_type: p for p in HandoffPolicy.objects.all()}
        rows, asks = [], []
        cycle = None
        for handoff, edge, rater in wanted:
            policy = policies.get(edge["type"], DEFAULT_POLICY)
            if not sampled(handoff.pk, policy.probability):
                outcome[handoff.pk] = HandoffOutcome.NOT_SAMPLED
                continue
            cycle = cycle or period_cycle(now)
            rows.append(_request_row(cycle.pk, edge, rater, policy.bucket(now), now))
            asks.append((handoff.pk, edge["id"], rater["id"]))
        created = _insert_requests(rows)
        request_of: dict[int, int] = {}
        for handoff_id, edge_id, rater_id in asks:
            request_id = created.pop((edge_id, rater_id), None)
            if request_id is None:
                outcome[handoff_id] = HandoffOutcome.SPACED
            else:
                outcome[handoff_id] = HandoffOutcome.ASKED
                request_of[handoff_id] = request_id
        for handoff in handoffs:
            handoff.outcome = outcome[handoff.pk]
            handoff.request_id = request_of.get(handoff.pk)
            counts[handoff.outcome] += 1
        Handoff.objects.bulk_update(handoffs, ["outcome", "request_id"], batch_size=500)
        if request_of:
            NotificationLog.objects.bulk_create(
                [
                    NotificationLog(
                        cycle_id=cycle.pk,
                        rater_id=rater_id,
                        kind=NotificationKind.HANDOFF,
                        offset=request_of[handoff_id],
                        status=NotificationStatus.PENDING,
                        created_at=now,
                    )
                    for handoff_id, _edge_id, rater_id in asks
                    if handoff_id in request_of
                ],
                ignore_conflicts=True,
            )
    return Batch(counts, cycle.pk if request_of else None)


def _resolve(handoffs: list[Handoff], outcome: dict[int, str]) -> list[tuple]:
    """(hand-off, edge, rater) for each hand-off whose relationship was found; the others get
    their outcome. Five queries for the batch."""
    emp_ids = {h.receiver for h in handoffs} | {h.provider_employee for h in handoffs}
    people = {
        e["employee_id"]: e
        for e in Employee.objects.filter(employee_id__in=emp_ids - {""}).values(
            "id", "employee_id", "name", "department_id", "department__name", "active"
        )
    }
    codes = {h.provider_department for h in handoffs} - {""}
    departments = dict(Department.objects.filter(code__in=codes).values_list("code", "id"))
    steps = {
        s["id"]: s
        for s in WorkflowStep.objects.filter(
            id__in={h.step_id for h in handoffs if h.step_id}
        ).values("id", "workflow_id")
    }
    workflows = dict(
        Workflow.objects.filter(code__in={h.workflow_code for h in handoffs} - {""}).values_list(
            "code", "id"
        )
    )
    headed: dict[int, list[int]] = {}
    for dept_id, head_id in (
        Department.objects.active()
        .filter(head_id__in=[p["id"] for p in people.values()])
        .values_list("id", "head_id")
    ):
        headed.setdefault(head_id, []).append(dept_id)

    provider_people = {
        people[h.provider_employee]["id"] for h in handoffs if h.provider_employee in people
    }
    provider_departments = {
        departments[h.provider_department] for h in handoffs if h.provider_department in departments
    }
    edges = list(
        Edge.objects.active()
        .filter(type__in=[EdgeType.PROCESS, EdgeType.WORKFLOW])
        .filter(
            Q(provider_employee_id__in=provider_people)
            | Q(provider_department_id__in=provider_departments)
        )
        .values(
            "id",
            "type",
            "rank_kind",
            "service",
            "pair__workflow_id",
            "provider_employee_id",
            "provider_employee__name",
            "provider_employee__department_id",
            "provider_employee__department__name",
            "provider_department_id",
            "provider_department__name",
            "customer_employee_id",
            "customer_employee__name",
            "customer_employee__department_id",
            "customer_employee__department__name",
            "customer_department_id",
            "customer_department__name",
        )
    )
    by_provider: dict[tuple, list[dict]] = {}
    for edge in edges:
        end = (
            ("e", edge["provider_employee_id"])
            if edge["provider_employee_id"]
            else ("d", edge["provider_department_id"])
        )
        by_provider.setdefault(end, []).append(edge)

    found = []
    for h in handoffs:
        rater = people.get(h.receiver)
        if h.provider_employee:
            provider = people.get(h.provider_employee)
            end = ("e", provider["id"]) if provider else None
        else:
            dept_id = departments.get(h.provider_department)
            end = ("d", dept_id) if dept_id else None
        step = steps.get(h.step_id) if h.step_id else None
        workflow_id = workflows.get(h.workflow_code) if h.workflow_code else None
        if (
            rater is None
            or not rater["active"]
            or end is None
            or (h.step_id and step is None)
            or (h.workflow_code and workflow_id is None)
        ):
            outcome[h.pk] = HandoffOutcome.UNKNOWN
            continue
        edge = _edge_for(by_provider.get(end, []), rater, headed, step, workflow_id)
        if edge is None:
            outcome[h.pk] = HandoffOutcome.NO_RELATIONSHIP
            continue
        found.append((h, edge, rater))
    return found


def _edge_for(edges, rater, headed, step, workflow_id) -> dict | None:
    """The relationship the hand-off ran along: at a step, a process edge of the step's
    workflow; in a workflow, a workflow edge; to the receiving person, else to a department
    they stand for (`relations.membership`). None if the receiver provides it themselves."""
    stands_for = {rater["department_id"], *headed.get(rater["id"], [])}
    wanted_type = EdgeType.PROCESS if step else EdgeType.WORKFLOW
    best = None
    for edge in edges:
        if edge["type"] != wanted_type:
            continue
        if step and edge["pair__workflow_id"] not in (None, step["workflow_id"]):
            continue
        if edge["provider_employee_id"] == rater["id"]:
            continue
        provider_department = (
            edge["provider_department_id"] or edge["provider_employee__department_id"]
        )
        if edge["provider_department_id"] and provider_department == rater["department_id"]:
            continue
        if edge["customer_employee_id"] == rater["id"]:
            return edge
        if edge["customer_department_id"] in stands_for and best is None:
            best = edge
    return best


def _request_row(cycle_id: int, edge: dict, rater: dict, bucket: int, now) -> list:
    person_provider = edge["provider_employee_id"] is not None
    person_customer = edge["customer_employee_id"] is not None
    return [
        cycle_id,
        edge["id"],
        rater["id"],
        rater["name"],
        rater["department_id"],
        rater["department__name"],
        edge["type"],
        edge["rank_kind"],
        edge["service"],
        edge["provider_employee_id"],
        edge["provider_employee__name"] if person_provider else edge["provider_department__name"],
        edge["provider_employee__department_id"]
        if person_provider
        else edge["provider_department_id"],
        edge["provider_employee__department__name"]
        if person_provider
        else edge["provider_department__name"],
        edge["customer_employee__name"] if person_customer else edge["customer_department__name"],
        edge["customer_employee__department_id"]
        if person_customer
        else edge["customer_department_id"],
        edge["customer_employee__department__name"]
        if person_customer
        else edge["customer_department__name"],
        RequestStatus.PENDING,
        connection.ops.adapt_datetimefield_value(now),
        bucket,
    ]


def _insert_requests(rows: list[list]) -> dict[tuple[int, int], int]:
    """Insert the requests, skipping any that a unique constraint refuses (the same rater and
    relationship in this period or spacing interval); returns {(edge, rater): id} of those
    written. Of two rows for the same pair in one batch the second is skipped."""
    if not rows:
        return {}
    q = connection.ops.quote_name
    table = q(ReviewRequest._meta.db_table)
    created: dict[tuple[int, int], int] = {}
    marks = "(" + ", ".join(["%s"] * len(REQUEST_COLUMNS)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            seen: set[tuple[int, int]] = set()
            unique = []
            for row in chunk:
                if (row[1], row[2]) not in seen and (row[1], row[2]) not in created:
                    seen.add((row[1], row[2]))
                    unique.append(row)
            if not unique:
                continue
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(q(c) for c in REQUEST_COLUMNS)}) "  # noqa: S608
                f"VALUES {', '.join([marks] * len(unique))} "
                "ON CONFLICT DO NOTHING RETURNING id, edge_id, rater_id",
                [v for row in unique for v in row],
            )
            for request_id, edge_id, rater_id in cursor.fetchall():
                created[(edge_id, rater_id)] = request_id
    return created
