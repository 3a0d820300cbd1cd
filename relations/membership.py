"""Who stands for a department end of an edge.

Evaluations are filled in by people, so an edge whose end is a department needs the people who
represent it. The rule, kept here and nowhere else: a department is represented by the active
members of that department itself (not of its sub-departments), plus its head if active. A
sub-department is a department of its own, with its own edges; counting its people in the parent
too would make them answer twice for two different relationships.
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import Department, Employee


def department_member_ids(department_ids: Iterable[int]) -> dict[int, list[int]]:
    """For each department id, the sorted ids of the employees who represent it (two queries)."""
    ids = sorted(set(department_ids))
    members: dict[int, set[int]] = {dept_id: set() for dept_id in ids}
    if not ids:
        return {}
    for employee_id, department_id in (
        Employee.objects.active().filter(department_id__in=ids).values_list("id", "department_id")
    ):
        members[department_id].add(employee_id)
    for department_id, head_id in Department.objects.filter(
        id__in=ids, head__isnull=False, head__active=True
    ).values_list("id", "head_id"):
        members[department_id].add(head_id)
    return {dept_id: sorted(people) for dept_id, people in members.items()}


def departments_represented_by(employee: Employee) -> list[int]:
    """The inverse of department_member_ids: the departments this person stands for."""
    if not employee.active:
        return []
    headed = Department.objects.active().filter(head=employee).values_list("id", flat=True)
    return sorted({employee.department_id, *headed})
