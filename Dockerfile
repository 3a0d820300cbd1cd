# ICR for production: gunicorn serves the web, the same image runs the Celery worker and beat
# (see docker-compose.yml). Static files are served by WhiteNoise from STATIC_ROOT.
# Debian 12 (bookworm): its postgresql-client is 15, the major version of docker-compose's
# server. A backup's pg_dump and pg_restore must not be older than the server, and a newer
# pg_dump writes SQL an older server may refuse.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Templates, static files and translations live beside manage.py: run from the source tree.
    PYTHONPATH=/app \
    ICR_VAR_DIR=/app/var \
    STATIC_ROOT=/app/var/staticfiles

# gettext: compile the translation catalogues at build time. postgresql-client: pg_dump,
# pg_restore and psql for `manage.py backup` and `restore`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN mkdir -p icr relations reviews && touch icr/__init__.py relations/__init__.py reviews/__init__.py \
    && pip install . \
    && rm -rf build icr relations reviews *.egg-info
COPY . .
RUN pip install --no-deps . \
    && rm -rf build *.egg-info \
    && ICR_DEV=1 python manage.py compilemessages --ignore=.venv >/dev/null

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin icr \
    && mkdir -p /app/var \
    && chown -R icr:icr /app/var
USER icr

EXPOSE 8000
CMD ["gunicorn", "icr.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--worker-class", "gthread", "--threads", "2", "--reuse-port", \
     "--access-logfile", "-"]
