"""Who calls the API: the token behind a bearer header, its scopes and its rate.

A token is looked up by the SHA-256 of the secret (one indexed read) and kept by the worker
for settings.ICR_API_TOKEN_CACHE_SECONDS, so a revocation holds everywhere within that time.
Its last use is written at most once a minute, not on every request. The rate limit is a
counter per token and minute in the cache (Redis in production, shared by all workers; per
process without it), one increment per request.
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


# hash → (looked up at, monotonic seconds; the token or None)
_known: dict[str, tuple[float, ApiToken | None]] = {}


def forget_tokens() -> None:
    """Drop this worker's looked-up tokens (a revocation here holds at once)."""
    _known.clear()


def _lookup(digest: str) -> ApiToken | None:
    now = time.monotonic()
    known = _known.get(digest)
    if known is not None and now - known[0] < settings.ICR_API_TOKEN_CACHE_SECONDS:
        return known[1]
    found = ApiToken.objects.usable().filter(token_hash=digest).first()
    if len(_known) > 1000:
        _known.clear()
    _known[digest] = (now, found)
    return found


class TokenAuth(HttpBearer):
    def authenticate(self, request, token: str):
        if not token:
            return None
        found = _lookup(hash_token(token))
        if found is None:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at > LAST_USE_EVERY:
            found.last_used_at = now
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        _count_request(found)
        request.api_token = found
        return found


def _count_request(token: ApiToken) -> None:
    """Refuse the request (429) past the token's requests per minute."""
    limit = token.rate_per_minute or settings.ICR_API_RATE_PER_MINUTE
    minute = int(time.time() // 60)
    key = f"api-rate:{token.pk}:{minute}"
    try:
        count = cache.incr(key)
    except ValueError:  # the minute's first request
        count = 1 if cache.add(key, 1, timeout=90) else cache.incr(key)
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
