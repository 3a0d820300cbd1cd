"""Mutual-evaluation cycles (互评): criteria, cycles and schedules, requests, anonymous answers.

Anonymity is structural: a `ReviewRequest` names the rater and records only *that* it was
answered; an `Answer` carries no rater, no timestamp, no relationship and a random primary key,
only its group (cycle, type, provider, customer department) and a key = HMAC(secret, request
id). Whoever holds the secret (the application) can find the rater's own answer again to let
them edit it until the deadline; a database reader without the secret cannot join answers to
people. Once the cycle closes, its answers are written again in random order with random keys
(`services.unlink_answers`), so neither ids nor row order nor transaction ids follow answer time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from icr.history import audited
from relations.models import Department, Edge, EdgeType, Employee, RankKind, service_text

DEFAULT_REMINDER_OFFSETS = [3, 1]


def default_reminder_offsets() -> list[int]:
    return list(DEFAULT_REMINDER_OFFSETS)


def all_edge_types() -> list[str]:
    return list(EdgeType.values)


class CriterionKind(models.TextChoices):
    """What a criterion can be aimed at: a relationship type, or one direction of rank (the
    superior as task customer of a report's work, the report as condition customer of the
    superior's resources and support), which are different services."""

    RANK = "rank", _("Rank (both directions)")
    RANK_TASK = "rank_task", _("Rank · task customer (the superior rates the work)")
    RANK_CONDITION = "rank_condition", _("Rank · condition customer (the report rates support)")
    FUNCTION = "function", _("Function")
    PROCESS = "process", _("Process")
    WORKFLOW = "workflow", _("Workflow")


def rank_sub_kind(edge_type: str, rank_kind: str) -> str:
    """The criterion kind naming a rank request's direction ("rank_task"), "" for others."""
    return f"rank_{rank_kind}" if edge_type == EdgeType.RANK and rank_kind else ""


class Score(models.IntegerChoices):
    """The 1–5 scale, one label per point."""

    VERY_DISSATISFIED = 1, _("1 · Very dissatisfied")
    DISSATISFIED = 2, _("2 · Dissatisfied")
    NEUTRAL = 3, _("3 · Neither")
    SATISFIED = 4, _("4 · Satisfied")
    VERY_SATISFIED = 5, _("5 · Very satisfied")


def _bilingual(zh: str, en: str) -> str:
    """The English text for English readers, the Chinese one otherwise (the default language)."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    if language.startswith("en") and en:
        return en
    return zh or en


class CriterionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Criterion(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    edge_types = models.JSONField(
        _("relationship types"),
        default=list,
        blank=True,
        help_text=_(
            "The relationship types this criterion applies to; empty means all. A rank "
            "request whose direction (task or condition customer) has criteria aimed at it "
            "by name is asked those only."
        ),
    )

    objects = CriterionQuerySet.as_manager()
    history = audited(no_db_index=["code"])

    class Meta:
        verbose_name = _("criterion")
        verbose_name_plural = _("criteria")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return _bilingual(self.name_zh, self.name_en)

    @property
    def description(self) -> str:
        return _bilingual(self.description_zh, self.description_en)

    def applies_to(self, edge_type: str, rank_kind: str = "") -> bool:
        if not self.edge_types:
            return True
        return edge_type in self.edge_types or self.names_direction(edge_type, rank_kind)

    def names_direction_any(self) -> bool:
        """Aimed at a rank direction by name (task or condition customer)."""
        return any(t.startswith("rank_") for t in self.edge_types or [])

    def names_direction(self, edge_type: str, rank_kind: str) -> bool:
        """Aimed at this rank direction by name ("rank_task"), not only at a whole type."""
        sub_kind = rank_sub_kind(edge_type, rank_kind)
        return bool(sub_kind) and sub_kind in (self.edge_types or [])


class ServiceCommitmentQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class ServiceCommitment(models.Model):
    """What a provider owes along one relationship (内部供方应尽的义务): what is delivered, by
    when, at what quality ("合同审核 2 个工作日内完成").

    Written by the head of the provider's department (or of a department above it) or by HR
    (`reviews.services.save_commitment`); raters see the relationship's commitments on the
    rating form, and a commitment tied to a criterion shows that criterion's figure beside it
    on the department page, as published (`reviews.results.commitment_figures`).
    """

    edge = models.ForeignKey(
        Edge,
        verbose_name=_("relationship"),
        on_delete=models.PROTECT,
        related_name="commitments",
    )
    deliverable = models.CharField(
        _("what is delivered"),
        max_length=200,
        help_text=_("For example: contract review (合同审核)."),
    )
    due = models.CharField(
        _("by when"),
        max_length=100,
        blank=True,
        help_text=_("For example: within 2 working days (2 个工作日内)."),
    )
    standard = models.CharField(
        _("at what quality"),
        max_length=200,
        blank=True,
        help_text=_("For example: every clause checked, written comments."),
    )
    criterion = models.ForeignKey(
        Criterion,
        verbose_name=_("measured by criterion"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="commitments",
        help_text=_("The criterion whose figure shows how well the commitment is kept."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("written by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ServiceCommitmentQuerySet.as_manager()
    history = audited(no_db_index=["edge", "criterion", "created_by"])

    class Meta:
        verbose_name = _("service commitment")
        verbose_name_plural = _("service commitments")
        ordering = ["edge", "id"]
        constraints = [
            # A commitment says what is delivered; "by when" and "quality" may be left open.
            models.CheckConstraint(
                condition=~Q(deliverable=""), name="reviews_servicecommitment_says_what"
            ),
        ]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        edge = self.edge if self.edge_id else None
        if edge is not None and edge.type == EdgeType.RANK:
            raise ValidationError(
                {
                    "edge": _(
                        "Rank relationships have no commitments: their criteria say what is owed."
                    )
                }
            )
        if edge is not None and self.criterion_id and not self.criterion.applies_to(edge.type):
            raise ValidationError(
                {"criterion": _("This criterion is not asked about this type of relationship.")}
            )

    @property
    def text(self) -> str:
        """The commitment in one line: "合同审核 · 2 个工作日内 · 逐条审核"."""
        return " · ".join(part for part in (self.deliverable, self.due, self.standard) if part)


class CycleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Cadence(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    CUSTOM = "custom", _("Custom crontab (edit the periodic task)")


class CycleTemplate(models.Model):
    """What a scheduled cycle looks like; a django-celery-beat PeriodicTask opens one when due.

    The periodic task calls `reviews.tasks.open_scheduled_cycle(template_id=…)`; HR edits its
    schedule in the admin (monthly and quarterly are set up from `cadence`, anything else is a
    crontab edited on the periodic task itself).
    """

    name = models.CharField(
        _("name"),
        max_length=200,
        help_text=_("Cycle names are this name followed by the opening date."),
    )
    active = models.BooleanField(_("active"), default=True)
    cadence = models.CharField(
        _("cadence"), max_length=16, choices=Cadence.choices, default=Cadence.QUARTERLY
    )
    edge_types = models.JSONField(_("relationship types"), default=all_edge_types)
    criteria = models.ManyToManyField(
        Criterion,
        verbose_name=_("criteria"),
        blank=True,
        related_name="+",
        help_text=_("Empty means every active criterion at opening time."),
    )
    open_days = models.PositiveIntegerField(
        _("days open"), default=14, help_text=_("The deadline is this many days after opening.")
    )
    period_days = models.PositiveIntegerField(
        _("period covered (days)"),
        default=90,
        help_text=_("The cycle covers this many days before its opening."),
    )
    reminder_offsets = models.JSONField(
        _("reminder offsets (days before the deadline)"), default=default_reminder_offsets
    )
    member_limit = models.PositiveIntegerField(
        _("evaluators per department end"),
        null=True,
        blank=True,
        help_text=_("Head plus members, at most this many; empty means all."),
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        verbose_name=_("schedule"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    history = audited(m2m_fields=["criteria"], no_db_index=["periodic_task"])

    class Meta:
        verbose_name = _("cycle schedule")
        verbose_name_plural = _("cycle schedules")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CycleKind(models.TextChoices):
    SURVEY = "survey", _("Survey")
    HANDOFFS = "handoffs", _("Hand-offs of one period")


class CycleQuerySet(models.QuerySet):
    def surveys(self):
        return self.filter(kind=CycleKind.SURVEY)

    def handoff_periods(self):
        return self.filter(kind=CycleKind.HANDOFFS)


class Cycle(models.Model):
    """A mutual-evaluation cycle, or (`kind` handoffs) the container of one period's hand-off
    ratings: opened by the first hand-off of the period, closed by the sweep after its
    deadline like any cycle, so its figures go through the same rollups and suppression."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(
        _("kind"), max_length=8, choices=CycleKind.choices, default=CycleKind.SURVEY
    )
    template = models.ForeignKey(
        CycleTemplate,
        verbose_name=_("schedule"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cycles",
    )
    scheduled_for = models.DateField(
        _("scheduled for"),
        null=True,
        blank=True,
        help_text=_("For scheduled cycles: the day the schedule fired (one cycle per day)."),
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    opens_at = models.DateTimeField(_("opens at"), default=timezone.now)
    deadline = models.DateTimeField(_("deadline"))
    edge_types = models.JSONField(_("relationship types"), default=all_edge_types)
    criteria = models.ManyToManyField(Criterion, verbose_name=_("criteria"), related_name="cycles")
    reminder_offsets = models.JSONField(
        _("reminder offsets (days before the deadline)"),
        default=default_reminder_offsets,
        blank=True,  # no reminders
    )
    member_limit = models.PositiveIntegerField(
        _("evaluators per department end"),
        null=True,
        blank=True,
        help_text=_("Head plus members, at most this many; empty means all."),
    )
    request_cap = models.PositiveIntegerField(
        _("requests per person at most"),
        null=True,
        blank=True,
        help_text=_(
            "Empty means no cap. When a person would get more, the requests kept are those "
            "that let the most departments' results be shown."
        ),
    )
    status = models.CharField(
        _("status"), max_length=8, choices=CycleStatus.choices, default=CycleStatus.DRAFT
    )
    opened_at = models.DateTimeField(_("opened at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Set by `services.unlink_answers`, in the transaction that rewrote the closed cycle's
    # answers; never set while the cycle is open.
    answers_unlinked_at = models.DateTimeField(
        _("answers unlinked at"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = CycleQuerySet.as_manager()
    history = audited(m2m_fields=["criteria"], no_db_index=["template"])

    class Meta:
        verbose_name = _("cycle")
        verbose_name_plural = _("cycles")
        ordering = ["-deadline", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_start__lte=F("period_end")), name="reviews_cycle_period_order"
            ),
            models.CheckConstraint(
                condition=Q(opens_at__lt=F("deadline")), name="reviews_cycle_opens_before_deadline"
            ),
            models.UniqueConstraint(
                fields=["template", "scheduled_for"], name="reviews_cycle_one_per_schedule_day"
            ),
            # A cap of 0 would send nothing at all: no cap is NULL.
            models.CheckConstraint(
                condition=Q(request_cap__isnull=True) | Q(request_cap__gte=1),
                name="reviews_cycle_request_cap_positive",
            ),
            # Two hand-offs arriving at once in a new period open one period, not two.
            models.UniqueConstraint(
                fields=["period_start"],
                condition=Q(kind="handoffs"),
                name="reviews_cycle_one_handoff_period",
            ),
        ]
        indexes = [models.Index(fields=["status", "deadline"], name="reviews_cycle_status")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status == CycleStatus.OPEN

    def accepts_answers(self, now=None) -> bool:
        """Answers can be given and changed while the cycle is open and before its deadline."""
        return self.status == CycleStatus.OPEN and (now or timezone.now()) < self.deadline

    def asked_types(self) -> set[str]:
        """The relationship types this cycle asks about (none listed: all of them)."""
        return set(self.edge_types or all_edge_types())

    def overlapping_open_cycle(self, now=None) -> Cycle | None:
        """Another cycle still open (before its deadline) that asks about one of this cycle's
        relationship types: opening this one too would put a second request for the same
        service into each rater's inbox."""
        now = now or timezone.now()
        if self.kind == CycleKind.HANDOFFS:
            return None  # hand-off requests are spaced by their own rule (HandoffPolicy)
        others = (
            Cycle.objects.surveys()
            .filter(status=CycleStatus.OPEN, deadline__gt=now)
            .exclude(pk=self.pk)
        )
        mine = self.asked_types()
        for other in others.order_by("deadline", "pk"):
            if other.asked_types() & mine:
                return other
        return None

    def reminder_due(self, now=None) -> int | None:
        """The reminder the cycle owes at `now`, as its offset (days before the deadline).

        The latest offset whose time has come: one passed over by then is not sent at all, so
        raters never get two reminders at once (after the sweep stopped for a while, say).
        None if that time was at or before the opening: the invitations go out then, and a
        reminder with them would only repeat them (a 3-day cycle's "3 days before").
        """
        now = now or timezone.now()
        come = [
            int(o)
            for o in self.reminder_offsets or []
            if self.deadline - dt.timedelta(days=int(o)) <= now
        ]
        if not come:
            return None
        offset = min(come)
        if self.deadline - dt.timedelta(days=offset) <= (self.opened_at or self.opens_at):
            return None
        return offset


class CycleEventKind(models.TextChoices):
    OPENED = "opened", _("Opened")
    CLOSED = "closed", _("Closed")
    REMINDED = "reminded", _("Reminder sent")
    # A department head's "remind those who have not answered" (data: department, raters).
    DEPARTMENT_REMINDED = "dept_reminded", _("Reminder sent by a department head")


class CycleEvent(models.Model):
    """Audit trail of what happened to a cycle, written in the same transaction as the change."""

    cycle = models.ForeignKey(
        Cycle, verbose_name=_("cycle"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=CycleEventKind.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("cycle event")
        verbose_name_plural = _("cycle events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.cycle} · {self.get_kind_display()}"


class DepartmentEvaluator(models.Model):
    """A person HR designated to rate on behalf of a department end (instead of its members)."""

    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.CASCADE,
        related_name="designated_evaluators",
    )
    employee = models.ForeignKey(
        Employee,
        verbose_name=_("evaluator"),
        on_delete=models.CASCADE,
        related_name="evaluator_for",
    )

    class Meta:
        verbose_name = _("designated evaluator")
        verbose_name_plural = _("designated evaluators")
        constraints = [
            models.UniqueConstraint(
                fields=["department", "employee"], name="reviews_departmentevaluator_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.department} · {self.employee}"


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    ANSWERED = "answered", _("Answered")
    DECLINED = "declined", _("Did not receive the service")


class ReviewRequestQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=RequestStatus.PENDING)

    def done(self):
        return self.exclude(status=RequestStatus.PENDING)

    def open_for(self, employee_id: int):
        return self.filter(rater_id=employee_id, cycle__status=CycleStatus.OPEN)


def _snapshot_department(verbose_name, *, db_index: bool = True):
    # Plain ids for history: no constraint to check on a million-row insert, still joinable.
    return models.ForeignKey(
        Department,
        verbose_name=verbose_name,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=db_index,
        related_name="+",
    )


class ReviewRequest(models.Model):
    """Rater X is asked to rate the service they received along edge E in cycle C.

    Everything shown to people is copied when the cycle opens, so later moves, departures and
    retirements do not rewrite history.
    """

    # A cycle opens with a million of these rows in one statement, so what is checked per row
    # is kept to what is needed (an FK check is a lookup per row: about 6 s per key at 1M rows).
    # - Indexes: lookups by cycle use the unique constraint's (cycle, edge, rater), by rater the
    #   (rater, cycle, status) index; nothing looks requests up by edge or snapshot department.
    # - No FK constraints: the rows come from an INSERT … SELECT of existing edges and employees
    #   under the cycle's row lock, so they cannot point at a missing row when written; what
    #   could orphan them later is refused on the rare side instead: PostgreSQL refuses
    #   deleting an edge (relations 0006) and, by trigger, a cycle or an employee that has
    #   requests (reviews 0004); Django's PROTECT refuses the same in the ORM.
    cycle = models.ForeignKey(
        Cycle,
        verbose_name=_("cycle"),
        on_delete=models.PROTECT,
        related_name="requests",
        db_index=False,
        db_constraint=False,
    )
    edge = models.ForeignKey(
        Edge,
        verbose_name=_("relationship"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    rater = models.ForeignKey(
        Employee,
        verbose_name=_("rater"),
        on_delete=models.PROTECT,
        related_name="review_requests",
        db_index=False,
        db_constraint=False,
    )
    # Snapshot at opening time.
    rater_name = models.CharField(_("rater name"), max_length=200)
    rater_department = _snapshot_department(_("rater department id"), db_index=False)
    rater_department_name = models.CharField(_("rater department"), max_length=200)
    edge_type = models.CharField(_("type"), max_length=16, choices=EdgeType.choices)
    rank_kind = models.CharField(_("rank kind"), max_length=16, choices=RankKind.choices)
    service = models.TextField(_("service"), blank=True)
    provider_employee = models.ForeignKey(
        Employee,
        verbose_name=_("provider employee"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    provider_name = models.CharField(_("provider"), max_length=200)
    provider_department = _snapshot_department(_("provider department id"), db_index=False)
    provider_department_name = models.CharField(_("provider department"), max_length=200)
    customer_name = models.CharField(_("customer"), max_length=200)
    customer_department = _snapshot_department(_("customer department id"), db_index=False)
    customer_department_name = models.CharField(_("customer department"), max_length=200)
    status = models.CharField(
        _("status"), max_length=8, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # A hand-off request only: the spacing interval it fell in (`HandoffPolicy.bucket`).
    spacing_bucket = models.IntegerField(_("spacing interval"), null=True, blank=True)

    objects = ReviewRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("review request")
        verbose_name_plural = _("review requests")
        ordering = ["cycle", "provider_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "edge", "rater"], name="reviews_reviewrequest_once_per_cycle"
            ),
            # At most one hand-off request per rater and relationship per spacing interval,
            # however many hand-offs arrive at once (the insert skips a conflicting row).
            models.UniqueConstraint(
                fields=["edge", "rater", "spacing_bucket"],
                condition=Q(spacing_bucket__isnull=False),
                name="reviews_reviewrequest_once_per_interval",
            ),
            models.CheckConstraint(
                condition=Q(status=RequestStatus.PENDING, answered_at__isnull=True)
                | (~Q(status=RequestStatus.PENDING) & Q(answered_at__isnull=False)),
                name="reviews_reviewrequest_answered_at_matches",
            ),
        ]
        indexes = [
            models.Index(fields=["rater", "cycle", "status"], name="reviews_request_rater"),
            models.Index(fields=["cycle", "status"], name="reviews_request_cycle_status"),
        ]

    def __str__(self) -> str:
        return f"{self.rater_name} → {self.provider_name} ({self.get_edge_type_display()})"

    @property
    def is_pending(self) -> bool:
        return self.status == RequestStatus.PENDING

    def state_label(self, now=None) -> str:
        """The request's state as its rater reads it: a pending request of a closed cycle (or
        past its deadline) was not answered and can no longer be; it is not pending."""
        if self.status == RequestStatus.PENDING and not self.cycle.accepts_answers(now):
            return str(_("Expired, not answered"))
        return str(self.get_status_display())

    @property
    def service_text(self) -> str:
        """The service in the reader's language if ICR wrote it, as HR wrote it otherwise, and
        what the relationship is when nobody described it."""
        return service_text(self.service, provider=self.provider_name, customer=self.customer_name)

    def type_label(self) -> str:
        if self.edge_type == EdgeType.RANK and self.rank_kind:
            return f"{self.get_edge_type_display()} · {self.get_rank_kind_display()}"
        return str(self.get_edge_type_display())

    def answer_key(self) -> str:
        return answer_key(self.pk)

    @property
    def rated_alone(self) -> bool:
        """A superior rating a direct report: one rater by nature, so not anonymous to HR or,
        if HR so chooses, to the report (`RankTaskVisibility`); labelled wherever asked."""
        return self.edge_type == EdgeType.RANK and self.rank_kind == RankKind.TASK


def answer_key(request_id: int) -> str:
    """HMAC of the request id: lets the application find the rater's answer, nobody else."""
    secret = (settings.ICR_ANSWER_KEY_SECRET or settings.SECRET_KEY).encode()
    message = f"reviews.answer:{request_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


class Answer(models.Model):
    """One rater's answer in one cycle, without the rater and without the relationship.

    No timestamp and a random primary key, and no reference to the edge (on a person's edge
    that would name the rater): only the group the answer counts in, which is what the
    rollups read. While the cycle is open an answer is written in the same transaction as its
    request's status; once it closed, `services.unlink_answers` writes every answer and score
    again in random order with a random key, so neither ids, physical order nor transaction
    ids line an answer up with the request that was marked answered.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Every read of answers is by cycle, served by the indexes that start with it (one per key,
    # rollup), so the foreign keys and snapshot ids get no index of their own: each would be
    # one more index written by every submission and every bulk answer (issue 4's load test).
    cycle = models.ForeignKey(
        Cycle,
        verbose_name=_("cycle"),
        on_delete=models.PROTECT,
        related_name="answers",
        db_index=False,
    )
    key = models.CharField(_("key"), max_length=64)
    edge_type = models.CharField(_("type"), max_length=16, choices=EdgeType.choices)
    rank_kind = models.CharField(_("rank kind"), max_length=16, choices=RankKind.choices)
    provider_employee = models.ForeignKey(
        Employee,
        verbose_name=_("provider employee"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    provider_department = _snapshot_department(_("provider department id"), db_index=False)
    customer_department = _snapshot_department(_("customer department id"), db_index=False)
    submitted = models.BooleanField(_("submitted"), default=False)
    not_received = models.BooleanField(_("did not receive the service"), default=False)
    reason = models.TextField(_("reason"), blank=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        constraints = [
            models.UniqueConstraint(fields=["cycle", "key"], name="reviews_answer_one_per_key"),
        ]
        indexes = [
            models.Index(
                fields=["cycle", "provider_department", "edge_type"], name="reviews_answer_rollup"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cycle} · {self.get_edge_type_display()}"


class AnswerScore(models.Model):
    # Found by answer through the unique (answer, criterion) index: no second index on answer.
    answer = models.ForeignKey(
        Answer,
        verbose_name=_("answer"),
        on_delete=models.CASCADE,
        related_name="scores",
        db_index=False,
    )
    criterion = models.ForeignKey(
        Criterion, verbose_name=_("criterion"), on_delete=models.PROTECT, related_name="+"
    )
    score = models.PositiveSmallIntegerField(_("score"), choices=Score.choices)

    class Meta:
        verbose_name = _("score")
        verbose_name_plural = _("scores")
        constraints = [
            models.UniqueConstraint(
                fields=["answer", "criterion"], name="reviews_answerscore_one_per_criterion"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=5), name="reviews_answerscore_score_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.criterion_id}: {self.score}"


class NotificationKind(models.TextChoices):
    INVITATION = "invitation", _("Invitation")
    REMINDER = "reminder", _("Reminder")
    MANUAL_REMINDER = "manual", _("Reminder sent by HR")
    DEPARTMENT_REMINDER = "dept", _("Reminder sent by a department head")
    CLOSED = "closed", _("Cycle closed")
    # A department answered a comment of a closed cycle; offset: the comment's id.
    REPLY = "reply", _("Answer to a comment")
    HANDOFF = "handoff", _("Hand-off rating request")


class Channel(models.TextChoices):
    """How a person is messaged: e-mail, or the company's messaging platform."""

    EMAIL = "email", _("E-mail")
    WECOM = "wecom", _("WeCom (企业微信)")
    DINGTALK = "dingtalk", _("DingTalk (钉钉)")
    FEISHU = "feishu", _("Feishu (飞书)")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")


# Reminders: sent only to raters with pending requests, and skipped if they answered since.
REMINDER_KINDS = (
    NotificationKind.REMINDER,
    NotificationKind.MANUAL_REMINDER,
    NotificationKind.DEPARTMENT_REMINDER,
)
# Reminders someone clicked: a rater gets one of them per ICR_MANUAL_REMINDER_WINDOW_MINUTES.
CLICKED_REMINDER_KINDS = (NotificationKind.MANUAL_REMINDER, NotificationKind.DEPARTMENT_REMINDER)


def notification_lease() -> dt.timedelta:
    """How long a claim on notification rows holds without being renewed (settings)."""
    return dt.timedelta(seconds=settings.ICR_NOTIFICATION_LEASE_SECONDS)


def reminder_gap() -> dt.timedelta:
    """A rater's reminders wait at least this long after their invitation was sent (settings)."""
    return dt.timedelta(hours=settings.ICR_REMINDER_MIN_GAP_HOURS)


class NotificationLogQuerySet(models.QuerySet):
    def held_by(self, claim: uuid.UUID):
        """Rows this claim still holds: `sending` under it (none given back or taken over)."""
        return self.filter(status=NotificationStatus.SENDING, claim=claim)

    def stalled(self, now: dt.datetime):
        """`sending` rows whose claim was not renewed within the lease: their worker is gone."""
        return self.filter(
            status=NotificationStatus.SENDING, claimed_at__lt=now - notification_lease()
        )


class NotificationLog(models.Model):
    """One e-mail per (cycle, rater, kind, offset): the unique row is what prevents a resend.

    Rows are created `pending` when the event happens (set-based), claimed `sending` by one run
    of a batch task (`claim`, a random token, and `claimed_at`, the start of its lease), and
    marked `sent` right after the SMTP server accepted the message. The run renews its lease
    while it works; a `sending` row whose lease ran out was held by a worker that died, and
    `services.resend_stalled_notifications` gives it back (`pending`) and queues it again.
    """

    # Opening a cycle writes one row per rater (100,000 at once), so no per-row FK checks: the
    # rows are selected from the cycle's requests, whose cycle and rater PostgreSQL refuses to
    # delete (reviews 0004); Django still cascades deletes. The unique constraint serves
    # lookups by cycle.
    cycle = models.ForeignKey(
        Cycle,
        verbose_name=_("cycle"),
        on_delete=models.CASCADE,
        related_name="notifications",
        db_constraint=False,
        db_index=False,
    )
    rater = models.ForeignKey(
        Employee,
        verbose_name=_("rater"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    kind = models.CharField(_("kind"), max_length=16, choices=NotificationKind.choices)
    # Days before the deadline for reminders, the round number for manual ones, the request's
    # id for a hand-off (one e-mail per hand-off request), 0 otherwise.
    offset = models.IntegerField(_("offset"), default=0)
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # The run of a batch task that holds the row (`sending`) or last held it.
    claim = models.UUIDField(_("claim"), null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # The channel the message went out on, written with `sent`: one row, one message, whichever
    # channel carried it (a platform's refusal falls back to e-mail within the same claim).
    channel = models.CharField(
        _("channel"), max_length=8, choices=Channel.choices, blank=True, db_default=""
    )

    objects = NotificationLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "rater", "kind", "offset"], name="reviews_notificationlog_once"
            ),
            # A row being sent has an owner and a lease: without them nothing could tell a
            # live send from one a dead worker left, and the row would never be sent again.
            models.CheckConstraint(
                condition=~Q(status=NotificationStatus.SENDING)
                | Q(claim__isnull=False, claimed_at__isnull=False),
                name="reviews_notificationlog_sending_is_claimed",
            ),
            # A sent message names its channel; nothing else does.
            models.CheckConstraint(
                condition=Q(status=NotificationStatus.SENT, channel__in=Channel.values)
                | (~Q(status=NotificationStatus.SENT) & Q(channel="")),
                name="reviews_notificationlog_sent_has_channel",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="reviews_notification_status")
        ]

    def __str__(self) -> str:
        return f"{self.cycle} · {self.rater_id} · {self.kind}"


class MessagingSettings(models.Model):
    """The company's choice of channel (one row). Credentials never live here: they come from
    the environment or files (settings.ICR_WECOM_*, ICR_DINGTALK_*, ICR_FEISHU_*)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    channel = models.CharField(
        _("channel"),
        max_length=8,
        choices=Channel.choices,
        default=Channel.EMAIL,
        help_text=_(
            "Invitations, reminders and notices go here; e-mail is the fallback for people "
            "without an ID on the platform or whom the platform refuses."
        ),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    # Who switched the company's channel, and when: the audit trail.
    history = audited()

    class Meta:
        verbose_name = _("channels and sign-in")
        verbose_name_plural = _("channels and sign-in")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="reviews_messagingsettings_one_row")
        ]

    def __str__(self) -> str:
        return str(self.get_channel_display())

    @classmethod
    def current_channel(cls) -> str:
        row = cls.objects.filter(pk=1).values_list("channel", flat=True).first()
        return row or Channel.EMAIL


class RateBucket(models.Model):
    """A token bucket per messaging platform, shared by every worker process (`channels`).

    In the database rather than in Redis: the limit is the platform's, for the whole company,
    so it must hold across processes and hosts, and the database is the one store every
    deployment shares (Redis is optional, and a memory cache is per process). One short
    locked UPDATE per handful of messages is far below what either database takes.
    """

    platform = models.CharField(_("platform"), max_length=16, primary_key=True)
    tokens = models.FloatField(_("tokens"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("rate bucket")
        verbose_name_plural = _("rate buckets")
        constraints = [
            models.CheckConstraint(
                condition=Q(tokens__gte=0), name="reviews_ratebucket_not_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform}: {self.tokens:.1f}"


class HandoffPolicy(models.Model):
    """HR's rule for asking about hand-offs of one relationship type: the share of hand-offs
    that become a request, and at most one request per rater and relationship per interval."""

    edge_type = models.CharField(
        _("relationship type"), max_length=16, choices=EdgeType.choices, unique=True
    )
    probability = models.FloatField(
        _("probability of asking"),
        default=1.0,
        help_text=_("From 0 (never ask) to 1 (ask about every hand-off)."),
    )
    spacing_days = models.PositiveIntegerField(
        _("spacing (days)"),
        default=7,
        help_text=_(
            "At most one request per rater and relationship in each interval of this many days."
        ),
    )

    history = audited()

    class Meta:
        verbose_name = _("hand-off rating rule")
        verbose_name_plural = _("hand-off rating rules")
        ordering = ["edge_type"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=1),
                name="reviews_handoffpolicy_probability_range",
            ),
            models.CheckConstraint(
                condition=Q(spacing_days__gte=1), name="reviews_handoffpolicy_spacing_positive"
            ),
        ]

    def __str__(self) -> str:
        return str(self.get_edge_type_display())

    def bucket(self, at: dt.datetime) -> int:
        """The number of the spacing interval `at` falls in (intervals counted from 1970)."""
        return int(at.timestamp() // (self.spacing_days * 86400))


class HandoffOutcome(models.TextChoices):
    PENDING = "pending", _("Not processed yet")
    ASKED = "asked", _("Rating requested")
    NOT_SAMPLED = "not_sampled", _("Not sampled")
    SPACED = "spaced", _("Asked recently (spacing)")
    NO_RELATIONSHIP = "no_relationship", _("No such relationship")
    UNKNOWN = "unknown", _("Unknown person, department, workflow or step")


class Handoff(models.Model):
    """A hand-off another system reported: work passed from a provider (a person or a
    department) to a receiving person at a workflow step (a process relationship) or in a
    workflow (a workflow relationship). Accepted as it came (`source_id`, `client_key` make a
    retry a no-op); `reviews.handoffs.process_pending` turns it into a rating request later,
    in batches."""

    # The API token that reported it (api.ApiToken); a plain id, the reviews app knows no API.
    source_id = models.PositiveIntegerField(_("source"))
    client_key = models.CharField(_("idempotency key"), max_length=200)
    # As the other system named them (step id, workflow code, employee IDs, department code):
    # accepting a hand-off is one insert, and they are looked up when it is processed.
    step_id = models.PositiveIntegerField(_("step"), null=True, blank=True)
    workflow_code = models.CharField(_("workflow"), max_length=64, blank=True)
    provider_employee = models.CharField(_("provider employee ID"), max_length=64, blank=True)
    provider_department = models.CharField(_("provider department code"), max_length=64, blank=True)
    receiver = models.CharField(_("receiving person's employee ID"), max_length=64)
    external_ref = models.CharField(_("external reference"), max_length=200, blank=True)
    at = models.DateTimeField(_("handed off at"))
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    outcome = models.CharField(
        _("outcome"),
        max_length=16,
        choices=HandoffOutcome.choices,
        default=HandoffOutcome.PENDING,
    )
    request = models.ForeignKey(
        ReviewRequest,
        verbose_name=_("request"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta:
        verbose_name = _("hand-off")
        verbose_name_plural = _("hand-offs")
        constraints = [
            models.UniqueConstraint(
                fields=["source_id", "client_key"], name="reviews_handoff_once_per_key"
            ),
            models.CheckConstraint(
                condition=Q(step_id__isnull=False) | ~Q(workflow_code=""),
                name="reviews_handoff_step_or_workflow",
            ),
            models.CheckConstraint(
                condition=(~Q(provider_employee="") & Q(provider_department=""))
                | (Q(provider_employee="") & ~Q(provider_department="")),
                name="reviews_handoff_one_provider",
            ),
        ]
        indexes = [
            models.Index(
                fields=["id"],
                condition=Q(outcome="pending"),
                name="reviews_handoff_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_ref or self.pk} → {self.receiver_id}"


from .rollup_models import *  # noqa: E402, F403  (results rows: registered with this app)
