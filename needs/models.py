"""Between cycles: needs and complaints a customer raises, relationships people propose.

The internal customer's right to ask for service (索取服务是内部客户享有的权利) and the half of
a department's functions nobody wrote down (能通过文字描述的部门职能, 只占 50% 左右).

A `Need` is a thread about a relationship's *group* (type, provider end, customer department),
never about the edge itself: on an edge whose customer is one person the edge would name them.
An anonymous need stores no raiser, no edge, a random id and only the day it was raised; its
`raiser_key` is an HMAC of (need id, raiser id) under the answer-key secret, so the
application can tell the raiser their own thread while a database reader without the secret
cannot join it to anyone (the same construction as `reviews.models.Answer`). Needs are not in
the audit trail: a history row would carry the user who wrote it.

A `RelationshipProposal` is an employee's proposal of a relationship they take part in; HR
accepts it (a normal pair with its reverse, through `relations.services.create_pair`) or
declines it in the admin.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from relations.models import (
    Department,
    EdgeType,
    Employee,
    RankKind,
    RelationPair,
    relationship_end_constraints,
)


class NeedKind(models.TextChoices):
    NEED = "need", _("Need")
    COMPLAINT = "complaint", _("Complaint")


class NeedStatus(models.TextChoices):
    OPEN = "open", _("Waiting for the provider")
    DONE = "done", _("Done, waiting for the customer")
    RESOLVED = "resolved", _("Resolved")
    UNRESOLVED = "unresolved", _("Not resolved")


ANSWERED_STATUSES = (NeedStatus.DONE, NeedStatus.RESOLVED, NeedStatus.UNRESOLVED)
CONFIRMED_STATUSES = (NeedStatus.RESOLVED, NeedStatus.UNRESOLVED)


def raiser_key(need_id: uuid.UUID, employee_id: int) -> str:
    """HMAC of the thread and its raiser: the application can recognise the raiser, a database
    reader without the secret cannot; one key per thread, so two threads of the same person do
    not share a key either."""
    secret = (settings.ICR_ANSWER_KEY_SECRET or settings.SECRET_KEY).encode()
    message = f"needs.raiser:{need_id}:{employee_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


class NeedQuerySet(models.QuerySet):
    def about_departments(self, department_ids):
        return self.filter(provider_department_id__in=department_ids)

    def waiting(self):
        """Waiting for the provider: just raised, or the customer said it is not resolved."""
        return self.filter(status__in=[NeedStatus.OPEN, NeedStatus.UNRESOLVED])


class Need(models.Model):
    """A need or complaint about the service of one relationship group, and its answer."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=NeedKind.choices)
    # The group: what the provider's head and the figures see.
    edge_type = models.CharField(_("type"), max_length=16, choices=EdgeType.choices)
    rank_kind = models.CharField(
        _("rank kind"), max_length=16, choices=RankKind.choices, blank=True, default=""
    )
    provider_employee = models.ForeignKey(
        Employee,
        verbose_name=_("provider employee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    provider_department = models.ForeignKey(
        Department,
        verbose_name=_("provider department"),
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Its head answers."),
    )
    customer_department = models.ForeignKey(
        Department,
        verbose_name=_("customer department"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    text = models.TextField(_("what is needed"))
    named = models.BooleanField(_("named"), default=False)
    raiser = models.ForeignKey(
        Employee,
        verbose_name=_("raised by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Only when the raiser chose to give their name."),
    )
    raiser_key = models.CharField(_("raiser key"), max_length=64, editable=False)
    # Days only: a time of day could be matched with sign-ins or sessions.
    raised_on = models.DateField(_("raised on"))
    status = models.CharField(
        _("status"), max_length=16, choices=NeedStatus.choices, default=NeedStatus.OPEN
    )
    reply = models.TextField(_("provider's answer"), blank=True)
    answered_on = models.DateField(_("first answered on"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    confirmed_on = models.DateField(_("confirmed on"), null=True, blank=True)

    objects = NeedQuerySet.as_manager()

    class Meta:
        verbose_name = _("need or complaint")
        verbose_name_plural = _("needs and complaints")
        ordering = ["-raised_on", "text"]
        constraints = [
            # Named means the raiser is stored; anonymous means it is not, anywhere.
            models.CheckConstraint(
                condition=Q(named=True, raiser__isnull=False) | Q(named=False, raiser__isnull=True),
                name="needs_need_named_has_raiser",
            ),
            # Answered (done, then confirmed or not) means an answer and its first day.
            models.CheckConstraint(
                condition=Q(status=NeedStatus.OPEN, answered_on__isnull=True)
                | (Q(status__in=ANSWERED_STATUSES, answered_on__isnull=False) & ~Q(reply="")),
                name="needs_need_answered_matches",
            ),
            models.CheckConstraint(
                condition=Q(status__in=CONFIRMED_STATUSES, confirmed_on__isnull=False)
                | (~Q(status__in=CONFIRMED_STATUSES) & Q(confirmed_on__isnull=True)),
                name="needs_need_confirmed_matches",
            ),
            models.CheckConstraint(
                condition=Q(answered_on__isnull=True) | Q(answered_on__gte=F("raised_on")),
                name="needs_need_answered_after_raised",
            ),
            models.CheckConstraint(
                condition=~Q(edge_type=EdgeType.RANK) | Q(provider_employee__isnull=False),
                name="needs_need_rank_has_provider_person",
            ),
        ]
        indexes = [
            models.Index(fields=["provider_department", "status"], name="needs_need_provider"),
            models.Index(fields=["customer_department"], name="needs_need_customer"),
        ]

    def __str__(self) -> str:
        return self.text[:60]

    def is_raised_by(self, employee: Employee | None) -> bool:
        if employee is None:
            return False
        if self.named:
            return self.raiser_id == employee.pk
        return hmac.compare_digest(self.raiser_key, raiser_key(self.pk, employee.pk))

    @property
    def waiting_for_provider(self) -> bool:
        return self.status in (NeedStatus.OPEN, NeedStatus.UNRESOLVED)

    @property
    def waiting_for_customer(self) -> bool:
        return self.status == NeedStatus.DONE

    @property
    def response_days(self) -> int | None:
        if self.answered_on is None:
            return None
        return (self.answered_on - self.raised_on).days

    def type_label(self) -> str:
        if self.edge_type == EdgeType.RANK and self.rank_kind:
            return f"{self.get_edge_type_display()} · {self.get_rank_kind_display()}"
        return str(self.get_edge_type_display())


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for HR")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")


# Rank follows the reporting line; a workflow's process pairs follow its steps.
PROPOSABLE_TYPES = (EdgeType.FUNCTION, EdgeType.PROCESS, EdgeType.WORKFLOW)


class RelationshipProposal(models.Model):
    """An employee's proposal of a relationship they take part in, for HR to decide."""

    proposer = models.ForeignKey(
        Employee, verbose_name=_("proposed by"), on_delete=models.PROTECT, related_name="+"
    )
    type = models.CharField(
        _("type"),
        max_length=16,
        choices=[(t.value, t.label) for t in PROPOSABLE_TYPES],
    )
    provider_department = models.ForeignKey(
        Department,
        verbose_name=_("provider department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    provider_employee = models.ForeignKey(
        Employee,
        verbose_name=_("provider employee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    customer_department = models.ForeignKey(
        Department,
        verbose_name=_("customer department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    customer_employee = models.ForeignKey(
        Employee,
        verbose_name=_("customer employee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    service = models.TextField(_("service (what the provider delivers)"))
    reverse_service = models.TextField(
        _("what the customer gives back"),
        blank=True,
        help_text=_("Requirements, information, timely acceptance…"),
    )
    note = models.TextField(_("why"), blank=True)
    created_at = models.DateTimeField(_("proposed at"))
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ProposalStatus.choices,
        default=ProposalStatus.PENDING,
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("HR's note"), blank=True)
    pair = models.OneToOneField(
        RelationPair,
        verbose_name=_("relationship created"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="proposal",
    )

    class Meta:
        verbose_name = _("proposed relationship")
        verbose_name_plural = _("proposed relationships")
        ordering = ["status", "-created_at"]
        constraints = [
            *relationship_end_constraints("needs_proposal"),
            models.CheckConstraint(
                condition=Q(type__in=[t.value for t in PROPOSABLE_TYPES]),
                name="needs_proposal_type_proposable",
            ),
            # Accepted means a pair was made; pending means nobody decided yet.
            models.CheckConstraint(
                condition=Q(status=ProposalStatus.ACCEPTED, pair__isnull=False)
                | (~Q(status=ProposalStatus.ACCEPTED) & Q(pair__isnull=True)),
                name="needs_proposal_accepted_has_pair",
            ),
            models.CheckConstraint(
                condition=Q(status=ProposalStatus.PENDING, decided_at__isnull=True)
                | (~Q(status=ProposalStatus.PENDING) & Q(decided_at__isnull=False)),
                name="needs_proposal_decided_matches",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="needs_proposal_status")]

    def __str__(self) -> str:
        return f"{self.provider} → {self.customer} ({self.get_type_display()})"

    @property
    def provider(self):
        return self.provider_department or self.provider_employee

    @property
    def customer(self):
        return self.customer_department or self.customer_employee
