"""Who calls the API: the token behind a bearer header, its scopes and its rate.

A token is looked up by the SHA-256 of the secret (one indexed read). Its last use is written
at most once a minute, not on every request. The rate limit is a counter per token and minute
in the cache (Redis in production, shared by all workers; per process without it).
"""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from .models import ApiToken, hash_token
from .problems import Problem

LAST_USE_EVERY = dt.timedelta(minutes=1)


class TokenAuth(HttpBearer):
    def authenticate(self, request, token: str):
        if not token:
            return None
        found = (
            ApiToken.objects.usable()
            .filter(token_hash=hash_token(token))
            .only(
                "id",
                "scopes",
                "employee_id",
                "rate_per_minute",
                "last_used_at",
                "created_by_id",
                "name",
            )
            .first()
        )
        if found is None:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at > LAST_USE_EVERY:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        _count_request(found)
        request.api_token = found
        return found


def _count_request(token: ApiToken) -> None:
    """Refuse the request (429) past the token's requests per minute."""
    limit = token.rate_per_minute or settings.ICR_API_RATE_PER_MINUTE
    minute = int(time.time() // 60)
    key = f"api-rate:{token.pk}:{minute}"
    cache.add(key, 0, timeout=90)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=90)
        count = 1
    if count > limit:
        raise Problem(
            429,
            _("Too many requests"),
            _("This token may send %(n)d requests a minute.") % {"n": limit},
            headers={"Retry-After": str(60 - int(time.time()) % 60)},
        )


def require(request, scope: str) -> ApiToken:
    token: ApiToken = request.auth
    if not token.has_scope(scope):
        raise Problem(
            403,
            _("Missing scope"),
            _("This token does not have the scope “%(scope)s”.") % {"scope": scope},
        )
    return token
