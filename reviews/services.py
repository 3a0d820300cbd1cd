"""Operations on evaluation cycles: create, open, answer, remind, close.

Opening is set-based: one `INSERT … SELECT … ON CONFLICT DO NOTHING` writes every request of a
cycle, so the number of queries does not depend on the number of edges, and opening again (or a
retried task) creates nothing twice: the unique constraint on (cycle, edge, rater) holds it.
The SQL is plain enough for both PostgreSQL and SQLite (window functions, UPSERT).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from icr import history
from icr.db import analyze_tables, execute_prepared
from relations.models import Department, Edge, EdgeType, Employee

from . import channels, handoffs
from .close import SideQueries, compute_rollups
from .emails import absolute_url
from .fair_load import Candidate, choose, group_of, groups_reaching
from .migrations_defaults import ensure_default_criteria
from .models import (
    CLICKED_REMINDER_KINDS,
    REMINDER_KINDS,
    Answer,
    AnswerScore,
    Channel,
    Criterion,
    Cycle,
    CycleEvent,
    CycleEventKind,
    CycleKind,
    CycleStatus,
    CycleTemplate,
    DepartmentEvaluator,
    MessagingSettings,
    NotificationKind,
    NotificationLog,
    NotificationStatus,
    RequestStatus,
    ReviewRequest,
    ServiceCommitment,
    answer_key,
    reminder_gap,
)

logger = logging.getLogger(__name__)

# Sent inside the closing transaction, so a receiver's writes (rollups) commit with the close.


class ReviewError(Exception):
    """An operation on a cycle or an answer is not allowed; the message is translatable."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


@dataclass
class CycleSummary:
    cycle: Cycle
    requests: dict[str, int]
    raters: int
    answered: int
    created: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def answered_share(self) -> float:
        return round(self.answered / self.total, 4) if self.total else 0.0

    def as_dict(self) -> dict:
        """The shape the management commands print: keys cycle, requests, raters."""
        return {
            "cycle": {
                "id": self.cycle.pk,
                "name": self.cycle.name,
                "status": self.cycle.status,
                "deadline": self.cycle.deadline.isoformat(),
                "created": self.created,
                "total": self.total,
                "answered": self.answered,
                "answered_share": self.answered_share,
                **self.extra,
            },
            "requests": dict(self.requests),
            "raters": self.raters,
        }


def _summary_queries(cycle: Cycle, *, raters: bool = True) -> list[tuple[str, list]]:
    """Requests and answered ones by type, and (unless known) distinct raters: plain SQL."""
    request_t = connection.ops.quote_name(ReviewRequest._meta.db_table)
    queries = [
        (
            "SELECT edge_type, COUNT(*), SUM(CASE WHEN status <> %s THEN 1 ELSE 0 END) "  # noqa: S608
            f"FROM {request_t} WHERE cycle_id = %s GROUP BY edge_type",
            [RequestStatus.PENDING.value, cycle.pk],
        )
    ]
    if raters:
        # Counted over a DISTINCT subquery, which PostgreSQL runs in parallel workers, where
        # COUNT(DISTINCT …) sorts a million rows in one process (make bench: 0.08 s, not 0.2).
        queries.append(
            (
                "SELECT COUNT(*) FROM (SELECT DISTINCT rater_id "  # noqa: S608
                f"FROM {request_t} WHERE cycle_id = %s) r",
                [cycle.pk],
            )
        )
    return queries


def _summary_from(
    cycle: Cycle, results: list[list[tuple]], *, created: int = 0, raters: int | None = None
) -> CycleSummary:
    by_type = {t: 0 for t in EdgeType.values}
    answered = 0
    for edge_type, count, done in results[0]:
        by_type[edge_type] = count
        answered += done or 0
    if raters is None:
        raters = results[1][0][0]
    return CycleSummary(
        cycle=cycle, requests=by_type, raters=raters, answered=answered, created=created
    )


def cycle_summary(cycle: Cycle, *, created: int = 0, raters: int | None = None) -> CycleSummary:
    """Requests by relationship type, distinct raters (unless known) and answers (two queries)."""
    side = SideQueries(_summary_queries(cycle, raters=raters is None))
    return _summary_from(cycle, side.ensure_run(), created=created, raters=raters)


# --- Creating cycles ------------------------------------------------------------------------


def create_cycle(
    *,
    name: str,
    deadline: dt.datetime,
    opens_at: dt.datetime | None = None,
    period_start: dt.date | None = None,
    period_end: dt.date | None = None,
    edge_types: list[str] | None = None,
    criteria: list[Criterion] | None = None,
    reminder_offsets: list[int] | None = None,
    member_limit: int | None = None,
    template: CycleTemplate | None = None,
    scheduled_for: dt.date | None = None,
    request_cap: int | type[Ellipsis] | None = ...,
) -> Cycle:
    """A draft cycle; criteria default to every active criterion, the cap on requests per
    person to the ICR_REQUEST_CAP setting (None: no cap)."""
    opens_at = opens_at or timezone.now()
    if deadline <= opens_at:
        raise ReviewError(_("The deadline must be after the opening time."))
    types = list(edge_types) if edge_types else list(EdgeType.values)
    unknown = set(types) - set(EdgeType.values)
    if unknown:
        raise ReviewError(_("Unknown relationship type."))
    local_open = timezone.localdate(opens_at)
    cycle = Cycle(
        name=name,
        deadline=deadline,
        opens_at=opens_at,
        period_start=period_start or local_open - dt.timedelta(days=90),
        period_end=period_end or local_open,
        edge_types=types,
        member_limit=member_limit,
        template=template,
        scheduled_for=scheduled_for,
        request_cap=settings.ICR_REQUEST_CAP if request_cap is ... else request_cap,
    )
    if reminder_offsets is not None:
        cycle.reminder_offsets = sorted({int(o) for o in reminder_offsets}, reverse=True)
    with transaction.atomic():
        cycle.full_clean(exclude=["criteria"])
        cycle.save()
        if criteria is None and not Criterion.objects.exists():
            # A cycle needs something to rate: with no criteria at all (a fresh table, or
            # every one deleted), the four defaults of migration 0002 come back.
            ensure_default_criteria()
        cycle.criteria.set(criteria if criteria is not None else Criterion.objects.active())
    return cycle


REQUEST_COLUMNS = """
    cycle_id, edge_id, rater_id, rater_name, rater_department_id, rater_department_name,
    edge_type, rank_kind, service,
    provider_employee_id, provider_name, provider_department_id, provider_department_name,
    customer_name, customer_department_id, customer_department_name,
    status, created_at
"""


def _request_insert_sql(cycle: Cycle, now: dt.datetime, *, first: bool) -> tuple[str, list]:
    """INSERT … SELECT of every request of the cycle; one statement, both databases.

    `first`: the cycle has no request yet, so a plain INSERT (the unique constraint still
    refuses a duplicate); topping up an open cycle skips the rows it already has with
    ON CONFLICT DO NOTHING, which costs a speculative insertion per row.
    """
    select_sql, params = request_select_sql(cycle, now)
    request_t = connection.ops.quote_name(ReviewRequest._meta.db_table)
    conflict = "" if first else "ON CONFLICT (cycle_id, edge_id, rater_id) DO NOTHING"
    # The CTE sits inside the INSERT so the driver reports the inserted row count.
    sql = f"INSERT INTO {request_t} ({REQUEST_COLUMNS}) {select_sql} {conflict}"
    return sql, params


def request_select_sql(cycle: Cycle, now: dt.datetime) -> tuple[str, list]:
    """The SELECT of every request the cycle would have, its columns named as
    `REQUEST_COLUMNS`: what opening inserts and the wizard's preview counts. Only the cycle's
    id, types and member limit are read (an unsaved cycle previews).

    Raters are the customer side of each active edge of the included types: a person end is
    that person; a department end is its designated evaluators if it has any, otherwise its
    head and its active members (the department's own people, not its subtree), at most
    `member_limit` of them, head first. Inactive people are skipped, and nobody rates a service
    they provide themselves (as the provider person or a member of the provider department).
    """
    q = connection.ops.quote_name
    edge_t = q(Edge._meta.db_table)
    emp_t = q(Employee._meta.db_table)
    dept_t = q(Department._meta.db_table)
    evaluator_t = q(DepartmentEvaluator._meta.db_table)
    types = [t for t in cycle.edge_types if t in EdgeType.values] or ["-"]
    type_marks = ", ".join(["%s"] * len(types))
    ts = connection.ops.adapt_datetimefield_value(now)
    # PostgreSQL plans a subquery with OFFSET on its own instead of merging it into the joins.
    fence = "OFFSET 0" if connection.vendor == "postgresql" else ""
    if cycle.member_limit:
        # Head first, then by id, at most member_limit per department.
        members_sql = f"""
            SELECT ranked.department_id, ranked.employee_id FROM (
                SELECT d.id AS department_id, m.id AS employee_id,
                       ROW_NUMBER() OVER (
                           PARTITION BY d.id
                           ORDER BY CASE WHEN m.id = d.head_id THEN 0 ELSE 1 END, m.id
                       ) AS rn
                FROM {dept_t} d
                JOIN {emp_t} m ON m.active AND (m.department_id = d.id OR m.id = d.head_id)
                WHERE d.id IN (SELECT department_id FROM customer_departments)
                AND NOT EXISTS (SELECT 1 FROM evaluators x WHERE x.department_id = d.id)
            ) ranked
            WHERE ranked.rn <= %s
        """  # noqa: S608
    else:
        members_sql = f"""
            SELECT d.id AS department_id, m.id AS employee_id
            FROM {dept_t} d
            JOIN {emp_t} m ON m.active AND (m.department_id = d.id OR m.id = d.head_id)
            WHERE d.id IN (SELECT department_id FROM customer_departments)
            AND NOT EXISTS (SELECT 1 FROM evaluators x WHERE x.department_id = d.id)
        """  # noqa: S608
    # Only table names and placeholders are formatted in; every value is a parameter. The
    # names of both ends are looked up once per edge, the rater's once per person (OFFSET 0
    # keeps each subquery apart), then joined to the requests: two lookups per request, not 7.
    sql = f"""
        WITH evaluators AS (
            SELECT de.department_id, de.employee_id
            FROM {evaluator_t} de
            JOIN {emp_t} ev ON ev.id = de.employee_id AND ev.active
        ),
        customer_departments AS (
            SELECT ce.customer_department_id AS department_id FROM {edge_t} ce
            WHERE ce.valid_to IS NULL AND ce.type IN ({type_marks})
        ),
        members AS ({members_sql}),
        targets AS (
            SELECT e.id AS edge_id, e.customer_employee_id AS rater_id
            FROM {edge_t} e
            WHERE e.valid_to IS NULL AND e.type IN ({type_marks})
              AND e.customer_employee_id IS NOT NULL
            UNION ALL
            SELECT e.id, r.employee_id
            FROM {edge_t} e
            JOIN (SELECT * FROM evaluators UNION ALL SELECT * FROM members) r
              ON r.department_id = e.customer_department_id
            WHERE e.valid_to IS NULL AND e.type IN ({type_marks})
        )
        SELECT %s AS cycle_id, e.id AS edge_id, rater.id AS rater_id, rater.name AS rater_name,
               rater.department_id AS rater_department_id,
               rater.department_name AS rater_department_name,
               e.type AS edge_type, e.rank_kind, e.service,
               e.provider_employee_id, e.provider_name, e.provider_department_id,
               e.provider_department_name,
               e.customer_name, e.customer_department_id, e.customer_department_name,
               %s AS status, %s AS created_at
        FROM targets t
        JOIN (
            SELECT e.id, e.type, e.rank_kind, e.service,
                   e.provider_employee_id, e.provider_department_id AS provider_department_end,
                   CASE WHEN e.provider_employee_id IS NULL THEN pd.name ELSE pe.name END
                       AS provider_name,
                   pd.id AS provider_department_id, pd.name AS provider_department_name,
                   CASE WHEN e.customer_employee_id IS NULL THEN cd.name ELSE ce.name END
                       AS customer_name,
                   cd.id AS customer_department_id, cd.name AS customer_department_name
            FROM {edge_t} e
            LEFT JOIN {emp_t} pe ON pe.id = e.provider_employee_id
            LEFT JOIN {dept_t} pd ON pd.id = COALESCE(e.provider_department_id, pe.department_id)
            LEFT JOIN {emp_t} ce ON ce.id = e.customer_employee_id
            LEFT JOIN {dept_t} cd ON cd.id = COALESCE(e.customer_department_id, ce.department_id)
            WHERE e.valid_to IS NULL AND e.type IN ({type_marks})
            {fence}
        ) e ON e.id = t.edge_id
        JOIN (
            SELECT m.id, m.name, m.department_id, rd.name AS department_name
            FROM {emp_t} m JOIN {dept_t} rd ON rd.id = m.department_id
            WHERE m.active
            {fence}
        ) rater ON rater.id = t.rater_id
        WHERE (e.provider_employee_id IS NULL OR e.provider_employee_id <> rater.id)
          AND (e.provider_department_end IS NULL
               OR e.provider_department_end <> rater.department_id)
    """  # noqa: S608
    params: list = [*types]
    if cycle.member_limit:
        params.append(cycle.member_limit)
    params += [*types, *types, cycle.pk, RequestStatus.PENDING, ts, *types]
    return sql, params


def _open_first_time_postgresql(cycle: Cycle, now: dt.datetime) -> tuple[dict[str, int], int]:
    """A first opening on PostgreSQL in one statement: the requests and their counts.

    The per-type and rater counts are taken from the inserted rows (RETURNING), so the million
    new requests are not read back. Returns the requests created by type and the raters.
    """
    insert_sql, insert_params = _request_insert_sql(cycle, now, first=True)
    sql = f"""
        WITH created AS ({insert_sql} RETURNING rater_id, edge_type)
        SELECT c.edge_type, COUNT(*), (SELECT COUNT(DISTINCT rater_id) FROM created)
        FROM created c GROUP BY c.edge_type
    """  # noqa: S608
    with connection.cursor() as cursor:
        # One statement joins and de-duplicates about a million rows: hash tables that fit in
        # memory instead of batches spilled to disk, and no JIT compilation, which costs more
        # than it saves on a statement that runs once (this transaction only).
        cursor.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
        cursor.execute(sql, insert_params)
        rows = cursor.fetchall()
    by_type = {edge_type: count for edge_type, count, _raters in rows}
    return by_type, (rows[0][2] if rows else 0)


# Events whose e-mails go to every rater of the cycle. Their log rows (100,000 for a large
# company) are written by the dispatch task after the event committed, not in the opening or
# closing transaction; `sweep` re-queues an event whose rows never appeared.
EVENTS_FOR_ALL_RATERS = (NotificationKind.INVITATION, NotificationKind.CLOSED)


def record_notifications(
    cycle_id: int,
    kind: str,
    *,
    offset: int = 0,
    now: dt.datetime | None = None,
    provider_department_ids: list[int] | None = None,
) -> int:
    """Write the log rows an event owes, one per rater, never twice; returns the new ones.

    Reminders go only to raters with pending requests whose invitation was sent at least
    `reminder_gap()` before `now`: never before or with it, whatever else is late (a queue of
    invitations still going out, a dispatch lost with its worker). A rater left out of a
    scheduled reminder gets it once the gap passed, when the sweep records it again (ON
    CONFLICT keeps the others' rows single); HR's round leaves them out. The other events go
    to every rater.

    A clicked reminder (HR's or a head's) does not go to a rater who got one within
    ICR_MANUAL_REMINDER_WINDOW_MINUTES; a head's goes only to raters of their departments
    (`provider_department_ids`).
    """
    q = connection.ops.quote_name
    now = now or timezone.now()
    log_t = q(NotificationLog._meta.db_table)
    where, where_params = "r.cycle_id = %s", [cycle_id]
    if kind in REMINDER_KINDS:
        where += f"""
            AND r.status = %s
            AND EXISTS (
                SELECT 1 FROM {log_t} i
                WHERE i.cycle_id = r.cycle_id AND i.rater_id = r.rater_id AND i.kind = %s
                  AND i.status = %s AND i.sent_at <= %s
            )
        """  # noqa: S608
        where_params += [
            RequestStatus.PENDING,
            NotificationKind.INVITATION,
            NotificationStatus.SENT,
            connection.ops.adapt_datetimefield_value(now - reminder_gap()),
        ]
    if kind in CLICKED_REMINDER_KINDS:
        clicked = ", ".join(["%s"] * len(CLICKED_REMINDER_KINDS))
        where += f"""
            AND NOT EXISTS (
                SELECT 1 FROM {log_t} m
                WHERE m.cycle_id = r.cycle_id AND m.rater_id = r.rater_id
                  AND m.kind IN ({clicked}) AND m.created_at > %s
            )
        """  # noqa: S608
        where_params += [
            *CLICKED_REMINDER_KINDS,
            connection.ops.adapt_datetimefield_value(now - manual_reminder_window()),
        ]
    if provider_department_ids is not None:
        marks = ", ".join(["%s"] * len(provider_department_ids)) or "NULL"
        where += f" AND r.provider_department_id IN ({marks})"
        where_params += list(provider_department_ids)
    sql = f"""
        INSERT INTO {log_t}
            (cycle_id, rater_id, kind, {q("offset")}, status, created_at, attempts, channel)
        SELECT DISTINCT r.cycle_id, r.rater_id, %s, %s, %s, %s, 0, ''
        FROM {q(ReviewRequest._meta.db_table)} r
        WHERE {where}
        ON CONFLICT (cycle_id, rater_id, kind, {q("offset")}) DO NOTHING
    """  # noqa: S608
    params = [
        kind,
        offset,
        NotificationStatus.PENDING,
        connection.ops.adapt_datetimefield_value(now),
        *where_params,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def queue_reply_notices(comment) -> int:
    """Tell the raters a department's answer to a comment concerns that it was written.

    The comment is anonymous, so its author cannot be told alone: the notice goes to everyone
    who answered that department in that cycle (`results.replies_for_rater` shows the answer
    to the same people). One row per rater and comment (offset: the comment's id), so
    editing the answer sends nothing again. Set-based; sent after commit.
    """
    q = connection.ops.quote_name
    log_t = q(NotificationLog._meta.db_table)
    sql = f"""
        INSERT INTO {log_t}
            (cycle_id, rater_id, kind, {q("offset")}, status, created_at, attempts, channel)
        SELECT DISTINCT r.cycle_id, r.rater_id, %s, %s, %s, %s, 0, ''
        FROM {q(ReviewRequest._meta.db_table)} r
        JOIN {q(Cycle._meta.db_table)} c ON c.id = r.cycle_id
        WHERE r.cycle_id = %s AND r.provider_department_id = %s AND r.status <> %s
          AND c.status = %s
        ON CONFLICT (cycle_id, rater_id, kind, {q("offset")}) DO NOTHING
    """  # noqa: S608
    params = [
        NotificationKind.REPLY,
        comment.pk,
        NotificationStatus.PENDING,
        connection.ops.adapt_datetimefield_value(timezone.now()),
        comment.cycle_id,
        comment.department_id,
        RequestStatus.PENDING,
        CycleStatus.CLOSED,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        created = max(cursor.rowcount, 0)
        if created:
            _dispatch(comment.cycle_id, NotificationKind.REPLY, comment.pk)
    return created


def queue_notifications(
    cycle: Cycle, kind: str, *, offset: int = 0, now: dt.datetime | None = None
) -> int:
    """Record the e-mails an event owes (set-based, never twice) and send them after commit."""
    with transaction.atomic():
        created = record_notifications(cycle.pk, kind, offset=offset, now=now)
        if created:
            _dispatch(cycle.pk, kind, offset)
    return created


def _queue_tasks(messages: list[tuple[str, tuple]], *, after_commit: bool = True) -> None:
    """Send Celery messages, each (a task of `reviews.tasks` by name, its arguments), once the
    transaction commits (at once outside one). The tasks call services, so services find them
    by name in the Celery app's registry and import no task module. The sweep's re-sends go
    at once (`after_commit=False`): they repair what a lost message left."""

    def send() -> None:
        registry = current_app.tasks
        for name, args in messages:
            registry[f"reviews.tasks.{name}"].delay(*args)

    if after_commit:
        transaction.on_commit(send, robust=True)
    else:
        send()


def _dispatch(cycle_id: int, kind: str, offset: int, *, after_commit: bool = True) -> None:
    _queue_tasks([("dispatch_notifications", (cycle_id, kind, offset))], after_commit=after_commit)


# --- Opening and closing --------------------------------------------------------------------


def open_cycle(cycle: Cycle, *, actor=None, now: dt.datetime | None = None) -> CycleSummary:
    """Open a draft cycle (or top up an open one): a request for every rater, invitations queued.

    A fixed number of queries whatever the size of the company.
    """
    now = now or timezone.now()
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update().get(pk=cycle.pk)
        if cycle.status == CycleStatus.CLOSED:
            raise ReviewError(_("This cycle is closed and cannot be opened again."))
        if now >= cycle.deadline:
            raise ReviewError(_("The deadline of this cycle has passed."))
        if cycle.status == CycleStatus.DRAFT:
            _refuse_an_overlapping_open_cycle(cycle, now)
        # Under the cycle's row lock nobody else adds requests to it meanwhile.
        first = not ReviewRequest.objects.filter(cycle=cycle).exists()
        in_one_statement = first and connection.vendor == "postgresql"
        if in_one_statement:
            by_type, raters = _open_first_time_postgresql(cycle, now)
            created = sum(by_type.values())
        else:
            sql, params = _request_insert_sql(cycle, now, first=first)
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SET LOCAL work_mem = '64MB'")
                cursor.execute(sql, params)
                created = max(cursor.rowcount, 0)
        if cycle.request_cap:
            dropped = _apply_request_cap(cycle, now)
            if dropped:
                created -= dropped
                in_one_statement = False  # the counts of the insert are no longer the rows'
        if cycle.status == CycleStatus.DRAFT:
            cycle.status = CycleStatus.OPEN
            cycle.opened_at = now
            cycle.save(update_fields=["status", "opened_at"])
            CycleEvent.objects.create(
                cycle=cycle,
                kind=CycleEventKind.OPENED,
                at=now,
                actor=actor,
                data={"requests": created},
            )
        if first:
            # Every rater is new: the dispatch task records their invitations after commit.
            if created:
                _dispatch(cycle.pk, NotificationKind.INVITATION, 0)
        else:
            # Raters added to an open cycle are invited now; `sweep` only notices a cycle
            # with no invitations at all.
            queue_notifications(cycle, NotificationKind.INVITATION, now=now)
        if in_one_statement:
            requests = {t: 0 for t in EdgeType.values} | by_type
            return CycleSummary(
                cycle=cycle, requests=requests, raters=raters, answered=0, created=created
            )
        summary = cycle_summary(cycle, created=created)
    return summary


def start_cycle(
    *, open_now: bool = True, actor=None, **fields
) -> tuple[Cycle, CycleSummary | None]:
    """The wizard's last step: create the cycle (`create_cycle`'s fields) and open it, in one
    transaction, so a refused opening (an overlapping open cycle) leaves no draft behind; or
    keep it as a draft (`open_now=False`)."""
    with transaction.atomic():
        cycle = create_cycle(**fields)
        if not open_now:
            return cycle, None
        summary = open_cycle(cycle, actor=actor)
    return summary.cycle, summary


# Any constant, the same in every opening: two drafts opening at once are checked one after
# the other against the open cycles.
CYCLE_OPENING_LOCK = 0x1C2_0002


def _refuse_an_overlapping_open_cycle(cycle: Cycle, now: dt.datetime) -> None:
    """Refuse to open `cycle` while another open cycle asks about one of its relationship
    types. On PostgreSQL an advisory lock held to the end of the transaction serialises the
    check with concurrent openings; SQLite serialises writing transactions itself."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CYCLE_OPENING_LOCK])
    other = cycle.overlapping_open_cycle(now)
    if other is not None:
        shared = ", ".join(
            str(EdgeType(t).label) for t in sorted(cycle.asked_types() & other.asked_types())
        )
        raise ReviewError(
            _(
                "%(other)s is open until %(deadline)s and already asks about %(types)s: "
                "opening this cycle too would ask raters twice for the same services. Close "
                "%(other)s first, or leave those types out of this cycle."
            )
            % {
                "other": other.name,
                "deadline": timezone.localtime(other.deadline).strftime("%Y-%m-%d %H:%M"),
                "types": shared,
            }
        )


def _group_candidates(rows) -> list[Candidate]:
    return [
        Candidate(key=key, rater=rater, group=group_of(dept, edge_type, rank_kind))
        for key, rater, edge_type, rank_kind, dept in rows
    ]


def _group_counts(rows) -> Counter:
    counts: Counter = Counter()
    for dept, edge_type, rank_kind, n in rows:
        counts[group_of(dept, edge_type, rank_kind)] += n
    return counts


def _apply_request_cap(cycle: Cycle, now: dt.datetime) -> int:
    """Delete the requests of this opening that the cycle's cap leaves out (`fair_load.choose`);
    returns how many. Requests of earlier openings stay and count against the cap. Three
    queries and a delete per 5,000 dropped, whatever the company's size."""
    cap = cycle.request_cap
    mine = ReviewRequest.objects.filter(cycle=cycle)
    over = (
        mine.order_by()
        .values("rater_id")
        .annotate(n=Count("id"))
        .filter(n__gt=cap)
        .values("rater_id")
    )
    rows = list(
        mine.filter(rater_id__in=over).values_list(
            "id", "rater_id", "edge_type", "rank_kind", "provider_department_id", "created_at"
        )
    )
    if not rows:
        return 0
    candidates = _group_candidates(r[:5] for r in rows if r[5] == now)
    used = Counter(r[1] for r in rows if r[5] != now)
    counts = _group_counts(
        mine.order_by()
        .values_list("provider_department_id", "edge_type", "rank_kind")
        .annotate(n=Count("id"))
    )
    fixed = counts - Counter(c.group for c in candidates)
    kept = choose(candidates, cap=cap, minimum=settings.ICR_MIN_RATERS, fixed=fixed, used=used)
    dropped = [c.key for c in candidates if c.key not in kept]
    for start in range(0, len(dropped), 5000):
        ReviewRequest.objects.filter(pk__in=dropped[start : start + 5000])._raw_delete(
            connection.alias
        )
    return len(dropped)


@dataclass
class CyclePreview:
    """What opening a cycle would send, counted before anything is: requests and people, how
    many people get how many requests, and the result groups that can reach ICR_MIN_RATERS,
    without and with the cycle's cap."""

    requests: int
    raters: int
    by_type: dict[str, int]
    load: list[tuple[int, int]]  # (requests per person, people), fewest requests first
    groups: int
    groups_shown: int
    minimum: int
    cap: int | None = None
    capped_raters: int = 0
    capped_requests: int = 0
    capped_load: list[tuple[int, int]] = field(default_factory=list)
    capped_groups_shown: int = 0

    @property
    def type_rows(self) -> list[tuple[str, int]]:
        return [(str(EdgeType(t).label), n) for t, n in self.by_type.items() if n]

    @property
    def max_load(self) -> int:
        return self.load[-1][0] if self.load else 0


PREVIEW_TABLE = "icr_cycle_preview"


def preview_cycle(cycle: Cycle, *, now: dt.datetime | None = None) -> CyclePreview:
    """Count what opening `cycle` (saved or not) would ask, set-based: the requests are selected
    once into a temporary table and counted there by a few GROUP BYs; with a cap, only the
    people over it are read, to choose as opening would (`_apply_request_cap`)."""
    now = now or timezone.now()
    probe = Cycle(pk=cycle.pk or 0, edge_types=cycle.edge_types, member_limit=cycle.member_limit)
    select_sql, params = request_select_sql(probe, now)
    t = PREVIEW_TABLE
    minimum = settings.ICR_MIN_RATERS
    cap = cycle.request_cap
    group_sql = (
        f"SELECT provider_department_id, edge_type, rank_kind, COUNT(*) FROM {t} "  # noqa: S608
        "GROUP BY provider_department_id, edge_type, rank_kind"
    )
    load_sql = (
        "SELECT n, COUNT(*) FROM (SELECT rater_id, COUNT(*) AS n "  # noqa: S608
        f"FROM {t} GROUP BY rater_id) per_rater GROUP BY n ORDER BY n"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {t}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {t} AS SELECT rater_id, edge_id, edge_type, rank_kind, "  # noqa: S608
            f"provider_department_id FROM ({select_sql}) requests",
            params,
        )
        cursor.execute(f"SELECT edge_type, COUNT(*) FROM {t} GROUP BY edge_type")  # noqa: S608
        by_type = {k: 0 for k in EdgeType.values} | dict(cursor.fetchall())
        cursor.execute(load_sql)
        load = [(int(n), int(people)) for n, people in cursor.fetchall()]
        cursor.execute(group_sql)
        counts = _group_counts(cursor.fetchall())
        candidates: list[Candidate] = []
        if cap:
            cursor.execute(
                f"SELECT edge_id, rater_id, edge_type, rank_kind, provider_department_id "  # noqa: S608
                f"FROM {t} WHERE rater_id IN "
                f"(SELECT rater_id FROM {t} GROUP BY rater_id HAVING COUNT(*) > %s)",
                [cap],
            )
            # A department end's edge has many raters: a request is (edge, rater).
            candidates = _group_candidates(((e, r), r, *rest) for e, r, *rest in cursor.fetchall())
        cursor.execute(f"DROP TABLE {t}")
    preview = CyclePreview(
        requests=sum(by_type.values()),
        raters=sum(people for _n, people in load),
        by_type=by_type,
        load=load,
        groups=len(counts),
        groups_shown=groups_reaching(counts, minimum),
        minimum=minimum,
        cap=cap,
    )
    if cap:
        kept = choose(
            candidates,
            cap=cap,
            minimum=minimum,
            fixed=counts - Counter(c.group for c in candidates),
        )
        capped_counts = counts - Counter(c.group for c in candidates if c.key not in kept)
        capped_load: Counter = Counter()
        for n, people in load:
            capped_load[min(n, cap)] += people
        preview.capped_raters = sum(people for n, people in load if n > cap)
        preview.capped_requests = preview.requests - (len(candidates) - len(kept))
        preview.capped_load = sorted(capped_load.items())
        preview.capped_groups_shown = groups_reaching(capped_counts, minimum)
    return preview


def close_cycle(cycle: Cycle, *, actor=None, now: dt.datetime | None = None) -> CycleSummary:
    """Close a cycle: unsent drafts are dropped, submitted answers frozen, rollups started.

    Closing a closed cycle again changes nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update().get(pk=cycle.pk)
        if cycle.status == CycleStatus.DRAFT:
            raise ReviewError(_("This cycle was never opened."))
        if cycle.status == CycleStatus.CLOSED:
            return cycle_summary(cycle)
        drafts = Answer.objects.filter(cycle=cycle, submitted=False)
        # Looked for first: a close with no drafts left reads the cycle's answers once instead
        # of twice (make bench: 0.2 s of a million answers), one with drafts once more.
        if drafts.exists():
            AnswerScore.objects.filter(answer__in=drafts).delete()
            drafts.delete()
        cycle.status = CycleStatus.CLOSED
        cycle.closed_at = now
        cycle.save(update_fields=["status", "closed_at"])
        side = SideQueries(_summary_queries(cycle))
        # The results are written in the closing transaction: closed means results are there.
        compute_rollups(cycle, side=side)
        summary = _summary_from(cycle, side.ensure_run())
        CycleEvent.objects.create(
            cycle=cycle,
            kind=CycleEventKind.CLOSED,
            at=now,
            actor=actor,
            data={"requests": summary.total, "answered": summary.answered},
        )
        # A hand-off period closes every week or month: its raters get no "closed" e-mail.
        if summary.total and cycle.kind == CycleKind.SURVEY:
            _dispatch(cycle.pk, NotificationKind.CLOSED, 0)
        cycle_id = cycle.pk
        _queue_tasks([("cycle_closed_followup", (cycle_id,))])
    return summary


# The cycle's answer ids, old to new, while `unlink_answers` writes them again (dropped before
# its transaction ends).
UNLINK_TABLE = "icr_unlink_answers"


def _fresh_id_and_key_sql() -> tuple[str, str]:
    """SQL expressions for a random answer id and a random key of 64 hex digits, per row.

    Both come from the database's strong random source (gen_random_uuid, randomblob), not
    from anything about the answer, so the new key is no HMAC of anything."""
    if connection.vendor == "postgresql":
        return (
            "gen_random_uuid()",
            "encode(sha256(convert_to(CAST(gen_random_uuid() AS TEXT), 'UTF8')), 'hex')",
        )
    # SQLite: Django stores a UUID as its 32 hex digits.
    return "lower(hex(randomblob(16)))", "lower(hex(randomblob(32)))"


def unlink_answers(cycle: Cycle, *, now: dt.datetime | None = None) -> int:
    """Write a closed cycle's answers and scores again so that nothing in them follows the order
    or the transactions in which they were given. Returns how many answers were written (0 if
    the cycle is not closed or this was done already).

    While a cycle is open, an answer is written in the transaction that marks its request
    answered (they share PostgreSQL's xmin), and its scores' ids and its place in the table
    follow answer time, which the request's `answered_at` records. Here, in one transaction
    under the cycle's row lock (which closing, answering and `rollups.compute_rollups` take
    too): a map of the cycle's answers to a fresh random id and a random key; the answers
    copied under them in random order, then their scores in random order (so the scores' new
    ids carry none); the old rows deleted. The key is no longer the HMAC of the request: it
    only let the rater find their answer to change it, which a closed cycle no longer allows.
    The group columns the rollups read are copied unchanged, so the results computed from the
    answers stay the same. `Cycle.answers_unlinked_at` records that it ran, in the same
    transaction: a second call changes nothing. Set-based: a fixed number of statements.

    On PostgreSQL the deleted row versions stay in their pages, in the old order, until
    vacuumed: when the caller is not inside a transaction (the follow-up task of a close is
    not), both tables are vacuumed after the commit. VACUUM cannot run in a transaction
    block; inside one (tests), and for row versions an older snapshot may still see, that is
    left to autovacuum.
    """
    now = now or timezone.now()
    q = connection.ops.quote_name
    postgresql = connection.vendor == "postgresql"
    answer_t, score_t = q(Answer._meta.db_table), q(AnswerScore._meta.db_table)
    id_column, key_column = (q(Answer._meta.get_field(n).column) for n in ("id", "key"))
    copied = [q(f.column) for f in Answer._meta.concrete_fields if f.name not in ("id", "key")]
    score_columns = [q(AnswerScore._meta.get_field(n).column) for n in ("criterion", "score")]
    score_answer = q(AnswerScore._meta.get_field("answer").column)
    new_id, new_key = _fresh_id_and_key_sql()
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update().get(pk=cycle.pk)
        if cycle.status != CycleStatus.CLOSED or cycle.answers_unlinked_at is not None:
            return 0
        # Only table and column names are formatted in; the one value is a parameter.
        with connection.cursor() as cursor:
            if postgresql:
                # Two sorts of every answer and score of the cycle, in memory if they fit.
                cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute(f"DROP TABLE IF EXISTS {UNLINK_TABLE}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {UNLINK_TABLE} AS "  # noqa: S608
                f"SELECT {id_column} AS old_id, {new_id} AS new_id, {new_key} AS new_key "
                f"FROM {answer_t} WHERE cycle_id = %s",
                [cycle.pk],
            )
            if postgresql:
                # The planner joins the scores to the map by how many rows it holds.
                cursor.execute(f"ANALYZE {UNLINK_TABLE}")
            cursor.execute(
                f"INSERT INTO {answer_t} ({id_column}, {key_column}, {', '.join(copied)}) "  # noqa: S608
                f"SELECT m.new_id, m.new_key, {', '.join(f'a.{c}' for c in copied)} "
                f"FROM {answer_t} a JOIN {UNLINK_TABLE} m ON m.old_id = a.{id_column} "
                "ORDER BY random()"
            )
            count = max(cursor.rowcount, 0)
            cursor.execute(
                f"INSERT INTO {score_t} ({score_answer}, {', '.join(score_columns)}) "  # noqa: S608
                f"SELECT m.new_id, {', '.join(f's.{c}' for c in score_columns)} "
                f"FROM {score_t} s JOIN {UNLINK_TABLE} m ON m.old_id = s.{score_answer} "
                "ORDER BY random()"
            )
            cursor.execute(
                f"DELETE FROM {score_t} WHERE {score_answer} IN (SELECT old_id FROM {UNLINK_TABLE})"  # noqa: S608
            )
            cursor.execute(
                f"DELETE FROM {answer_t} WHERE {id_column} IN (SELECT old_id FROM {UNLINK_TABLE})"  # noqa: S608
            )
            cursor.execute(f"DROP TABLE {UNLINK_TABLE}")
        cycle.answers_unlinked_at = now
        cycle.save(update_fields=["answers_unlinked_at"])
    if postgresql and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {answer_t}, {score_t}")
    return count


# --- Schedules ------------------------------------------------------------------------------

CADENCE_CRONTABS = {
    "monthly": {"minute": "0", "hour": "8", "day_of_month": "1", "month_of_year": "*"},
    "quarterly": {"minute": "0", "hour": "8", "day_of_month": "1", "month_of_year": "1,4,7,10"},
}
SCHEDULED_TASK = "reviews.tasks.open_scheduled_cycle"


def sync_template_schedule(template: CycleTemplate) -> None:
    """Give a cycle template its django-celery-beat periodic task.

    Monthly and quarterly set the crontab; a custom cadence keeps whatever HR set on the task.
    """
    import json

    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    with transaction.atomic():
        task = template.periodic_task
        if task is None:
            task = PeriodicTask(name=f"reviews: {template.name} #{template.pk}"[:200])
        task.task = SCHEDULED_TASK
        task.kwargs = json.dumps({"template_id": template.pk})
        task.enabled = template.active
        if template.cadence in CADENCE_CRONTABS or task.crontab_id is None:
            fields = CADENCE_CRONTABS.get(template.cadence, CADENCE_CRONTABS["quarterly"])
            crontab, _created = CrontabSchedule.objects.get_or_create(
                **fields, day_of_week="*", timezone=settings.TIME_ZONE
            )
            task.crontab = crontab
            task.interval = None
        task.save()
        if template.periodic_task_id != task.pk:
            CycleTemplate.objects.filter(pk=template.pk).update(periodic_task=task)
            history.record(CycleTemplate.objects.filter(pk=template.pk))
            template.periodic_task = task


def open_scheduled_cycle(template: CycleTemplate, *, now: dt.datetime | None = None) -> Cycle:
    """What a due schedule does: create today's cycle from the template (once) and open it."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        cycle = Cycle.objects.filter(template=template, scheduled_for=today).first()
        if cycle is None:
            cycle = create_cycle(
                name=f"{template.name} {today.isoformat()}",
                opens_at=now,
                deadline=now + dt.timedelta(days=max(template.open_days, 1)),
                period_start=today - dt.timedelta(days=template.period_days),
                period_end=today - dt.timedelta(days=1) if template.period_days else today,
                edge_types=template.edge_types,
                criteria=list(template.criteria.all()) or None,
                reminder_offsets=template.reminder_offsets,
                member_limit=template.member_limit,
                template=template,
                scheduled_for=today,
            )
        if cycle.status == CycleStatus.DRAFT:
            open_cycle(cycle, now=now)
            cycle.refresh_from_db()
    return cycle


# --- Answers --------------------------------------------------------------------------------


# An open cycle's criteria are fixed (the admin makes them read-only once it opened), and the
# rating form asks for them on every view and submission: each process keeps them a short
# while. Saving a criterion empties this process's copy; other processes see the change
# within CRITERIA_CACHE_SECONDS.
CRITERIA_CACHE_SECONDS = 60.0
_criteria_cache: dict[tuple[int, str, str], tuple[float, list[Criterion]]] = {}


def applicable_criteria(cycle: Cycle, edge_type: str, rank_kind: str = "") -> list[Criterion]:
    """The cycle's criteria a request of this type (and rank direction) is rated on.

    A rank request is rated on the cycle's criteria aimed at its direction by name (task or
    condition customer) when the cycle has any; else on those for rank or all types. So a
    cycle opened before such criteria existed (whose criteria were fixed then) keeps asking
    what it asked, and its answers stay valid.
    """
    key = (cycle.pk, edge_type, rank_kind or "")
    cached = _criteria_cache.get(key)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    criteria = [
        c for c in cycle.criteria.order_by("order", "id") if c.applies_to(edge_type, rank_kind)
    ]
    aimed = [c for c in criteria if c.names_direction(edge_type, rank_kind)]
    criteria = aimed or criteria
    if cycle.status == CycleStatus.OPEN:
        _criteria_cache[key] = (now + CRITERIA_CACHE_SECONDS, criteria)
    return criteria


@receiver(post_save, sender=Criterion, dispatch_uid="reviews.services.criterion_saved")
@receiver(post_delete, sender=Criterion, dispatch_uid="reviews.services.criterion_deleted")
def forget_cached_criteria(**kwargs) -> None:
    _criteria_cache.clear()


def current_answer(request: ReviewRequest) -> Answer | None:
    """The rater's own answer to this request, found through the HMAC key."""
    return (
        Answer.objects.filter(cycle_id=request.cycle_id, key=answer_key(request.pk))
        .prefetch_related("scores")
        .first()
    )


def answerable_request(
    request_id: int, *, rater_user_id: int | None = None, lock: bool = False
) -> ReviewRequest | None:
    """What answering a request needs of it and its cycle, in one plain SQL statement.

    `rater_user_id`: only if this login is the rater (None otherwise: a 404 for the caller).
    `lock`: the request locked for update and its cycle share-locked, inside a transaction.
    The cycle's shared lock lets answers to other requests go on side by side while closing
    (FOR UPDATE) waits for them, and they for it; after waiting, PostgreSQL returns the
    cycle's latest row. The ORM has one lock mode per query, hence SQL. (SQLite runs one
    writing transaction at a time: a plain read.)

    Returns a ReviewRequest with only the fields a submission uses, its cycle with id, status
    and deadline.
    """
    q = connection.ops.quote_name
    # from_db (the ORM's own way to build a partly loaded row, much cheaper than __init__)
    # takes the values in the model's field order.
    request_fields = _in_field_order(ReviewRequest, ANSWERABLE_FIELDS)
    cycle_fields = _in_field_order(Cycle, ("id", "status", "deadline"))
    columns = [f"r.{q(f)}" for f in request_fields] + [f"c.{q(f)}" for f in cycle_fields]
    sql = (
        f"SELECT {', '.join(columns)} FROM {q(ReviewRequest._meta.db_table)} r "  # noqa: S608
        f"JOIN {q(Cycle._meta.db_table)} c ON c.id = r.cycle_id"
    )
    params: list = []
    if rater_user_id is not None:
        sql += f" JOIN {q(Employee._meta.db_table)} e ON e.id = r.rater_id AND e.user_id = %s"
        params.append(rater_user_id)
    sql += " WHERE r.id = %s"
    params.append(request_id)
    if lock and connection.vendor == "postgresql":
        sql += " FOR NO KEY UPDATE OF r FOR SHARE OF c"
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    count = len(request_fields)
    cycle_values = list(row[count:])
    deadline_index = cycle_fields.index("deadline")
    deadline_col = Cycle._meta.get_field("deadline").get_col("c")
    for converter in connection.ops.get_db_converters(deadline_col):
        cycle_values[deadline_index] = converter(
            cycle_values[deadline_index], deadline_col, connection
        )
    request = ReviewRequest.from_db(connection.alias, request_fields, row[:count])
    request.cycle = Cycle.from_db(connection.alias, cycle_fields, cycle_values)
    return request


@functools.cache
def _in_field_order(model, names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname in names)


ANSWERABLE_FIELDS = (
    "id",
    "cycle_id",
    "edge_type",
    "rank_kind",
    "provider_employee_id",
    "provider_department_id",
    "customer_department_id",
    "status",
)


def _store_answer(
    request_id: int,
    cycle_id: int,
    key: str,
    values: dict,
    scores: Mapping[int, int],
    *,
    status: str | None,
    now: dt.datetime,
) -> uuid.UUID:
    """Insert the answer with this key or update it, replace its scores, and (unless `status`
    is None, a draft) mark the request. Returns the answer's id. Runs under the request's lock.

    The busiest write of ICR, so plain SQL. On PostgreSQL it is one statement: the answer's
    upsert, the removal of scores no longer given, the upsert of those given and the request's
    status, chained by data-modifying CTEs. A statement sees one snapshot, so this relies on
    the request's lock having been taken by an earlier statement: then the snapshot already
    holds whatever an answer to the same request committed before it. Elsewhere (SQLite) the
    same steps are three or four statements.
    """
    q = connection.ops.quote_name
    offered = uuid.uuid4()
    pk_field = Answer._meta.pk
    columns = ["id", "cycle_id", "key", *values]
    params = [pk_field.get_db_prep_value(offered, connection), cycle_id, key, *values.values()]
    updates = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in values)
    upsert = (
        f"INSERT INTO {q(Answer._meta.db_table)} ({', '.join(q(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT (cycle_id, {q('key')}) DO UPDATE SET {updates} RETURNING id"
    )
    score_table = q(AnswerScore._meta.db_table)
    request_table = q(ReviewRequest._meta.db_table)
    marked = [status, connection.ops.adapt_datetimefield_value(now), request_id]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = (
                f"WITH answer AS ({upsert}), "  # noqa: S608
                f"dropped AS (DELETE FROM {score_table} s USING answer "
                "WHERE s.answer_id = answer.id AND s.criterion_id <> ALL(%s::bigint[]))"
            )
            params.append(list(scores))
            if scores:
                sql += (
                    f", given AS (INSERT INTO {score_table} (answer_id, criterion_id, score) "  # noqa: S608
                    "SELECT answer.id, v.criterion_id, v.score FROM answer, (VALUES "
                    + ", ".join(["(%s::bigint, %s::smallint)"] * len(scores))
                    + ") v (criterion_id, score) ON CONFLICT (answer_id, criterion_id) "
                    "DO UPDATE SET score = excluded.score)"
                )
                params += [v for item in scores.items() for v in item]
            if status is not None:
                sql += (
                    f", marked AS (UPDATE {request_table} SET status = %s, answered_at = %s "  # noqa: S608
                    "WHERE id = %s)"
                )
                params += marked
            execute_prepared(cursor, sql + " SELECT id FROM answer", params)  # noqa: S608
            return pk_field.to_python(cursor.fetchone()[0])
        cursor.execute(upsert, params)
        answer_id = pk_field.to_python(cursor.fetchone()[0])
        prepared_id = pk_field.get_db_prep_value(answer_id, connection)
        if answer_id != offered:
            cursor.execute(f"DELETE FROM {score_table} WHERE answer_id = %s", [prepared_id])  # noqa: S608
        if scores:
            cursor.execute(
                f"INSERT INTO {score_table} (answer_id, criterion_id, score) VALUES "  # noqa: S608
                + ", ".join(["(%s, %s, %s)"] * len(scores)),
                [v for cid, score in scores.items() for v in (prepared_id, cid, score)],
            )
        if status is not None:
            cursor.execute(
                f"UPDATE {request_table} SET status = %s, answered_at = %s WHERE id = %s",  # noqa: S608
                marked,
            )
    return answer_id


def submit_answer(
    request: ReviewRequest,
    *,
    scores: Mapping[int, int] | None = None,
    comment: str = "",
    not_received: bool = False,
    reason: str = "",
    draft: bool = False,
    now: dt.datetime | None = None,
    criteria: list[Criterion] | None = None,
) -> Answer:
    """Store the rater's answer (or draft); one answer per request whatever arrives twice.

    The request row is locked first, so two tabs, a double click or a replayed POST run one
    after the other and the second updates the answer the first wrote (found by its key).
    The cycle is only share-locked: answers to other requests go on side by side, while
    closing the cycle waits for them (and they for it).
    `criteria`: the request's applicable criteria when the caller already has them (the form
    view does), saving a query.
    """
    now = now or timezone.now()
    scores = {int(k): int(v) for k, v in (scores or {}).items() if v not in (None, "")}
    with transaction.atomic():
        locked = answerable_request(request.pk, lock=True)
        if locked is None:
            raise ReviewRequest.DoesNotExist
        cycle = locked.cycle
        if not cycle.accepts_answers(now):
            raise ReviewError(_("This cycle is closed; answers can no longer be changed."))
        if draft and not locked.is_pending:
            raise ReviewError(_("This answer was already submitted; submit your changes instead."))
        if criteria is None:
            criteria = applicable_criteria(cycle, locked.edge_type, locked.rank_kind)
        criterion_ids = {c.pk for c in criteria}
        if not_received:
            scores = {}
        else:
            if set(scores) - criterion_ids:
                raise ReviewError(_("A score was given for a criterion this request does not use."))
            if any(not 1 <= s <= 5 for s in scores.values()):
                raise ReviewError(_("Scores go from 1 to 5."))
            if not draft and set(scores) != criterion_ids:
                raise ReviewError(_("Give a score for every criterion."))
        values = {
            "edge_type": locked.edge_type,
            "rank_kind": locked.rank_kind,
            "provider_employee_id": locked.provider_employee_id,
            "provider_department_id": locked.provider_department_id,
            "customer_department_id": locked.customer_department_id,
            "submitted": not draft,
            "not_received": not_received,
            "reason": reason.strip() if not_received else "",
            "comment": "" if not_received else comment.strip(),
        }
        # Under the request's lock nobody else writes this answer.
        key = answer_key(locked.pk)
        status = None
        if not draft:
            status = RequestStatus.DECLINED if not_received else RequestStatus.ANSWERED
        answer_id = _store_answer(locked.pk, cycle.pk, key, values, scores, status=status, now=now)
        answer = Answer(id=answer_id, cycle_id=cycle.pk, key=key, **values)
        answer._state.adding = False
        if status is not None:
            request.status, request.answered_at = status, now
    return answer


# --- Reminders and the sweep ----------------------------------------------------------------


def remind_now(cycle: Cycle, *, round_number: int, actor=None) -> int:
    """HR's "send a reminder now": raters with pending requests, once per round.

    The round number comes from the page HR saw, so a double click sends one round. Raters
    whose invitation has not gone out yet, or only just (`record_notifications`), are left out.
    """
    if not cycle.is_open:
        raise ReviewError(_("Reminders go out only while a cycle is open."))
    with transaction.atomic():
        # Under the cycle's row lock: of two clicks at once, the second sees the first's event.
        Cycle.objects.select_for_update().filter(pk=cycle.pk).first()
        last = last_manual_reminder(cycle)
        if last is not None and timezone.now() < next_manual_reminder_at(last):
            raise ReviewError(
                _("A reminder went out at %(at)s to %(n)d people; the next one can go at %(next)s.")
                % {
                    "at": timezone.localtime(last.at).strftime("%Y-%m-%d %H:%M"),
                    "n": last.data.get("raters", 0),
                    "next": timezone.localtime(next_manual_reminder_at(last)).strftime("%H:%M"),
                }
            )
        created = queue_notifications(cycle, NotificationKind.MANUAL_REMINDER, offset=round_number)
        if created:
            CycleEvent.objects.create(
                cycle=cycle,
                kind=CycleEventKind.REMINDED,
                actor=actor,
                data={"round": round_number, "raters": created},
            )
    return created


def remind_department_raters(
    cycle: Cycle,
    department: Department,
    *,
    department_ids: list[int],
    actor=None,
    now: dt.datetime | None = None,
) -> int:
    """A head's "remind those who have not answered": the raters of the department and its
    sub-departments (`department_ids`) with pending requests about them, one e-mail each
    listing what they still have to answer. Returns how many; the head is told a number only
    where the page shows the response rate (`results.rater_response`), and never names.

    Once per ICR_MANUAL_REMINDER_WINDOW_MINUTES per department (a double click, or the head
    of a sub-department clicking too, is refused and says when the last one went), and no
    rater gets a second clicked reminder, HR's or a head's, within that window either.
    """
    if not cycle.is_open:
        raise ReviewError(_("Reminders go out only while a cycle is open."))
    now = now or timezone.now()
    with transaction.atomic():
        # Under the cycle's row lock: of two clicks at once, the second sees the first's event.
        Cycle.objects.select_for_update().filter(pk=cycle.pk).first()
        last = last_department_reminder(cycle, department.pk)
        if last is not None and now < next_manual_reminder_at(last):
            raise ReviewError(
                _("A reminder went out at %(at)s; the next one can go at %(next)s.")
                % {
                    "at": timezone.localtime(last.at).strftime("%Y-%m-%d %H:%M"),
                    "next": timezone.localtime(next_manual_reminder_at(last)).strftime("%H:%M"),
                }
            )
        kind = NotificationKind.DEPARTMENT_REMINDER
        offset = (
            NotificationLog.objects.filter(cycle=cycle, kind=kind)
            .order_by("-offset")
            .values_list("offset", flat=True)
            .first()
            or 0
        ) + 1
        created = record_notifications(
            cycle.pk, kind, offset=offset, now=now, provider_department_ids=department_ids
        )
        if created:
            _dispatch(cycle.pk, kind, offset)
        # Written also when nobody was left to remind: the click counts for the window.
        CycleEvent.objects.create(
            cycle=cycle,
            kind=CycleEventKind.DEPARTMENT_REMINDED,
            actor=actor,
            at=now,
            data={"department": department.pk, "round": offset, "raters": created},
        )
    return created


def last_department_reminder(cycle: Cycle, department_id: int) -> CycleEvent | None:
    """The latest head's reminder of this department's raters in this cycle."""
    return (
        CycleEvent.objects.filter(
            cycle=cycle,
            kind=CycleEventKind.DEPARTMENT_REMINDED,
            data__department=department_id,
        )
        .order_by("-at", "-pk")
        .first()
    )


def manual_reminder_window() -> dt.timedelta:
    return dt.timedelta(minutes=settings.ICR_MANUAL_REMINDER_WINDOW_MINUTES)


def last_manual_reminder(cycle: Cycle) -> CycleEvent | None:
    """HR's latest "send a reminder now" on this cycle that reached anyone."""
    return (
        CycleEvent.objects.filter(cycle=cycle, kind=CycleEventKind.REMINDED)
        .order_by("-at", "-pk")
        .first()
    )


def next_manual_reminder_at(last: CycleEvent) -> dt.datetime:
    return last.at + manual_reminder_window()


def next_manual_round(cycle: Cycle) -> int:
    last = (
        NotificationLog.objects.filter(cycle=cycle, kind=NotificationKind.MANUAL_REMINDER)
        .order_by("-offset")
        .values_list("offset", flat=True)
        .first()
    )
    return (last or 0) + 1


def queue_due_reminders(cycle: Cycle, *, now: dt.datetime | None = None) -> int:
    """The reminder the cycle owes now (`Cycle.reminder_due`), to pending raters whose
    invitation went out long enough ago (`record_notifications`)."""
    now = now or timezone.now()
    if not cycle.accepts_answers(now):
        return 0
    offset = cycle.reminder_due(now)
    if offset is None:
        return 0
    return queue_notifications(cycle, NotificationKind.REMINDER, offset=offset, now=now)


LOST_AFTER = dt.timedelta(minutes=5)


def process_handoffs(*, limit: int = 5000, now: dt.datetime | None = None) -> dict[str, int]:
    """One batch of pending hand-offs turned into rating requests (`handoffs.process_pending`),
    their e-mails dispatched once it commits; returns the hand-offs per outcome."""
    batch = handoffs.process_pending(limit=limit, now=now)
    if batch.notify_cycle_id is not None:
        _dispatch(batch.notify_cycle_id, NotificationKind.HANDOFF, 0)
    return batch.counts


def sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Catch up on everything time or a killed worker left undone; safe to run any time.

    Opens drafts whose opening time has come, queues due reminders, closes cycles past their
    deadline, and re-sends notifications that were recorded but never sent (a message lost with
    its worker) or whose worker died while it held them (`resend_stalled_notifications`, which
    also runs on its own, more often).
    """
    now = now or timezone.now()
    result = {"opened": 0, "closed": 0, "reminders": 0, "requeued": 0, "stalled": 0}
    # Closing first: a cycle past its deadline no longer keeps the next one from opening.
    for cycle in Cycle.objects.filter(status=CycleStatus.OPEN, deadline__lte=now):
        close_cycle(cycle, now=now)
        result["closed"] += 1
    drafts = Cycle.objects.filter(status=CycleStatus.DRAFT, opens_at__lte=now, deadline__gt=now)
    for cycle in drafts.order_by("opens_at", "pk"):  # of two that clash, the earlier opens
        try:
            open_cycle(cycle, now=now)
        except ReviewError as refused:
            # It stays a draft; HR sees why on the cycle's admin page and in the log.
            logger.warning("cycle %s not opened: %s", cycle.pk, refused)
            result["refused"] = result.get("refused", 0) + 1
            continue
        result["opened"] += 1
    for cycle in Cycle.objects.filter(status=CycleStatus.OPEN, deadline__gt=now):
        result["reminders"] += queue_due_reminders(cycle, now=now)
    for cycle_id, kind in events_without_notifications(now=now):
        _dispatch(cycle_id, kind, 0, after_commit=False)
        result["requeued"] += 1
    lost = (
        NotificationLog.objects.filter(
            status=NotificationStatus.PENDING, created_at__lt=now - LOST_AFTER
        )
        .values("cycle_id", "kind", "offset")
        .distinct()
    )
    dispatched: set[tuple] = set()
    for row in lost:
        # A hand-off's rows differ by offset (the request) but one dispatch sends them all.
        offset = 0 if row["kind"] == NotificationKind.HANDOFF else row["offset"]
        if (row["cycle_id"], row["kind"], offset) in dispatched:
            continue
        dispatched.add((row["cycle_id"], row["kind"], offset))
        _dispatch(row["cycle_id"], row["kind"], offset, after_commit=False)
        result["requeued"] += 1
    # After the lost ones: the rows given back here are queued by id, not found again above.
    result["stalled"] = resend_stalled_notifications(now=now)
    return result


def resend_stalled_notifications(*, now: dt.datetime | None = None) -> int:
    """Give back the notifications whose worker died while it held them, and queue them again.

    A row stays `sending` past its lease only if the run that claimed it stopped renewing it:
    its worker was killed or hung (the broker keeps or drops the task message, depending on the
    transport; Redis redelivers it only after its visibility timeout, an hour). Under the rows'
    lock they go back to `pending`, so a run that was only slow finds them gone when it next
    renews its claim and does not send them (`emails.send_batch`). Returns how many were queued.
    Periodic (settings.CELERY_BEAT_SCHEDULE), cheap: it reads only `sending` rows.
    """
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            NotificationLog.objects.stalled(now)
            .select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", flat=True)
        )
        if not ids:
            return 0
        NotificationLog.objects.filter(id__in=ids).update(status=NotificationStatus.PENDING)

        size = max(settings.ICR_NOTIFICATION_BATCH, 1)
        _queue_tasks(
            [
                ("send_notification_batch", (ids[start : start + size],))
                for start in range(0, len(ids), size)
            ]
        )
    return len(ids)


# A notice of a close that was lost for longer than this is no longer worth sending.
CLOSED_NOTICE_WINDOW = dt.timedelta(days=3)


def events_without_notifications(*, now: dt.datetime | None = None) -> list[tuple[int, str]]:
    """(cycle, kind) of openings and closes whose dispatch task never recorded their e-mails.

    The dispatch message went to a worker that was killed, or to a broker that lost it. A
    cycle with requests has raters, so no rows at all means nothing was recorded.
    """
    now = now or timezone.now()
    lost_before = now - LOST_AFTER

    def logged(kind):
        return Exists(NotificationLog.objects.filter(cycle_id=OuterRef("pk"), kind=kind))

    has_requests = Exists(ReviewRequest.objects.filter(cycle_id=OuterRef("pk")))
    # A hand-off period sends one e-mail per request when it is made, none for the period.
    opened = Cycle.objects.surveys().filter(
        has_requests,
        ~logged(NotificationKind.INVITATION),
        status=CycleStatus.OPEN,
        opened_at__lt=lost_before,
    )
    closed = Cycle.objects.surveys().filter(
        has_requests,
        ~logged(NotificationKind.CLOSED),
        status=CycleStatus.CLOSED,
        closed_at__lt=lost_before,
        closed_at__gte=now - CLOSED_NOTICE_WINDOW,
    )
    return [(pk, NotificationKind.INVITATION) for pk in opened.values_list("pk", flat=True)] + [
        (pk, NotificationKind.CLOSED) for pk in closed.values_list("pk", flat=True)
    ]


def refresh_request_statistics() -> None:
    """ANALYZE the requests table (PostgreSQL), which an opening may just have doubled.

    Until autovacuum catches up, the planner would take the new cycle for a handful of rows
    and scan all of it for every batch of invitations. A sample: about 0.5 s at a million rows.
    """
    analyze_tables(ReviewRequest)


# --- Messaging channels -----------------------------------------------------------------------


def set_channel(channel: str) -> MessagingSettings:
    """The company's channel for every message from now on (HR's settings page)."""
    if channel not in Channel.values:
        raise ReviewError(_("Unknown channel."))
    with transaction.atomic():
        row, _created = MessagingSettings.objects.update_or_create(
            pk=1, defaults={"channel": channel}
        )
    return row


def send_test_message(employee: Employee | None) -> str:
    """Send a test message to this employee on the company's channel, at once; returns the
    channel it went on. Unlike the cycle's messages it does not fall back to e-mail: HR wants
    to know that the platform reaches them. Raises ReviewError saying what went wrong."""
    if employee is None:
        raise ReviewError(_("Your login is not linked to an employee: nobody to send to."))
    channel = MessagingSettings.current_channel()
    link = absolute_url(reverse("reviews:inbox"))
    title = str(_("ICR test message"))
    text = str(_("This message was sent from ICR's channel settings; the button opens ICR."))
    if channel == Channel.EMAIL:
        if not employee.email:
            raise ReviewError(_("You have no e-mail address in the employee file."))
        send_mail(title, f"{text}\n\n{link}", settings.DEFAULT_FROM_EMAIL, [employee.email])
        return channel
    platform = channels.platform(channel)
    if platform is None:
        raise ReviewError(
            _("%(platform)s is not configured: set its values in the environment.")
            % {"platform": Channel(channel).label}
        )
    recipient = platform.recipient(employee)
    if recipient is None:
        raise ReviewError(_("You have no messaging ID (im_user_id column of the employee file)."))
    notice = channels.Notice(title=title, lines=[text], link=link, link_label=str(_("Open ICR")))
    try:
        channels.Sender(platform).send(recipient, notice)
    except channels.Refused as refused:
        raise ReviewError(
            _(
                "%(platform)s refused your ID “%(id)s” (%(reason)s): your messages would go by "
                "e-mail."
            )
            % {"platform": Channel(channel).label, "id": recipient.id, "reason": refused}
        ) from refused
    except channels.ChannelError as error:
        raise ReviewError(
            _("%(platform)s did not take the message: %(reason)s")
            % {"platform": Channel(channel).label, "reason": error}
        ) from error
    return channel


# --- Service commitments ----------------------------------------------------------------------


def commitment_department_id(edge: Edge) -> int | None:
    """The department that provides along `edge`: its provider department, or the provider
    person's department."""
    if edge.provider_department_id is not None:
        return edge.provider_department_id
    if edge.provider_employee_id is not None:
        return edge.provider_employee.department_id
    return None


def may_write_commitments(user, edge: Edge, *, roles=None) -> bool:
    """HR, or the head of the providing department or of a department above it."""
    from relations.roles import roles_of, visible_department_ids

    roles = roles or roles_of(user)
    if roles.is_hr:
        return True
    if not roles.is_head:
        return False
    department_id = commitment_department_id(edge)
    return department_id is not None and department_id in visible_department_ids(user, roles=roles)


def commitable_edges(user, *, roles=None):
    """The active relationships whose commitments this user may write (all of them for HR),
    rank aside: what a superior and a report owe each other is asked by the rank criteria."""
    from relations.roles import roles_of, visible_department_ids

    roles = roles or roles_of(user)
    edges = Edge.objects.active().exclude(type=EdgeType.RANK)
    if not roles.is_hr:
        departments = visible_department_ids(user, roles=roles) if roles.is_head else []
        edges = edges.filter(
            Q(provider_department_id__in=departments)
            | Q(provider_employee__department_id__in=departments)
        )
    return edges


def save_commitment(
    *,
    user,
    edge: Edge,
    deliverable: str,
    due: str = "",
    standard: str = "",
    criterion: Criterion | None = None,
    active: bool = True,
    commitment: ServiceCommitment | None = None,
) -> ServiceCommitment:
    """Write (or change) a commitment of the provider along `edge`; only HR and the providing
    department's head may (`may_write_commitments`)."""
    if commitment is not None and commitment.edge_id != edge.pk:
        raise ReviewError(_("This commitment belongs to another relationship."))
    if not may_write_commitments(user, edge):
        raise ReviewError(
            _("Only HR and the head of the providing department can write its commitments.")
        )
    if not edge.is_active:
        raise ReviewError(_("This relationship has been retired."))
    commitment = commitment or ServiceCommitment(edge=edge, created_by=user)
    commitment.deliverable = deliverable.strip()
    commitment.due = due.strip()
    commitment.standard = standard.strip()
    commitment.criterion = criterion
    commitment.active = active
    try:
        commitment.full_clean()
    except ValidationError as exc:
        raise ReviewError(" ".join(exc.messages)) from exc
    with transaction.atomic():
        commitment.save()
    return commitment
