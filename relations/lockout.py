"""Sign-in lockout: what django-axes counts, how long it locks, what the person sees, HR's unlock.

axes (settings `AXES_*`) refuses a sign-in, even with the right password, once a login or a
client address has failed too often; the hooks here fit it to ICR:

- `login_name`: failures count against the login a sign-in names, so "E003", "e003" and the
  e-mail address are one login, not three counters to take turns on;
- `client_address`: the client's address, not the TLS proxy's (which every person would share);
- `LockoutHandler`: a limit of its own for an address, which a whole office may share, and a
  successful sign-in clears the failures against that login only;
- `lockout_response`: the translated page a locked-out person gets;
- `unlock_logins`: HR clears a person's lockout (the employee admin's action).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off, get_lockout_parameters
from django.conf import settings
from django.db.models import Sum
from django.shortcuts import render

from .auth import find_login


def login_name(request, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the username of the login a sign-in names, else what was typed.

    Read once per request (axes asks several times while it handles one sign-in)."""
    if credentials:
        typed = credentials.get("username")
    else:
        typed = getattr(request, "POST", {}).get("username")
    if not typed or not typed.strip():
        return None
    names = request.__dict__.setdefault("_icr_login_names", {})
    if typed not in names:
        user = find_login(typed)
        # Unknown names count too (casefolded, like the lookup), or guessing them would be free.
        names[typed] = user.get_username() if user is not None else typed.strip().casefold()
    return names[typed]


def client_address(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the address the sign-in came from.

    Behind ICR_PROXY_COUNT proxies, REMOTE_ADDR is the nearest proxy's and the client's address
    is the one the outermost proxy appended to X-Forwarded-For: counted from the right, because
    the entries to its left are whatever the client sent."""
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.ICR_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return remote
    return candidate


def _limit_of(parameter: str | list[str]) -> int:
    names = [parameter] if isinstance(parameter, str) else list(parameter)
    if names == ["ip_address"]:
        return settings.ICR_LOCKOUT_ADDRESS_FAILURE_LIMIT
    return settings.AXES_FAILURE_LIMIT


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler with a limit per lockout parameter and a narrower reset.

    axes compares one number, the largest count over AXES_LOCKOUT_PARAMETERS, with one limit
    (AXES_FAILURE_LIMIT). Here each parameter has its own limit (an address has
    ICR_LOCKOUT_ADDRESS_FAILURE_LIMIT) and the number axes sees is AXES_FAILURE_LIMIT as soon as
    any parameter reached its own, and below it otherwise.
    """

    def get_failures(self, request, credentials: dict | None = None) -> int:
        parameters = get_lockout_parameters(request, credentials)
        counts = [
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        ]
        limit = settings.AXES_FAILURE_LIMIT
        if any(count >= _limit_of(p) for p, count in zip(parameters, counts, strict=True)):
            return limit
        return min(max(counts, default=0), limit - 1)

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """After a successful sign-in (AXES_RESET_ON_SUCCESS): the failures against that login.

        axes would also clear every failure from the same address, whatever login it was for:
        someone with a login of their own could then guess a colleague's password without end,
        signing in as themselves after every few tries."""
        username = get_client_username(request, credentials)
        if not username:
            return 0
        return self.reset_attempts(username=username)


def lockout_response(request, original_response=None, credentials: dict | None = None):
    """AXES_LOCKOUT_CALLABLE: the page for a refused sign-in, app and admin alike.

    It says neither which limit was reached nor whether the login exists."""
    cool_off = get_cool_off(request)
    minutes = int(cool_off.total_seconds() // 60) if cool_off else None
    return render(
        request,
        "registration/locked_out.html",
        {"minutes": minutes},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


def unlock_logins(usernames: Iterable[str]) -> set[str]:
    """Forget the failed sign-ins against these logins, from any address: HR's unlock.

    Returns the logins that had any. A lockout of an address that others' failures caused
    stays: HR clears those under "Access attempts" in the admin."""
    return {name for name in set(usernames) if AxesProxyHandler.reset_attempts(username=name)}
