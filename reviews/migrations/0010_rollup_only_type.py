"""Rollup.only_type: the row is also the all-types figure of its department and customer.

A closing cycle no longer writes an "all types" row per department × criterion × customer
where the department serves that customer through one type only (about 30% of a large
cycle's rows): the one type's row is flagged instead. Rows of cycles closed before keep their
all-types rows and read the same way.

Plain ADD COLUMN with a constant default: instant on PostgreSQL (every partition at once), and
on SQLite it keeps the table, whose folded-NULL unique index (0007) a rebuild would lose.
"""

from django.db import migrations, models

ADD = "ALTER TABLE reviews_rollup ADD COLUMN only_type boolean NOT NULL DEFAULT false"
DROP = "ALTER TABLE reviews_rollup DROP COLUMN only_type"


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0009_answer_lean_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(ADD, DROP)],
            state_operations=[
                migrations.AddField(
                    model_name="rollup",
                    name="only_type",
                    field=models.BooleanField(
                        db_default=False,
                        default=False,
                        verbose_name="the only type between the two departments",
                    ),
                )
            ],
        )
    ]
