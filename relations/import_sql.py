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

import csv
import functools
import io
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from django.db import connection, models
from django.db.backends.utils import CursorDebugWrapper

_stage_names = itertools.count(1)

# From this many new rows on, PostgreSQL checks foreign keys once per constraint instead of
# once per row (see foreign_keys_checked_once).
BULK_ROWS = 20_000


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def allocate_ids(model: type[models.Model], count: int, *, locked: bool = False) -> list[int]:
    """Ids for `count` new rows of `model`, reserved so that nobody else gets them.

    `locked`: the caller holds a lock that keeps other sessions from inserting into the table,
    so on PostgreSQL the sequence can jump by `count` in one step instead of `count` nextvals.
    """
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if is_postgres():
            if locked:
                cursor.execute(
                    "SELECT setval(s.seq, nextval(s.seq) + %s - 1) FROM (SELECT "
                    "pg_get_serial_sequence(%s, 'id')::regclass AS seq) AS s",
                    [count, table],
                )
                last = cursor.fetchone()[0]
                return list(range(last - count + 1, last + 1))
            # The sequence is looked up once; nextval on a constant regclass is cheap per row.
            cursor.execute(
                "SELECT nextval(s.seq) FROM (SELECT pg_get_serial_sequence(%s, 'id')::regclass "
                "AS seq) AS s, generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        qn = connection.ops.quote_name
        cursor.execute(
            f"SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM {qn(table)} "  # noqa: S608
            "UNION ALL SELECT seq AS m FROM sqlite_sequence WHERE name = %s)",
            [table],
        )
        start = (cursor.fetchone()[0] or 0) + 1
    return list(range(start, start + count))


def timestamp(value: datetime):
    """A datetime as this module writes it: text for COPY, the backend's form for SQLite."""
    if is_postgres():
        return value.isoformat()
    return connection.ops.adapt_datetimefield_value(value)


@contextmanager
def foreign_keys_checked_once(
    tables: Sequence[type[models.Model]], *, enabled: bool
) -> Iterator[None]:
    """On PostgreSQL, drop the foreign keys of `tables` for the block and add them back after.

    A foreign key is checked by a trigger per inserted row (about 8 µs each: 7 s for a first
    import of 100,000 people with their rank edges); adding the constraint back validates all
    rows with one anti-join instead. DDL is transactional in PostgreSQL, so an error inside
    the block rolls the drop back with everything else. The price is an ACCESS EXCLUSIVE lock
    on those tables until commit (readers wait), and the database user must own the tables
    (it does when it ran the migrations), so this is kept for large loads.
    """
    if not enabled or not is_postgres():
        yield
        return
    qn = connection.ops.quote_name
    names = [model._meta.db_table for model in tables]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, con.conname, pg_get_constraintdef(con.oid) "
            "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
            "WHERE con.contype = 'f' AND c.relname = ANY(%s) AND pg_table_is_visible(c.oid) "
            "ORDER BY c.relname, con.conname",
            [names],
        )
        by_table: dict[str, list[tuple[str, str]]] = {}
        for table, name, definition in cursor.fetchall():
            by_table.setdefault(table, []).append((name, definition))
        for table, constraints in by_table.items():
            drops = ", ".join(f"DROP CONSTRAINT {qn(name)}" for name, _ in constraints)
            cursor.execute(f"ALTER TABLE {qn(table)} {drops}")
    yield
    with connection.cursor() as cursor:
        for table, constraints in by_table.items():
            adds = ", ".join(
                f"ADD CONSTRAINT {qn(name)} {definition}" for name, definition in constraints
            )
            cursor.execute(f"ALTER TABLE {qn(table)} {adds}")


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


@contextmanager
def staged_ids(ids: Sequence[int]) -> Iterator[str]:
    """A temporary table `(id)` holding `ids`, for `... IN (SELECT id FROM <name>)`."""
    field = models.BigIntegerField(name="id")
    field.column = "id"
    qn = connection.ops.quote_name
    name = f"icr_import_stage_{next(_stage_names)}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {name} ({qn('id')} bigint)")
    try:
        _load(name, [field], [(pk,) for pk in ids])
        yield name
    finally:
        _drop_stage(name)


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
        # In COPY's CSV format an unquoted empty value is NULL; for NOT NULL text columns it
        # must be the empty string instead (FORCE_NOT_NULL), since csv writes "" unquoted.
        texts = [
            qn(f.column)
            for f in fields
            if not f.null and isinstance(f, models.CharField | models.TextField)
        ]
        options = "FORMAT csv" + (f", FORCE_NOT_NULL ({', '.join(texts)})" if texts else "")
        _copy(f"COPY {qn(table)} ({columns}) FROM STDIN WITH ({options})", _copy_csv(rows))
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
            if isinstance(row[i], datetime):
                row[i] = _prep_value(fields[i], row[i])
        out.append(row)
    return out


def _copy_csv(rows: Sequence[Sequence]) -> io.StringIO:
    """Rows as CSV for COPY: the csv module does the quoting (in C); None becomes NULL."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
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
