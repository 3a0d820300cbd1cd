"""Sign in with the employee id (the username) or the e-mail address."""

import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connections, router
from django.db.models import Q


def find_login(login: str):
    """The login that `login` (an employee id or an e-mail address, any case) names, or None.

    The username wins over someone else's e-mail; an e-mail shared by two logins names neither.
    The sign-in lockout (relations.lockout) counts failures against the same login this finds.
    """
    User = get_user_model()
    login = login.strip()
    candidates = list(User.objects.filter(Q(username__iexact=login) | Q(email__iexact=login))[:2])
    exact = [u for u in candidates if u.username.lower() == login.lower()]
    if exact:
        return exact[0]
    if len(candidates) == 1:
        return candidates[0]
    return None


class EmployeeIdOrEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        from .signin import passwords_for_everyone

        if username is None or password is None:
            return None
        user = find_login(username)
        if user is None:
            # Unknown, or an e-mail shared by two logins: refuse rather than guess. Run the
            # hasher anyway so the response time does not tell which.
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            if not user.is_superuser and not passwords_for_everyone():
                # Everyone signs in with the company's identity; an ICR password is only the
                # break-glass superuser's, for when the provider or directory is down.
                return None
            return user
        return None

    def get_user(self, user_id):
        """The signed-in user, loaded on every page view: plain SQL instead of the ORM's
        query building, which was a sixth of a rating submission's CPU (make bench, load)."""
        User = get_user_model()
        db = router.db_for_read(User)
        sql, attnames, converters = _user_query(db)
        connection = connections[db]
        with connection.cursor() as cursor:
            cursor.execute(sql, [User._meta.pk.get_db_prep_value(user_id, connection)])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for index, field, steps in converters:
            for convert in steps:
                values[index] = convert(values[index], field, connection)
        user = User.from_db(db, attnames, values)
        return user if self.user_can_authenticate(user) else None


@functools.cache
def _user_query(db: str) -> tuple[str, list[str], list]:
    """SELECT of a user by primary key, its attribute names and the value converters."""
    User = get_user_model()
    connection = connections[db]
    q = connection.ops.quote_name
    fields = User._meta.concrete_fields
    sql = (
        f"SELECT {', '.join(q(f.column) for f in fields)} "  # noqa: S608
        f"FROM {q(User._meta.db_table)} WHERE {q(User._meta.pk.column)} = %s"
    )
    converters = []
    for index, field in enumerate(fields):
        col = field.get_col(User._meta.db_table)
        steps = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if steps:
            converters.append((index, col, steps))
    return sql, [f.attname for f in fields], converters
