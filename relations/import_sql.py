"""Set-based writes for the importer: a fixed number of statements whatever the row count.

PostgreSQL loads rows with COPY (straight into the table for inserts, into a temporary staging
table for updates); SQLite loads the same staging tables with one `executemany`. Everything
after loading is the same SQL on both (`INSERT`, `UPDATE ... FROM`), so both databases run the
same code path. Ids of new rows are allocated up front (PostgreSQL: `nextval` over
`generate_series`; SQLite: above the current maximum, safe because SQLite transactions here
take the write lock at BEGIN), so rows that point at each other (manager, department head,
the two edges of a pair) are written in one pass.
"""

from __future__ import annotations

import functools
import io
import itertools
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, models
from django.db.backends.utils import CursorDebugWrapper

_stage_names = itertools.count(1)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM "
            + connection.ops.quote_name(table)
            + " UNION ALL SELECT seq AS m FROM sqlite_sequence WHERE name = %s)",
            [table],
        )
        start = (cursor.fetchone()[0] or 0) + 1
    return list(range(start, start + count))


def _fields(model: type[models.Model], attnames: Sequence[str]) -> list[models.Field]:
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return [by_attname[name] for name in attnames]


def insert_rows(
    model: type[models.Model], attnames: Sequence[str], rows: Sequence[Sequence]
) -> None:
    """Insert rows (explicit ids included); columns not given get the field's default."""
    if not rows:
        return
    given = set(attnames)
    rest = [f for f in model._meta.concrete_fields if f.attname not in given]
    defaults = tuple(f.get_default() for f in rest)
    fields = _fields(model, attnames) + rest
    if defaults:
        rows = [(*row, *defaults) for row in rows]
    _load(model._meta.db_table, fields, rows)


def update_rows(
    model: type[models.Model], attnames: Sequence[str], rows: Sequence[Sequence]
) -> None:
    """Set the given columns of existing rows; each row is (id, *values in attnames order)."""
    if not rows:
        return
    table = model._meta.db_table
    qn = connection.ops.quote_name
    fields = _fields(model, ["id", *attnames])
    stage = _create_stage(table, fields)
    try:
        _load(stage, fields, rows)
        assignments = ", ".join(f"{qn(f.column)} = s.{qn(f.column)}" for f in fields[1:])
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {qn(table)} SET {assignments} FROM {stage} AS s "  # noqa: S608
                f"WHERE {qn(table)}.id = s.id"
            )
    finally:
        _drop_stage(stage)


def retire_pairs(pair_model, edge_model, pair_ids: Sequence[int], at: datetime) -> None:
    """Retire pairs and both their edges (one statement for all the edges, as the trigger asks)."""
    if not pair_ids:
        return
    qn = connection.ops.quote_name
    pair_table, edge_table = pair_model._meta.db_table, edge_model._meta.db_table
    fields = _fields(pair_model, ["id"])
    stage = _create_stage(pair_table, fields)
    try:
        _load(stage, fields, [(pk,) for pk in pair_ids])
        valid_to = _prep_value(pair_model._meta.get_field("valid_to"), at)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {qn(pair_table)} SET valid_to = %s "  # noqa: S608
                f"WHERE id IN (SELECT id FROM {stage}) AND valid_to IS NULL",
                [valid_to],
            )
            cursor.execute(
                f"UPDATE {qn(edge_table)} SET valid_to = %s "  # noqa: S608
                f"WHERE pair_id IN (SELECT id FROM {stage}) AND valid_to IS NULL",
                [valid_to],
            )
    finally:
        _drop_stage(stage)


def _create_stage(table: str, fields: list[models.Field]) -> str:
    """An empty temporary table with the column types of `fields` of `table`."""
    qn = connection.ops.quote_name
    name = f"icr_import_stage_{next(_stage_names)}"
    columns = ", ".join(qn(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {name} AS SELECT {columns} FROM {qn(table)} WHERE 1 = 0"  # noqa: S608
        )
    return name


def _drop_stage(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {name}")


def _load(table: str, fields: list[models.Field], rows: Sequence[Sequence]) -> None:
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    if is_postgres():
        _copy(f"COPY {qn(table)} ({columns}) FROM STDIN", _copy_text(fields, rows))
        return
    prepared = _sqlite_rows(fields, rows)
    placeholders = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {qn(table)} ({columns}) VALUES ({placeholders})",  # noqa: S608
            prepared,
        )


def _prep_value(field: models.Field, value):
    return field.get_db_prep_save(value, connection)


def _sqlite_rows(fields: list[models.Field], rows: Sequence[Sequence]):
    needs_prep = [
        i for i, f in enumerate(fields) if isinstance(f, models.DateTimeField | models.DateField)
    ]
    if not needs_prep:
        return rows
    out = []
    for row in rows:
        row = list(row)
        for i in needs_prep:
            row[i] = _prep_value(fields[i], row[i])
        out.append(row)
    return out


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _copy_text(fields: list[models.Field], rows: Sequence[Sequence]) -> io.StringIO:
    """COPY's text format: tab-separated, backslash escapes, \\N for NULL."""
    buffer = io.StringIO()
    write = buffer.write
    for row in rows:
        write("\t".join([_copy_value(v) for v in row]))
        write("\n")
    buffer.seek(0)
    return buffer


def _copy(sql: str, buffer: io.StringIO) -> None:
    """Run COPY through Django's execute wrappers and query log, so it counts as one query."""
    with connection.cursor() as cursor:

        def executor(sql, params, many, context):
            with connection.wrap_database_errors:
                return cursor.cursor.copy_expert(sql, buffer)

        run = executor
        for wrapper in reversed(connection.execute_wrappers):
            run = functools.partial(wrapper, run)
        context = {"connection": connection, "cursor": cursor}
        if isinstance(cursor, CursorDebugWrapper):
            with cursor.debug_sql(sql):
                run(sql, None, False, context)
        else:
            run(sql, None, False, context)
