"""Sign in with the company's directory (LDAP / Active Directory) through ICR's sign-in form.

django-auth-ldap does the directory's part (settings AUTH_LDAP_*, built from ICR_LDAP_* by
relations.ldap_settings): a service account searches the person by what they typed (employee
ID or e-mail), then ICR binds as that person with the password they typed. This backend
decides who it is among ICR's employees (relations.signin: never a new login) and whether
membership of the directory's HR group makes them HR.
"""

from __future__ import annotations

import logging

import ldap.dn
from django.conf import settings
from django_auth_ldap.backend import LDAPBackend

from . import signin
from .auth import EmployeeIdOrEmailBackend

log = logging.getLogger(__name__)


def _normal_dn(dn: str) -> str:
    """A DN as compared: "CN=HR, OU=Groups,…" and "cn=hr,ou=groups,…" are one group."""
    return ldap.dn.dn2str(ldap.dn.str2dn(dn)).lower()


class DirectoryBackend(LDAPBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.ICR_LDAP_ENABLED or not username or not password:
            return None
        return super().authenticate(request, username=username, password=password)

    def get_or_build_user(self, username, ldap_user):
        """The employee's login the directory entry names (ICR_LDAP_MATCH_ATTR), never a new one;
        HR as the directory's HR group says."""
        values = ldap_user.attrs.get(settings.ICR_LDAP_MATCH_ATTR) or []
        try:
            user = signin.login_of_employee(
                settings.ICR_LDAP_MATCH_FIELD, values[0] if values else None
            )
        except signin.SignInRefused as exc:
            log.info("LDAP: sign-in of %s refused: %s", ldap_user.dn, exc.code)
            raise ldap_user.AuthenticationFailed(exc.code) from exc
        if settings.ICR_LDAP_HR_GROUP_DN:
            groups = {_normal_dn(dn) for dn in ldap_user.group_dns}
            signin.set_hr(user, _normal_dn(settings.ICR_LDAP_HR_GROUP_DN) in groups)
        return user, False

    def get_user(self, user_id):
        # As ICR's own backend: one plain query, and a disabled login is nobody.
        return EmployeeIdOrEmailBackend().get_user(user_id)

    def get_group_permissions(self, user, obj=None):
        # Permissions come from ICR's groups (relations.auth), not from the directory's.
        return set()
