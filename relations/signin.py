"""Sign-in with the company's identity: which ICR login a person of the company's OpenID
provider or directory is, and whether the provider's groups make them HR.

Shared by relations.oidc (OpenID Connect) and relations.ldap_auth (LDAP / Active Directory).
The provider vouches for a person; ICR decides who that is among its own employees. Nobody is
created: someone the import does not know, or who has left it, is refused with the reason.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from .models import Employee
from .roles import HR_GROUP

log = logging.getLogger(__name__)

MATCH_FIELDS = ("employee_id", "email")
SUPERUSER_ONLY = "superuser_only"  # settings.ICR_PASSWORD_LOGIN: ICR passwords for superusers


def passwords_for_everyone() -> bool:
    """Whether ICR's own passwords sign anyone in, or only the break-glass superuser."""
    return settings.ICR_PASSWORD_LOGIN != SUPERUSER_ONLY


class SignInRefused(Exception):
    """The provider vouched for someone ICR will not sign in; `message` says why."""

    messages = {
        "unknown": _(
            "Your company account is not linked to anyone in ICR. Ask HR to check that the "
            "employee import lists you with the same employee ID or e-mail."
        ),
        "ambiguous": _(
            "Your company account matches more than one person in ICR, so it cannot tell who "
            "you are. Ask HR to give each person their own employee ID or e-mail."
        ),
        "left": _("Your ICR login is disabled: the employee import no longer lists you."),
        "unverified": _("Your company account's e-mail address is not verified."),
        "cancelled": _(
            "The company's sign-in did not sign you in (cancelled, or refused there). Try "
            "again, or ask IT if it keeps happening."
        ),
        "failed": _(
            "Signing in with your company account did not work: the answer of the identity "
            "provider could not be verified. Try again, or ask IT if it keeps happening."
        ),
    }

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code

    @property
    def message(self):
        return self.messages[self.code]


def login_of_employee(field: str, value: str | None):
    """The login of the one employee whose `field` (employee_id or email, any case) is `value`.

    Raises SignInRefused: nobody, or no login ("unknown"); two current employees ("ambiguous":
    a shared address says nothing about who signs in); only people who left ("left")."""
    if field not in MATCH_FIELDS:
        raise ValueError(f"cannot match employees by {field!r}")
    value = (value or "").strip()
    if not value:
        raise SignInRefused("unknown")
    rows = list(
        Employee.objects.filter(**{f"{field}__iexact": value})
        .select_related("user")
        .order_by("-active", "pk")[:3]
    )
    current = [e for e in rows if e.active]
    if len(current) > 1:
        raise SignInRefused("ambiguous")
    if not current:
        raise SignInRefused("left" if rows else "unknown")
    user = current[0].user
    if user is None:
        raise SignInRefused("unknown")
    if not user.is_active:
        raise SignInRefused("left")
    return user


def set_hr(user, is_hr: bool) -> None:
    """Make the login HR (the HR group and the admin) or take that away, as the company's
    provider says. A superuser stays one; nothing is written when nothing changes."""
    User = get_user_model()
    group, _created = Group.objects.get_or_create(name=HR_GROUP)
    member = user.groups.filter(pk=group.pk).exists()
    staff = is_hr or user.is_superuser
    if member == is_hr and user.is_staff == staff:
        return
    with transaction.atomic():
        if is_hr:
            user.groups.add(group)
        else:
            user.groups.remove(group)
        User.objects.filter(pk=user.pk).update(is_staff=staff)
    user.is_staff = staff
    log.info("sign-in: %s %s HR", user.get_username(), "is now" if is_hr else "is no longer")
