"""Signed links in e-mails: a token names one request of one cycle and nothing else.

The token only says which request to open; the view still requires the login of the request's
rater, so a forwarded or leaked link lets nobody else answer.
"""

from __future__ import annotations

from django.core import signing

REQUEST_LINK_SALT = "reviews.request-link"
# Long enough to outlive any cycle; the cycle's own deadline decides whether answers are taken.
MAX_AGE_SECONDS = 400 * 24 * 3600


def make_request_token(request_id: int, cycle_id: int) -> str:
    return signing.dumps({"r": request_id, "c": cycle_id}, salt=REQUEST_LINK_SALT, compress=True)


def read_request_token(token: str) -> tuple[int, int] | None:
    """(request id, cycle id), or None for a token that is forged, altered or too old."""
    try:
        data = signing.loads(token, salt=REQUEST_LINK_SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    try:
        return int(data["r"]), int(data["c"])
    except (KeyError, TypeError, ValueError):
        return None
