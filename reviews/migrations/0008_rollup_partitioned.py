"""PostgreSQL: the rollup table is partitioned by cycle (LIST), one partition per cycle.

A closing cycle writes its half a million rows into a new table without indexes, builds the
indexes once and attaches it (`reviews.rollups`): about half the time of inserting them into
one large indexed table, and recomputing a cycle replaces its partition instead of deleting
and rewriting rows. Django's model is unchanged; SQLite keeps one table.

The primary key becomes (id, cycle_id), as a partitioned table's unique keys must hold the
partition key; ids still come from one identity sequence. A DEFAULT partition takes rows of
cycles that have no partition of their own (none are written that way by ICR).
"""

from django.db import migrations

INDEXES = (
    "CREATE INDEX reviews_rollup_customer ON {t} (cycle_id, customer_department_id, kind, "
    "criterion_id) WHERE scope = 'self'",
    "CREATE INDEX reviews_rollup_person ON {t} (employee_id, kind) WHERE scope = 'person'",
)
UNIQUE = (
    "ALTER TABLE {t} ADD CONSTRAINT reviews_rollup_one_per_figure UNIQUE NULLS NOT DISTINCT "
    "(cycle_id, department_id, scope, kind, employee_id, criterion_id, customer_department_id)"
)


def _rename_old(cursor) -> None:
    cursor.execute("ALTER TABLE reviews_rollup RENAME TO reviews_rollup_previous")
    for name in (
        "reviews_rollup_pkey",
        "reviews_rollup_one_per_figure",
        "reviews_rollup_customer",
        "reviews_rollup_person",
    ):
        cursor.execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_previous")


def _finish(cursor) -> None:
    cursor.execute("INSERT INTO reviews_rollup SELECT * FROM reviews_rollup_previous")
    cursor.execute("DROP TABLE reviews_rollup_previous")
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence('reviews_rollup', 'id'), "
        "COALESCE((SELECT max(id) FROM reviews_rollup), 0) + 1, false)"
    )


def _rebuild(schema_editor, *, partitioned: bool) -> None:
    """Recreate reviews_rollup (partitioned by cycle or not) with its rows, names and rules."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        _rename_old(cursor)
        cursor.execute(
            "CREATE TABLE reviews_rollup (LIKE reviews_rollup_previous INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS INCLUDING IDENTITY)"
            + (" PARTITION BY LIST (cycle_id)" if partitioned else "")
        )
        key = "id, cycle_id" if partitioned else "id"
        cursor.execute(f"ALTER TABLE reviews_rollup ADD PRIMARY KEY ({key})")
        cursor.execute(UNIQUE.format(t="reviews_rollup"))
        for sql in INDEXES:
            cursor.execute(sql.format(t="reviews_rollup"))
        if partitioned:
            cursor.execute(
                "CREATE TABLE reviews_rollup_default PARTITION OF reviews_rollup DEFAULT"
            )
            cursor.execute("SELECT DISTINCT cycle_id FROM reviews_rollup_previous ORDER BY 1")
            for (cycle_id,) in cursor.fetchall():
                cursor.execute(
                    f"CREATE TABLE reviews_rollup_c{int(cycle_id)}_0 PARTITION OF "
                    f"reviews_rollup FOR VALUES IN ({int(cycle_id)})"
                )
        _finish(cursor)


def partition(apps, schema_editor):
    _rebuild(schema_editor, partitioned=True)


def unpartition(apps, schema_editor):
    _rebuild(schema_editor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0007_rollup_lean_indexes"),
    ]

    operations = [
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
