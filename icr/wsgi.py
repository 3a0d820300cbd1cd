"""The WSGI application: the pages through Django's full middleware, the REST API (/api/)
through a lean stack of its own.

The API authenticates bearer tokens, not sessions: it needs no session, CSRF, messages,
sign-in lockout or audit-user middleware, and those cost a third of a hand-off's CPU
(make bench, section handoffs).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "icr.settings")
pages = get_wsgi_application()

from icr.lean import LeanWSGIHandler  # noqa: E402 - after Django is set up

api = LeanWSGIHandler()


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/api/"):
        return api(environ, start_response)
    return pages(environ, start_response)
