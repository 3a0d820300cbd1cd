"""Who may do what. Roles: HR (a group, with the admin), department head, employee."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import DepartmentTree

HR_GROUP = "HR"


@dataclass
class Roles:
    is_hr: bool = False
    employee_id: int | None = None
    headed_department_ids: list[int] = field(default_factory=list)

    @property
    def is_head(self) -> bool:
        return bool(self.headed_department_ids)


def is_hr(user) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_superuser or user.groups.filter(name=HR_GROUP).exists()


def roles_of(user) -> Roles:
    from .models import Department, Employee

    roles = Roles(is_hr=is_hr(user))
    employee = Employee.objects.filter(user=user, active=True).only("id").first()
    if employee is not None:
        roles.employee_id = employee.pk
        roles.headed_department_ids = list(
            Department.objects.filter(head=employee, active=True).values_list("id", flat=True)
        )
    return roles


def request_roles(request) -> Roles:
    """The signed-in user's roles, read once per request: the view and the navigation ask."""
    roles = getattr(request, "_icr_roles", None)
    if roles is None:
        roles = request._icr_roles = roles_of(request.user)
    return roles


def visible_department_ids(
    user, tree: DepartmentTree | None = None, *, roles: Roles | None = None
) -> list[int] | None:
    """Departments whose figures this user may see: None means all (HR).

    `tree` and `roles`: the department tree and the user's roles when the caller has them.
    """
    from .models import subtree_ids

    roles = roles or roles_of(user)
    if roles.is_hr:
        return None
    trees = subtree_ids(roles.headed_department_ids, tree)
    return sorted({d for ids in trees.values() for d in ids})
