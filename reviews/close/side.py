"""Queries an operation hands to the close to run at an idle moment of the connection."""

from __future__ import annotations

from django.db import connection


class SideQueries:
    """Read-only queries an operation needs anyway, run by whoever has an idle moment.

    Closing passes the summary's queries to the close (`reviews.close.compute_rollups`), which
    on PostgreSQL runs them on the same connection while it waits for its rows
    (`reviews.close.postgres`). Where it did not, the operation runs them itself.
    """

    def __init__(self, queries: list[tuple[str, list]]):
        self.queries = queries
        self.results: list[list[tuple]] | None = None

    def run(self, cursor) -> None:
        results = []
        for sql, params in self.queries:
            cursor.execute(sql, params)
            results.append(cursor.fetchall())
        self.results = results

    def ensure_run(self) -> list[list[tuple]]:
        if self.results is None:
            with connection.cursor() as cursor:
                self.run(cursor)
        return self.results
