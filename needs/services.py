"""Operations on needs and proposed relationships: raise, answer, confirm; propose, decide.

Each checks who may do it, then writes inside its own transaction; errors are `NeedError`
with a translatable message. Accepting a proposal goes through `relations.services.create_pair`,
so the pair gets its reverse and the graph's rules hold as for any pair HR creates.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from relations import services as graph
from relations.membership import department_member_ids, departments_represented_by
from relations.models import Department, Edge, Employee, subtree_ids
from relations.roles import roles_of

from .models import (
    PROPOSABLE_TYPES,
    Need,
    NeedKind,
    NeedStatus,
    ProposalStatus,
    RelationshipProposal,
    raiser_key,
)


class NeedError(Exception):
    """A request the rules refuse; the message is translatable."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


def _today(now: dt.datetime | None) -> dt.date:
    return timezone.localdate(now or timezone.now())


# --- Needs ----------------------------------------------------------------------------------


def edge_group(edge: Edge) -> dict:
    """The group a need about this edge belongs to: type, provider end, provider department
    (whose head answers) and customer department; never the edge or a customer person."""
    provider_department_id = edge.provider_department_id
    if provider_department_id is None:
        provider_department_id = edge.provider_employee.department_id
    customer_department_id = edge.customer_department_id
    if customer_department_id is None:
        customer_department_id = edge.customer_employee.department_id
    return {
        "edge_type": edge.type,
        "rank_kind": edge.rank_kind,
        "provider_employee_id": edge.provider_employee_id,
        "provider_department_id": provider_department_id,
        "customer_department_id": customer_department_id,
    }


def possible_raisers(group: dict) -> set[int]:
    """Everyone who could have raised a need in this group: the customers, as people, of the
    active edges of the same type from the same provider into the same customer department.
    An anonymous need is one of them; the provider's head sees no more than the group."""
    edges = Edge.objects.active().filter(type=group["edge_type"], rank_kind=group["rank_kind"])
    if group["provider_employee_id"] is not None:
        edges = edges.filter(provider_employee_id=group["provider_employee_id"])
    else:
        edges = edges.filter(provider_department_id=group["provider_department_id"])
    customer = group["customer_department_id"]
    people = set(
        edges.filter(
            customer_employee__department_id=customer, customer_employee__active=True
        ).values_list("customer_employee_id", flat=True)
    )
    if edges.filter(customer_department_id=customer).exists():
        people.update(department_member_ids([customer]).get(customer, []))
    return people


def receives(employee: Employee, edge: Edge) -> bool:
    """Whether this person is the customer of the edge (themselves or a department they
    represent, by the membership rule)."""
    if edge.customer_employee_id is not None:
        return edge.customer_employee_id == employee.pk
    return edge.customer_department_id in departments_represented_by(employee)


def raise_need(
    employee: Employee,
    edge: Edge,
    *,
    kind: str,
    text: str,
    named: bool = False,
    now: dt.datetime | None = None,
) -> Need:
    """A customer asks the provider of a relationship they receive for something.

    Anonymous unless `named`; an anonymous need is refused where fewer than N people could
    have raised it (`possible_raisers`): the group shown to the provider would name them.
    """
    text = (text or "").strip()
    if not text:
        raise NeedError(_("Say what you need."))
    if kind not in NeedKind.values:
        raise NeedError(_("Unknown kind of need."))
    if not employee.active or not edge.is_active or not receives(employee, edge):
        raise NeedError(_("You can only raise a need about a service you receive."))
    group = edge_group(edge)
    if not named and len(possible_raisers(group)) < settings.ICR_MIN_RATERS:
        raise NeedError(
            _(
                "Fewer than %(n)d people receive this service from this provider in your "
                "department, so it cannot be raised anonymously: give your name, or talk to HR."
            )
            % {"n": settings.ICR_MIN_RATERS}
        )
    need_id = uuid.uuid4()
    need = Need(
        id=need_id,
        kind=kind,
        text=text,
        named=named,
        raiser=employee if named else None,
        raiser_key=raiser_key(need_id, employee.pk),
        raised_on=_today(now),
        **group,
    )
    with transaction.atomic():
        need.save(force_insert=True)
    return need


def answerable_departments(roles) -> set[int]:
    """The departments whose needs this person answers: those they head and those below."""
    if not roles.headed_department_ids:
        return set()
    trees = subtree_ids(roles.headed_department_ids)
    return {d for ids in trees.values() for d in ids}


def may_answer(user, need: Need) -> bool:
    """The head of the provider department, or of a department above it (HR only reads)."""
    return need.provider_department_id in answerable_departments(roles_of(user))


def answer_need(need: Need, *, user, reply: str, now: dt.datetime | None = None) -> Need:
    """The provider's head answers and marks the need done; the customer is asked to confirm."""
    reply = (reply or "").strip()
    if not reply:
        raise NeedError(_("Write what was done."))
    if not may_answer(user, need):
        raise NeedError(_("Only the head of the providing department answers."))
    with transaction.atomic():
        locked = Need.objects.select_for_update().get(pk=need.pk)
        if not locked.waiting_for_provider:
            raise NeedError(_("This need is already answered; wait for the customer."))
        today = _today(now)
        locked.reply = reply
        locked.status = NeedStatus.DONE
        locked.answered_on = locked.answered_on or today
        locked.answered_by = user
        locked.confirmed_on = None
        locked.save(update_fields=["reply", "status", "answered_on", "answered_by", "confirmed_on"])
    return locked


def confirm_need(
    need: Need, *, employee: Employee, resolved: bool, now: dt.datetime | None = None
) -> Need:
    """The customer who raised it says whether it is resolved; not resolved sends it back."""
    if not need.is_raised_by(employee):
        raise NeedError(_("Only whoever raised it confirms it."))
    with transaction.atomic():
        locked = Need.objects.select_for_update().get(pk=need.pk)
        if not locked.waiting_for_customer:
            raise NeedError(_("There is nothing to confirm yet."))
        locked.status = NeedStatus.RESOLVED if resolved else NeedStatus.UNRESOLVED
        locked.confirmed_on = _today(now)
        locked.save(update_fields=["status", "confirmed_on"])
    return locked


# --- Proposed relationships -----------------------------------------------------------------


def _end(obj) -> graph.End:
    return graph.End.of(obj)


def takes_part(employee: Employee, provider, customer) -> bool:
    mine = set(departments_represented_by(employee))
    for end in (provider, customer):
        if isinstance(end, Employee) and end.pk == employee.pk:
            return True
        if isinstance(end, Department) and end.pk in mine:
            return True
    return False


def propose_relationship(
    employee: Employee,
    *,
    edge_type: str,
    provider: Department | Employee,
    customer: Department | Employee,
    service: str,
    reverse_service: str = "",
    note: str = "",
    now: dt.datetime | None = None,
) -> RelationshipProposal:
    """An employee proposes a relationship they are an end of (or their department is)."""
    if edge_type not in PROPOSABLE_TYPES:
        raise NeedError(_("Rank relationships follow the reporting line and cannot be proposed."))
    if _end(provider) == _end(customer):
        raise NeedError(_("A relationship cannot connect an end to itself."))
    if not employee.active or not takes_part(employee, provider, customer):
        raise NeedError(
            _("You can only propose a relationship you or your department take part in.")
        )
    if not (service or "").strip():
        raise NeedError(_("Say what service the provider delivers."))
    for end in (provider, customer):
        if not end.active:
            raise NeedError(_("A relationship needs active employees and departments."))
    ends = {
        **_end(provider).columns("provider"),
        **_end(customer).columns("customer"),
    }
    if Edge.objects.active().filter(type=edge_type, **ends).exists():
        raise NeedError(_("This relationship already exists."))
    if RelationshipProposal.objects.filter(
        status=ProposalStatus.PENDING, type=edge_type, **ends
    ).exists():
        raise NeedError(_("This relationship is already proposed and waits for HR."))
    with transaction.atomic():
        return RelationshipProposal.objects.create(
            proposer=employee,
            type=edge_type,
            service=service.strip(),
            reverse_service=(reverse_service or "").strip(),
            note=(note or "").strip(),
            created_at=now or timezone.now(),
            **ends,
        )


def accept_proposal(
    proposal: RelationshipProposal, *, user, note: str = "", now: dt.datetime | None = None
) -> RelationshipProposal:
    """HR accepts: a normal pair with its reverse from now on, so from the next cycle that
    opens (an open cycle asked its questions when it opened)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = RelationshipProposal.objects.select_for_update().get(pk=proposal.pk)
        if locked.status != ProposalStatus.PENDING:
            raise NeedError(_("This proposal is already decided."))
        try:
            edge = graph.create_pair(
                locked.type,
                locked.provider,
                locked.customer,
                service=locked.service,
                reverse_service=locked.reverse_service,
                at=now,
            )
        except graph.GraphError as exc:
            raise NeedError(exc.message) from exc
        locked.status = ProposalStatus.ACCEPTED
        locked.pair_id = edge.pair_id
        locked.decided_by = user
        locked.decided_at = now
        locked.decision_note = (note or "").strip()
        locked.save(update_fields=["status", "pair", "decided_by", "decided_at", "decision_note"])
    return locked


def decline_proposal(
    proposal: RelationshipProposal, *, user, note: str = "", now: dt.datetime | None = None
) -> RelationshipProposal:
    with transaction.atomic():
        locked = RelationshipProposal.objects.select_for_update().get(pk=proposal.pk)
        if locked.status != ProposalStatus.PENDING:
            raise NeedError(_("This proposal is already decided."))
        locked.status = ProposalStatus.DECLINED
        locked.decided_by = user
        locked.decided_at = now or timezone.now()
        locked.decision_note = (note or "").strip()
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return locked


__all__ = [
    "NeedError",
    "accept_proposal",
    "answer_need",
    "answerable_departments",
    "confirm_need",
    "decline_proposal",
    "edge_group",
    "may_answer",
    "possible_raisers",
    "propose_relationship",
    "raise_need",
    "receives",
    "takes_part",
]
