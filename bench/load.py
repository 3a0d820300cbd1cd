"""`make bench` section `load`: rating submissions against gunicorn on PostgreSQL (wrk)."""

from __future__ import annotations

CHILD_STEPS: dict = {}
SECTIONS: dict = {}


def add_arguments(parser) -> None:
    pass
