"""Operations on the org chart and the relationship graph.

Every function that writes is atomic at its own boundary; an edge and its reverse are always
written by the same statement inside the same transaction. Bulk functions are set-based: their
query count does not grow with the number of rows.

Writes that bypass `save()` (`update`, `bulk_create`) record the rows they wrote in the audit
trail themselves (`history.record`, one statement per write, inside the same transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from icr import history

from .models import (
    RANK_CONDITION_SERVICE,
    RANK_TASK_SERVICE,
    Department,
    Direction,
    Edge,
    EdgeType,
    Employee,
    RankKind,
    RelationPair,
    Workflow,
)

BATCH = 5000


class GraphError(Exception):
    """A requested change would break a rule of the graph; the message is translatable."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True, order=True)
class End:
    """One end of an edge: ("department", pk) or ("employee", pk)."""

    kind: str
    id: int

    @classmethod
    def of(cls, obj: Department | Employee | End) -> End:
        if isinstance(obj, End):
            return obj
        if isinstance(obj, Department):
            return cls("department", obj.pk)
        if isinstance(obj, Employee):
            return cls("employee", obj.pk)
        raise TypeError(f"An edge end is a Department or an Employee, not {type(obj).__name__}")

    def columns(self, side: str) -> dict[str, int | None]:
        return {
            f"{side}_department_id": self.id if self.kind == "department" else None,
            f"{side}_employee_id": self.id if self.kind == "employee" else None,
        }


@dataclass(frozen=True)
class PairSpec:
    """What a new pair needs: its type, the forward edge's ends and both service texts."""

    type: str
    provider: End
    customer: End
    service: str = ""
    reverse_service: str = ""
    workflow_id: int | None = None


def edge_key(edge_type: str, rank_kind: str, provider: End, customer: End) -> tuple:
    return (edge_type, rank_kind, provider, customer)


def edge_end(edge: Edge, side: str) -> End:
    dept = getattr(edge, f"{side}_department_id")
    if dept is not None:
        return End("department", dept)
    return End("employee", getattr(edge, f"{side}_employee_id"))


def _forward_kind(edge_type: str) -> tuple[str, str]:
    if edge_type == EdgeType.RANK:
        return RankKind.TASK, RankKind.CONDITION
    return RankKind.NONE, RankKind.NONE


def _check_spec(spec: PairSpec) -> None:
    if spec.type not in EdgeType.values:
        raise GraphError(_("Unknown relationship type."))
    if spec.provider == spec.customer:
        raise GraphError(_("A relationship cannot connect an end to itself."))
    if spec.type == EdgeType.RANK and (
        spec.provider.kind != "employee" or spec.customer.kind != "employee"
    ):
        raise GraphError(_("Rank relationships connect two employees."))


def create_pairs(specs: Sequence[PairSpec], *, at=None) -> list[RelationPair]:
    """Create pairs with both edges, set-based (a fixed number of queries per 5,000 pairs).

    The caller guarantees that no active edge already has the same ends; the database's partial
    unique index refuses it otherwise and the whole transaction rolls back.
    """
    at = at or timezone.now()
    for spec in specs:
        _check_spec(spec)
    created: list[RelationPair] = []
    with transaction.atomic():
        for start in range(0, len(specs), BATCH):
            chunk = specs[start : start + BATCH]
            pairs = RelationPair.objects.bulk_create(
                [RelationPair(type=s.type, workflow_id=s.workflow_id, valid_from=at) for s in chunk]
            )
            edges = []
            for pair, spec in zip(pairs, chunk, strict=True):
                forward_kind, reverse_kind = _forward_kind(spec.type)
                edges.append(
                    Edge(
                        pair=pair,
                        direction=Direction.FORWARD,
                        type=spec.type,
                        rank_kind=forward_kind,
                        service=spec.service,
                        valid_from=at,
                        **spec.provider.columns("provider"),
                        **spec.customer.columns("customer"),
                    )
                )
                edges.append(
                    Edge(
                        pair=pair,
                        direction=Direction.REVERSE,
                        type=spec.type,
                        rank_kind=reverse_kind,
                        service=spec.reverse_service,
                        valid_from=at,
                        **spec.customer.columns("provider"),
                        **spec.provider.columns("customer"),
                    )
                )
            Edge.objects.bulk_create(edges)
            pair_ids = [pair.pk for pair in pairs]
            history.record(RelationPair.objects.filter(id__in=pair_ids), history.CREATED)
            history.record(Edge.objects.filter(pair_id__in=pair_ids), history.CREATED)
            created.extend(pairs)
    return created


def retire_pairs(pair_ids: Iterable[int], *, at=None) -> int:
    """Retire pairs and both their edges together; already retired ones are left as they were."""
    at = at or timezone.now()
    ids = list(pair_ids)
    if not ids:
        return 0
    count = 0
    with transaction.atomic():
        for start in range(0, len(ids), BATCH):
            chunk = list(
                RelationPair.objects.active()
                .filter(id__in=ids[start : start + BATCH])
                .values_list("id", flat=True)
            )
            # A pair retired by someone else since the read keeps its date (valid_to IS NULL).
            count += RelationPair.objects.active().filter(id__in=chunk).update(valid_to=at)
            Edge.objects.filter(pair_id__in=chunk, valid_to__isnull=True).update(valid_to=at)
            history.record(RelationPair.objects.filter(id__in=chunk))
            history.record(Edge.objects.filter(pair_id__in=chunk))
    return count


# Rank pairs follow the reporting line and a workflow's process pairs follow its steps: the
# sync functions derive them, and one made, moved or retired by hand would break that rule or
# be undone by the next sync. Process pairs without a workflow are set by HR (relations.csv).


def _check_set_by_hr(edge_type: str, workflow_id: int | None = None) -> None:
    if edge_type == EdgeType.RANK:
        raise GraphError(
            _("Rank relationships follow the reporting line: change the manager instead.")
        )
    if edge_type == EdgeType.PROCESS and workflow_id is not None:
        raise GraphError(
            _("Process relationships follow the workflow steps: change the steps instead.")
        )


def _check_ends_active(*ends: End) -> None:
    """Nobody who left and no closed department gets a new relationship."""
    for kind, model in (("employee", Employee), ("department", Department)):
        ids = {end.id for end in ends if end.kind == kind}
        if ids and model.objects.filter(id__in=ids, active=True).count() != len(ids):
            raise GraphError(_("A relationship needs active employees and departments."))


def create_pair(
    edge_type: str,
    provider: Department | Employee | End,
    customer: Department | Employee | End,
    *,
    service: str = "",
    reverse_service: str = "",
    workflow: Workflow | None = None,
    at=None,
) -> Edge:
    """Create a relationship provider → customer and its reverse; returns the forward edge."""
    spec = PairSpec(
        type=edge_type,
        provider=End.of(provider),
        customer=End.of(customer),
        service=service,
        reverse_service=reverse_service,
        workflow_id=workflow.pk if workflow else None,
    )
    _check_set_by_hr(edge_type, spec.workflow_id)
    _check_spec(spec)
    with transaction.atomic():
        _check_ends_active(spec.provider, spec.customer)
        forward_kind, _reverse_kind = _forward_kind(edge_type)
        if (
            Edge.objects.active()
            .filter(type=edge_type, rank_kind=forward_kind)
            .filter(**spec.provider.columns("provider"), **spec.customer.columns("customer"))
            .exists()
        ):
            raise GraphError(_("This relationship already exists."))
        try:
            with transaction.atomic():
                (pair,) = create_pairs([spec], at=at)
        except IntegrityError as exc:
            # A concurrent request created the same relationship between our check and insert.
            raise GraphError(_("This relationship already exists.")) from exc
    return pair.edges.get(direction=Direction.FORWARD)


def retire_edge(edge: Edge, *, at=None) -> None:
    """Retiring one direction retires the relationship: both edges go together."""
    _check_set_by_hr(edge.type, edge.pair.workflow_id)
    with transaction.atomic():
        retire_pairs([edge.pair_id], at=at)
        if edge.type == EdgeType.PROCESS:
            # Steps of a workflow may still link these ends: then it comes back as the workflow's.
            sync_process_edges(at=at)


def change_edge(
    edge: Edge,
    *,
    provider: Department | Employee | None = None,
    customer: Department | Employee | None = None,
    service: str | None = None,
    reverse_service: str | None = None,
    at=None,
) -> Edge:
    """Change an edge and, with it, its reverse.

    A new service text is written in place. New ends are a new relationship: the old pair is
    retired (history keeps it) and a new pair created, in one transaction. Returns the edge
    that now holds the change, in the same direction as the one given.
    """
    # Read it again: the caller's copy may predate a retirement by someone else.
    edge = Edge.objects.select_related("pair").get(pk=edge.pk)
    if not edge.is_active:
        raise GraphError(_("A retired relationship cannot be changed."))
    reverse = edge.reverse
    new_provider = End.of(provider) if provider is not None else edge_end(edge, "provider")
    new_customer = End.of(customer) if customer is not None else edge_end(edge, "customer")
    new_service = edge.service if service is None else service
    new_reverse_service = reverse.service if reverse_service is None else reverse_service
    same_ends = new_provider == edge_end(edge, "provider") and new_customer == edge_end(
        edge, "customer"
    )
    if not same_ends:
        _check_set_by_hr(edge.type, edge.pair.workflow_id)
    with transaction.atomic():
        if same_ends:
            Edge.objects.filter(pk=edge.pk).update(service=new_service)
            Edge.objects.filter(pk=reverse.pk).update(service=new_reverse_service)
            history.record(Edge.objects.filter(pair_id=edge.pair_id))
            edge.refresh_from_db()
            return edge
        # Keep the pair's orientation: the forward edge stays the described direction.
        fwd_p, fwd_c, fwd_s, rev_s = new_provider, new_customer, new_service, new_reverse_service
        if edge.direction == Direction.REVERSE:
            fwd_p, fwd_c, fwd_s, rev_s = fwd_c, fwd_p, rev_s, fwd_s
        retire_pairs([edge.pair_id], at=at)
        forward = create_pair(
            edge.type,
            fwd_p,
            fwd_c,
            service=fwd_s,
            reverse_service=rev_s,
            workflow=edge.pair.workflow,
            at=at,
        )
        if edge.type == EdgeType.PROCESS:
            sync_process_edges(at=at)  # as in retire_edge
    return forward if edge.direction == Direction.FORWARD else forward.reverse


# --- Rank edges follow the reporting line -------------------------------------------------


def rank_service_texts() -> tuple[str, str]:
    """What rank pairs provide, as stored: keys shown in the reader's language
    (`models.service_text`), not text in the language of whichever process wrote them."""
    return RANK_TASK_SERVICE, RANK_CONDITION_SERVICE


def sync_rank_edges(*, at=None) -> dict[str, int]:
    """Make the rank pairs match the reporting line of active employees, set-based.

    Each active employee with an active manager has one task edge subordinate → manager and its
    reverse condition edge. Pairs that no longer match are retired, missing ones created.
    """
    at = at or timezone.now()
    with transaction.atomic():
        wanted = set(
            Employee.objects.active()
            .filter(manager__isnull=False, manager__active=True)
            .values_list("id", "manager_id")
        )
        current = {
            (sub, sup): pair_id
            for pair_id, sub, sup in Edge.objects.active()
            .filter(type=EdgeType.RANK, direction=Direction.FORWARD)
            .values_list("pair_id", "provider_employee_id", "customer_employee_id")
        }
        stale = [pair_id for key, pair_id in current.items() if key not in wanted]
        retire_pairs(stale, at=at)
        task_text, condition_text = rank_service_texts()
        missing = sorted(wanted - current.keys())
        create_pairs(
            [
                PairSpec(
                    type=EdgeType.RANK,
                    provider=End("employee", sub),
                    customer=End("employee", sup),
                    service=task_text,
                    reverse_service=condition_text,
                )
                for sub, sup in missing
            ],
            at=at,
        )
    return {"created": len(missing), "retired": len(stale)}


# --- Process edges follow consecutive workflow steps ----------------------------------------


def _step_end(department_id, employee_id) -> End:
    if department_id is not None:
        return End("department", department_id)
    return End("employee", employee_id)


def process_edges_wanted() -> dict[tuple[End, End], tuple[str, int]]:
    """(provider, customer) → (service, workflow id) for every consecutive step pair.

    Steps owned by the same end make no edge (nobody is their own customer); the same two ends
    met in several workflows make one relationship, described by the first workflow.
    """
    from .models import WorkflowStep

    wanted: dict[tuple[End, End], tuple[str, int]] = {}
    previous = None
    rows = (
        WorkflowStep.objects.filter(workflow__active=True)
        .order_by("workflow__code", "workflow_id", "position", "id")
        .values_list(
            "workflow_id",
            "workflow__name",
            "name",
            "owner_department_id",
            "owner_employee_id",
            "owner_department__active",
            "owner_employee__active",
        )
    )
    for wf_id, wf_name, step_name, dept_id, emp_id, dept_active, emp_active in rows:
        owner_active = dept_active if dept_id is not None else emp_active
        current = (wf_id, wf_name, step_name, _step_end(dept_id, emp_id), owner_active)
        if previous is not None and previous[0] == wf_id:
            _, _, prev_name, prev_end, prev_active = previous
            end = current[3]
            if prev_end != end and prev_active and owner_active:
                key = (prev_end, end)
                if key not in wanted:
                    wanted[key] = (f"{wf_name}: {prev_name} → {step_name}", wf_id)
        previous = current
    return wanted


def sync_process_edges(*, at=None) -> dict[str, int]:
    """Make the process pairs match the consecutive steps of active workflows, set-based."""
    at = at or timezone.now()
    with transaction.atomic():
        wanted = process_edges_wanted()
        current: dict[tuple[End, End], int] = {}
        for edge in (
            Edge.objects.active()
            .filter(type=EdgeType.PROCESS)
            .only(
                "pair_id",
                "direction",
                "provider_department_id",
                "provider_employee_id",
                "customer_department_id",
                "customer_employee_id",
            )
        ):
            current[(edge_end(edge, "provider"), edge_end(edge, "customer"))] = edge.pair_id
        # A pair counts as present if either of its directions is wanted the way it points.
        keep: set[int] = set()
        missing: list[PairSpec] = []
        for (provider, customer), (service, wf_id) in wanted.items():
            pair_id = current.get((provider, customer))
            if pair_id is not None:
                keep.add(pair_id)
                continue
            missing.append(
                PairSpec(
                    type=EdgeType.PROCESS,
                    provider=provider,
                    customer=customer,
                    service=service,
                    reverse_service=str(_("Specifications, feedback and timely acceptance")),
                    workflow_id=wf_id,
                )
            )
        # Two steps in opposite orders (A → B here, B → A elsewhere) make one mutual pair.
        # `current` holds both directions of every pair, so only new specs need this.
        seen: set[tuple[End, End]] = set()
        deduped: list[PairSpec] = []
        for spec in missing:
            if (spec.customer, spec.provider) in seen:
                continue
            seen.add((spec.provider, spec.customer))
            deduped.append(spec)
        # Process pairs without a workflow were set by HR (relations import): not ours to retire.
        hr_set = set(
            RelationPair.objects.active()
            .filter(type=EdgeType.PROCESS, workflow__isnull=True)
            .values_list("id", flat=True)
        )
        stale = sorted(set(current.values()) - keep - hr_set)
        retire_pairs(stale, at=at)
        create_pairs(deduped, at=at)
    return {"created": len(deduped), "retired": len(stale)}


# --- People ---------------------------------------------------------------------------------


def retire_edges_of_employees(employee_ids: Iterable[int], *, at=None) -> int:
    ids = list(employee_ids)
    if not ids:
        return 0
    pair_ids = set(
        Edge.objects.active()
        .filter(Q(provider_employee_id__in=ids) | Q(customer_employee_id__in=ids))
        .values_list("pair_id", flat=True)
    )
    return retire_pairs(sorted(pair_ids), at=at)


def retire_edges_of_departments(department_ids: Iterable[int], *, at=None) -> int:
    ids = list(department_ids)
    if not ids:
        return 0
    pair_ids = set(
        Edge.objects.active()
        .filter(Q(provider_department_id__in=ids) | Q(customer_department_id__in=ids))
        .values_list("pair_id", flat=True)
    )
    return retire_pairs(sorted(pair_ids), at=at)


def end_sessions_of_users(user_ids: Iterable[int]) -> int:
    """Log people out everywhere (database sessions are the default engine)."""
    wanted = {str(uid) for uid in user_ids}
    if not wanted:
        return 0
    doomed = [
        s.pk
        for s in Session.objects.filter(expire_date__gt=timezone.now())
        if s.get_decoded().get("_auth_user_id") in wanted
    ]
    Session.objects.filter(pk__in=doomed).delete()
    return len(doomed)


def create_login(employee: Employee):
    """A login named after the employee id, with no usable password until a reset link is used."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    user, _created = User.objects.get_or_create(
        username=employee.employee_id,
        defaults={"email": employee.email, "first_name": employee.name[:150]},
    )
    if _created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    elif (
        user.is_staff
        or user.is_superuser
        or Employee.objects.filter(user=user).exclude(pk=employee.pk).exists()
    ):
        # Adopting it would hand an administrator's or a colleague's login to this person: the
        # password-set link goes to the employee's e-mail. Staff logins are linked by hand.
        raise GraphError(
            _("The login “%(id)s” already belongs to someone else.") % {"id": employee.employee_id}
        )
    with transaction.atomic():
        Employee.objects.filter(pk=employee.pk).update(user=user)
        history.record(Employee.objects.filter(pk=employee.pk))
    employee.user = user
    return user


def _check_manager(employee: Employee, manager: Employee | None) -> None:
    if manager is None:
        return
    if manager.pk == employee.pk:
        raise GraphError(_("An employee cannot be their own manager."))
    if employee.pk and employee.pk in [manager.pk, *manager.manager_chain_ids()]:
        raise GraphError(_("This manager would create a cycle in the reporting line."))
    if not Employee.objects.filter(pk=manager.pk, active=True).exists():
        raise GraphError(_("This manager has left the company."))


def _check_department_open(department: Department) -> None:
    # HR's files list active departments only: nobody can work in, or hang under, a closed one.
    if not Department.objects.filter(pk=department.pk, active=True).exists():
        raise GraphError(_("This department is closed."))


def hire_employee(
    *,
    employee_id: str,
    name: str,
    department: Department,
    email: str = "",
    manager: Employee | None = None,
    title: str = "",
    language: str | None = None,
    at=None,
) -> Employee:
    with transaction.atomic():
        if Employee.objects.filter(employee_id=employee_id).exists():
            raise GraphError(_("An employee with this ID already exists."))
        _check_department_open(department)
        if manager is not None:
            _check_manager(Employee(), manager)  # a newcomer closes no cycle; the manager is active
        employee = Employee.objects.create(
            employee_id=employee_id,
            name=name,
            email=email,
            department=department,
            manager=manager,
            title=title,
            **({"language": language} if language else {}),
        )
        create_login(employee)
        sync_rank_edges(at=at)
    return employee


def change_manager(employee: Employee, manager: Employee | None, *, at=None) -> Employee:
    _check_manager(employee, manager)
    with transaction.atomic():
        Employee.objects.filter(pk=employee.pk).update(manager=manager)
        history.record(Employee.objects.filter(pk=employee.pk))
        employee.manager = manager
        sync_rank_edges(at=at)
    return employee


def move_employee(employee: Employee, department: Department, *, at=None) -> Employee:
    _check_department_open(department)
    with transaction.atomic():
        Employee.objects.filter(pk=employee.pk).update(department=department)
        history.record(Employee.objects.filter(pk=employee.pk))
        employee.department = department
    return employee


def deactivate_employees(employee_ids: Iterable[int], *, at=None) -> int:
    """A departure: retire the person's edges, disable the login and end its sessions."""
    from django.contrib.auth import get_user_model

    ids = list(employee_ids)
    if not ids:
        return 0
    with transaction.atomic():
        user_ids = list(
            Employee.objects.filter(id__in=ids, user__isnull=False).values_list(
                "user_id", flat=True
            )
        )
        leaving = list(
            Employee.objects.filter(id__in=ids, active=True).values_list("id", flat=True)
        )
        count = Employee.objects.filter(id__in=leaving).update(active=False)
        history.record(Employee.objects.filter(id__in=leaving))
        get_user_model().objects.filter(id__in=user_ids).update(is_active=False)
        retire_edges_of_employees(ids, at=at)
        sync_rank_edges(at=at)
        sync_process_edges(at=at)
        transaction.on_commit(lambda: end_sessions_of_users(user_ids))
    return count


def deactivate_employee(employee: Employee, *, at=None) -> None:
    deactivate_employees([employee.pk], at=at)
    employee.active = False


def reactivate_employee(employee: Employee, *, at=None) -> None:
    from django.contrib.auth import get_user_model

    _check_department_open(Department(pk=employee.department_id))
    with transaction.atomic():
        Employee.objects.filter(pk=employee.pk).update(active=True)
        history.record(Employee.objects.filter(pk=employee.pk))
        if employee.user_id:
            get_user_model().objects.filter(pk=employee.user_id).update(is_active=True)
        employee.active = True
        sync_rank_edges(at=at)
        sync_process_edges(at=at)


# --- Departments ------------------------------------------------------------------------------


def _check_parent(department: Department, parent: Department | None) -> None:
    if parent is None:
        return
    _check_department_open(parent)
    if department.pk and (parent.pk == department.pk or department.pk in parent.ancestor_ids()):
        raise GraphError(_("This parent would create a cycle in the department tree."))


def set_department_parent(department: Department, parent: Department | None) -> Department:
    _check_parent(department, parent)
    with transaction.atomic():
        Department.objects.filter(pk=department.pk).update(parent=parent)
        history.record(Department.objects.filter(pk=department.pk))
        department.parent = parent
    return department


# --- Workflows --------------------------------------------------------------------------------


def set_workflow_steps(
    workflow: Workflow, steps: Sequence[tuple[str, Department | Employee]], *, at=None
) -> dict[str, int]:
    """Replace a workflow's steps in order and bring the process edges in line."""
    from .models import WorkflowStep

    rows = []
    for index, (name, owner) in enumerate(steps, start=1):
        end = End.of(owner)
        rows.append(
            WorkflowStep(
                workflow=workflow,
                position=index,
                name=name,
                owner_department_id=end.id if end.kind == "department" else None,
                owner_employee_id=end.id if end.kind == "employee" else None,
            )
        )
    with transaction.atomic():
        workflow.steps.all().delete()  # one history row per step, by the library's signal
        created = WorkflowStep.objects.bulk_create(rows)
        history.record(
            WorkflowStep.objects.filter(id__in=[step.pk for step in created]), history.CREATED
        )
        return sync_process_edges(at=at)
