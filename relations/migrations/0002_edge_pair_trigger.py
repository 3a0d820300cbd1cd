"""PostgreSQL: the two edges of a pair must mirror each other, checked by the database.

A check constraint sees one row; the pair rules span two (same type, ends swapped, retired
together). A statement-level trigger with a transition table checks every pair a statement
touched, once per statement, so a bulk import of 200,000 edges costs one set-based query.
SQLite has no statement-level triggers; there the services and the property tests hold it.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION relations_edge_pair_consistent() RETURNS trigger AS $$
DECLARE
    bad_pair bigint;
BEGIN
    SELECT p.id INTO bad_pair
    FROM relations_relationpair p
    WHERE p.id IN (SELECT DISTINCT pair_id FROM changed)
      AND NOT EXISTS (
        SELECT 1
        FROM relations_edge f
        JOIN relations_edge r ON r.pair_id = f.pair_id AND r.direction = 'reverse'
        WHERE f.pair_id = p.id
          AND f.direction = 'forward'
          AND f.type = p.type AND r.type = p.type
          AND f.provider_department_id IS NOT DISTINCT FROM r.customer_department_id
          AND f.provider_employee_id IS NOT DISTINCT FROM r.customer_employee_id
          AND f.customer_department_id IS NOT DISTINCT FROM r.provider_department_id
          AND f.customer_employee_id IS NOT DISTINCT FROM r.provider_employee_id
          AND f.valid_to IS NOT DISTINCT FROM p.valid_to
          AND r.valid_to IS NOT DISTINCT FROM p.valid_to
      )
    LIMIT 1;
    IF bad_pair IS NOT NULL THEN
        RAISE EXCEPTION 'relations_edge_pair_consistent: pair %% does not hold a mirrored forward and reverse edge with the pair''s type and validity', bad_pair
            USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER relations_edge_pair_consistent_insert
    AFTER INSERT ON relations_edge REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION relations_edge_pair_consistent();
CREATE TRIGGER relations_edge_pair_consistent_update
    AFTER UPDATE ON relations_edge REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION relations_edge_pair_consistent();
"""

DROP = """
DROP TRIGGER IF EXISTS relations_edge_pair_consistent_insert ON relations_edge;
DROP TRIGGER IF EXISTS relations_edge_pair_consistent_update ON relations_edge;
DROP FUNCTION IF EXISTS relations_edge_pair_consistent();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("relations", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
