"""Reads for pages: what a person may see, in as few queries as the page needs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from .membership import departments_represented_by
from .models import Edge, EdgeType, Employee, service_text


@dataclass(frozen=True)
class RelationRow:
    """One relationship as its owner sees it: the other end, the service, and through what."""

    edge: Edge
    kind: str  # for rank: "Task customer" / "Condition customer"; else ""
    service: str
    other_name: str
    other_department: str  # the other end's department (for a person), else ""
    other_is_department: bool
    via_department: str  # my department when the edge is the department's, else ""


@dataclass(frozen=True)
class TypeGroup:
    type: str
    label: str
    rows: list[RelationRow]


def my_departments(employee: Employee) -> list[int]:
    """The departments whose relationships are also mine (the rule lives in membership)."""
    return departments_represented_by(employee)


def _row(edge: Edge, side: str) -> RelationRow:
    other_side = "customer" if side == "provider" else "provider"
    other_department = getattr(edge, f"{other_side}_department")
    other_employee = getattr(edge, f"{other_side}_employee")
    my_department = getattr(edge, f"{side}_department")
    return RelationRow(
        edge=edge,
        kind=str(edge.get_rank_kind_display()) if edge.type == EdgeType.RANK else "",
        service=service_text(
            edge.service,
            provider=(edge.provider_department or edge.provider_employee).name,
            customer=(edge.customer_department or edge.customer_employee).name,
        )
        if edge.service
        else "",
        other_name=other_department.name if other_department else other_employee.name,
        other_department=other_employee.department.name if other_employee else "",
        other_is_department=other_department is not None,
        via_department=my_department.name if my_department is not None else "",
    )


def _grouped(rows: list[RelationRow]) -> list[TypeGroup]:
    groups = []
    for edge_type in EdgeType:
        of_type = [row for row in rows if row.edge.type == edge_type.value]
        if of_type:
            groups.append(TypeGroup(edge_type.value, str(edge_type.label), of_type))
    return groups


def my_relationships(user) -> dict:
    """Whom I serve and who serves me, by type, for the person logged in (and nobody else)."""
    employee = (
        Employee.objects.active().filter(user=user).select_related("department").first()
        if user.is_authenticated
        else None
    )
    if employee is None:
        return {"employee": None, "serve": [], "served_by": []}
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
        "employee": employee,
        "serve": _grouped([_row(edge, "provider") for edge in serve]),
        "served_by": _grouped([_row(edge, "customer") for edge in served_by]),
    }
