"""A Django WSGI handler with the API's middleware (settings.API_MIDDLEWARE)."""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler


class LeanWSGIHandler(WSGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # Django reads settings.MIDDLEWARE here and nowhere else per request: swapped for the
        # API's list while this handler builds its chain (once, when the process starts).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full
