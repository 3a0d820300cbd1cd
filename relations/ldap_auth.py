"""Sign in with the company's directory (LDAP / Active Directory) through ICR's sign-in form.

ldap3 (pure Python, so `make install` needs no compiler) talks to the directory, with the
settings ICR_LDAP_*: a service account searches the person by what they typed (employee ID or
e-mail), then ICR binds as that person with the password they typed. relations.signin decides
who that is among ICR's employees (never a new login), and membership of the directory's HR
group whether they are HR. Any failure, the directory unreachable included, is a refused
sign-in (which the lockout counts), never an error page.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.backends import BaseBackend
from ldap3 import NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from . import signin
from .auth import EmployeeIdOrEmailBackend

log = logging.getLogger(__name__)

GROUP_TYPES = ("groupOfNames", "groupOfUniqueNames", "activeDirectory")
# A group type: the object class of its groups, and the filter that finds those a DN is in.
# Active Directory's LDAP_MATCHING_RULE_IN_CHAIN also finds the groups the person is in through
# other groups (nested), in one search.
_GROUP_FILTERS = {
    "groupOfNames": "(&(objectClass=groupOfNames)(member={dn}))",
    "groupOfUniqueNames": "(&(objectClass=groupOfUniqueNames)(uniqueMember={dn}))",
    "activeDirectory": "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:={dn}))",
}


def normal_dn(dn: str) -> str:
    """A DN as compared: "CN=HR, OU=Groups,…" and "cn=hr,ou=groups,…" are one group."""
    return "".join(
        f"{attr.lower()}={value.lower()}{separator}"
        for attr, value, separator in parse_dn(dn, escape=False, strip=True)
    )


def close(connection: Connection) -> None:
    """Unbind and close the socket, which ldap3 leaves open when it could not connect."""
    with contextlib.suppress(LDAPException):
        connection.unbind()
    if connection.socket is not None:
        connection.socket.close()


@dataclass(frozen=True)
class _Person:
    dn: str
    match_value: str | None


class _Directory:
    """One sign-in's conversation with the directory, on the settings of the moment."""

    def __init__(self):
        uri = urlsplit(settings.ICR_LDAP_SERVER_URI)
        self.timeout = settings.ICR_LDAP_TIMEOUT_SECONDS
        # Certificates are checked (ldap3 does not by default): against the system's CAs, or
        # the file SSL_CERT_FILE names, and the host name the URI gives.
        tls = Tls(validate=ssl.CERT_REQUIRED, sni=uri.hostname)
        self.server = Server(
            settings.ICR_LDAP_SERVER_URI,
            tls=tls,
            get_info=NONE,
            connect_timeout=self.timeout,
        )

    def connection(self, user: str | None, password: str | None) -> Connection:
        """A bound connection (anonymous when `user` is empty); LDAPException when refused."""
        connection = Connection(
            self.server,
            user=user or None,
            password=password or None,
            receive_timeout=self.timeout,
            # AD answers a search with referrals, which would be followed anonymously.
            auto_referrals=False,
            raise_exceptions=True,
            read_only=True,
        )
        try:
            connection.open()
            if settings.ICR_LDAP_START_TLS:
                connection.start_tls()
            connection.bind()
        except BaseException:
            close(connection)
            raise
        return connection

    def search(self, connection: Connection, base: str, search_filter: str, attributes, scope):
        connection.search(
            base,
            search_filter,
            search_scope=scope,
            attributes=attributes,
            time_limit=self.timeout,
        )
        return [e for e in connection.response or [] if e.get("type") == "searchResEntry"]

    def find_person(self, connection: Connection, typed: str) -> _Person | None:
        """The one entry what the person typed names; None for nobody or several."""
        search_filter = settings.ICR_LDAP_USER_FILTER % {"user": escape_filter_chars(typed)}
        attr = settings.ICR_LDAP_MATCH_ATTR
        entries = self.search(
            connection, settings.ICR_LDAP_USER_BASE, search_filter, [attr], SUBTREE
        )
        if len(entries) != 1:
            log.info("LDAP: %d entries match the sign-in name", len(entries))
            return None
        values = entries[0]["attributes"].get(attr) or []
        if not isinstance(values, list):
            values = [values]
        value = values[0] if values else None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        return _Person(dn=entries[0]["dn"], match_value=value)

    def is_in_hr_group(self, connection: Connection, dn: str) -> bool:
        group_filter = _GROUP_FILTERS[settings.ICR_LDAP_GROUP_TYPE].format(
            dn=escape_filter_chars(dn)
        )
        groups = self.search(connection, settings.ICR_LDAP_GROUP_BASE, group_filter, [], SUBTREE)
        hr = normal_dn(settings.ICR_LDAP_HR_GROUP_DN)
        return any(normal_dn(group["dn"]) == hr for group in groups)


class DirectoryBackend(BaseBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        # No password: a bind without one is an anonymous bind, which many directories accept.
        if not settings.ICR_LDAP_ENABLED or not username or not username.strip() or not password:
            return None
        try:
            return self._authenticate(username.strip(), password)
        except LDAPException as exc:
            log.warning("LDAP: sign-in failed, the directory answered: %r", exc)
            return None

    def _authenticate(self, typed: str, password: str):
        directory = _Directory()
        service = directory.connection(settings.ICR_LDAP_BIND_DN, settings.ICR_LDAP_BIND_PASSWORD)
        try:
            person = directory.find_person(service, typed)
            if person is None:
                return None
            try:
                close(directory.connection(person.dn, password))
            except LDAPException as exc:
                log.info("LDAP: bind as %s refused: %s", person.dn, exc)
                return None
            try:
                user = signin.login_of_employee(settings.ICR_LDAP_MATCH_FIELD, person.match_value)
            except signin.SignInRefused as exc:
                log.info("LDAP: sign-in of %s refused: %s", person.dn, exc.code)
                return None
            if settings.ICR_LDAP_HR_GROUP_DN:
                signin.set_hr(user, directory.is_in_hr_group(service, person.dn))
        finally:
            close(service)
        return user

    def get_user(self, user_id):
        # As ICR's own backend: one plain query, and a disabled login is nobody.
        return EmployeeIdOrEmailBackend().get_user(user_id)
