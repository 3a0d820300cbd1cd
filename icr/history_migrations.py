"""What the audit-trail migrations run: the first version of existing rows, and append-only
historical tables on PostgreSQL.

Kept out of the migration files so the relations and reviews migrations share one copy; it uses
only the migration state's models (`apps`), never the current ones.
"""

from __future__ import annotations

from django.utils import timezone


def baseline(app_label: str, model_names: list[str]):
    """A RunPython function: one "created" history row per existing row, dated now.

    An audit trail starts when it is installed: before that moment there is no history, and
    the state as of an earlier date is the state found at installation.
    """

    def run(apps, schema_editor):
        connection = schema_editor.connection
        qn = connection.ops.quote_name
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        for name in model_names:
            model = apps.get_model(app_label, name)
            history = apps.get_model(app_label, f"Historical{name}")
            columns = ", ".join(qn(f.column) for f in model._meta.concrete_fields)
            schema_editor.execute(
                f"INSERT INTO {qn(history._meta.db_table)} "  # noqa: S608
                f"({columns}, history_date, history_type) "
                f"SELECT {columns}, %s, '+' FROM {qn(model._meta.db_table)}",
                [now],
            )

    return run


APPEND_ONLY_FUNCTION = r"""
CREATE OR REPLACE FUNCTION icr_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%%: audit rows are written once, never changed or deleted', TG_TABLE_NAME
        USING ERRCODE = '23514';
END
$$ LANGUAGE plpgsql;
"""


def append_only(tables: list[str]):
    """RunPython functions (create, drop): PostgreSQL refuses UPDATE and DELETE on `tables`.

    Row-level BEFORE triggers: an INSERT, the only thing the audit trail does, never fires
    them; TRUNCATE (test flushes) does not either.
    """

    def create(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(APPEND_ONLY_FUNCTION)
        for table in tables:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION icr_audit_append_only()"
            )

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")

    return create, drop
