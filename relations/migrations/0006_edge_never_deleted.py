"""PostgreSQL: edges and pairs are never deleted; retiring keeps the relationship as it was.

Evaluations point at edges, so a deleted edge would rewrite history. Row-level BEFORE DELETE
triggers refuse it (TRUNCATE, used only by test flushes, does not fire them).
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION relations_refuse_delete() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '%%: rows are retired (valid_to), never deleted', TG_TABLE_NAME
        USING ERRCODE = '23514';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER relations_edge_never_deleted BEFORE DELETE ON relations_edge
    FOR EACH ROW EXECUTE FUNCTION relations_refuse_delete();
CREATE TRIGGER relations_relationpair_never_deleted BEFORE DELETE ON relations_relationpair
    FOR EACH ROW EXECUTE FUNCTION relations_refuse_delete();
"""

DROP = """
DROP TRIGGER IF EXISTS relations_edge_never_deleted ON relations_edge;
DROP TRIGGER IF EXISTS relations_relationpair_never_deleted ON relations_relationpair;
DROP FUNCTION IF EXISTS relations_refuse_delete();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("relations", "0005_edge_end_indexes_partial")]
    operations = [migrations.RunPython(create, drop)]
