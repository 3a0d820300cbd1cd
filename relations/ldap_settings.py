"""django-auth-ldap's settings (AUTH_LDAP_*) from ICR's (ICR_LDAP_*), for icr/settings.py.

Apart from the settings module so that it imports python-ldap only when LDAP is on, and so that
a test can build the same settings for the directory it starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GROUP_TYPES = ("groupOfNames", "groupOfUniqueNames", "activeDirectory")


def django_auth_ldap_settings(icr: Mapping[str, Any]) -> dict[str, Any]:
    """AUTH_LDAP_* from a mapping of ICR_LDAP_* values (the settings module's globals)."""
    import ldap
    from django.core.exceptions import ImproperlyConfigured
    from django_auth_ldap.config import (
        GroupOfNamesType,
        GroupOfUniqueNamesType,
        LDAPSearch,
        NestedActiveDirectoryGroupType,
    )

    group_type = icr.get("ICR_LDAP_GROUP_TYPE", "groupOfNames")
    if group_type not in GROUP_TYPES:
        raise ImproperlyConfigured(
            f"ICR_LDAP_GROUP_TYPE must be one of {', '.join(GROUP_TYPES)}, not {group_type!r}"
        )
    timeout = icr.get("ICR_LDAP_TIMEOUT_SECONDS", 10)
    result: dict[str, Any] = {
        "AUTH_LDAP_SERVER_URI": icr["ICR_LDAP_SERVER_URI"],
        "AUTH_LDAP_BIND_DN": icr.get("ICR_LDAP_BIND_DN", ""),
        "AUTH_LDAP_BIND_PASSWORD": icr.get("ICR_LDAP_BIND_PASSWORD", ""),
        "AUTH_LDAP_START_TLS": icr.get("ICR_LDAP_START_TLS", False),
        "AUTH_LDAP_USER_SEARCH": LDAPSearch(
            icr["ICR_LDAP_USER_BASE"],
            ldap.SCOPE_SUBTREE,
            icr.get("ICR_LDAP_USER_FILTER", "(|(employeeNumber=%(user)s)(mail=%(user)s))"),
        ),
        # AD answers a search with referrals python-ldap would chase anonymously.
        "AUTH_LDAP_CONNECTION_OPTIONS": {
            ldap.OPT_REFERRALS: 0,
            ldap.OPT_NETWORK_TIMEOUT: timeout,
            ldap.OPT_TIMEOUT: timeout,
        },
        # ICR's logins come from the import: the directory names them, never creates or edits.
        "AUTH_LDAP_NO_NEW_USERS": True,
        "AUTH_LDAP_ALWAYS_UPDATE_USER": False,
        "AUTH_LDAP_USER_ATTR_MAP": {},
    }
    if icr.get("ICR_LDAP_GROUP_BASE"):
        if group_type == "activeDirectory":
            kind, object_class = NestedActiveDirectoryGroupType(), "group"
        elif group_type == "groupOfUniqueNames":
            kind, object_class = GroupOfUniqueNamesType(), "groupOfUniqueNames"
        else:
            kind, object_class = GroupOfNamesType(), "groupOfNames"
        result["AUTH_LDAP_GROUP_SEARCH"] = LDAPSearch(
            icr["ICR_LDAP_GROUP_BASE"], ldap.SCOPE_SUBTREE, f"(objectClass={object_class})"
        )
        result["AUTH_LDAP_GROUP_TYPE"] = kind
    return result
