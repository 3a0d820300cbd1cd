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


# The browsable docs are a page (HTML, scripts): served with the pages' headers (CSP).
DOCS = "/api/v1/docs"


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/api/") and not path.startswith(DOCS):
        return api(environ, start_response)
    return pages(environ, start_response)
