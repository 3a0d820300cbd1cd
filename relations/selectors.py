"""Reads for pages: what a person may see, in as few queries as the page needs."""

from __future__ import annotations

from django.db.models import Q

from .models import Edge, EdgeType, Employee


def my_relationships(user) -> dict:
    """Whom I serve and who serves me, by type. Department ends count for their members."""
    employee = (
        Employee.objects.filter(user=user).select_related("department", "manager").first()
    )
    if employee is None:
        return {"employee": None, "serve": [], "served_by": [], "types": EdgeType}
    edges = Edge.objects.active().with_ends()
    serve = list(
        edges.filter(
            Q(provider_employee=employee) | Q(provider_department=employee.department_id)
        ).order_by("type", "rank_kind", "id")
    )
    served_by = list(
        edges.filter(
            Q(customer_employee=employee) | Q(customer_department=employee.department_id)
        ).order_by("type", "rank_kind", "id")
    )
    return {
        "employee": employee,
        "serve": serve,
        "served_by": served_by,
        "types": EdgeType,
    }
