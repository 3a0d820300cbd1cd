"""Answers no longer name their relationship; a closed cycle records when its answers were unlinked.

`Answer.edge` named the rater on a relationship whose customer is one person. Removing it:
on PostgreSQL one `ALTER TABLE … DROP COLUMN edge_id CASCADE`, which takes the foreign key with
it and does not rewrite the table (the values stay in the existing row versions, out of SQL's
reach, until `services.unlink_answers` writes a closed cycle's rows again); on
SQLite, which cannot drop a column under a foreign key, Django copies the table without it,
with the unique (cycle, key) constraint and the rollup index of the model (the single-column
indexes that 0009 dropped are not created again: the state has none).
`Cycle.answers_unlinked_at` is a nullable column (no default to write into existing rows).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0011_result_comment_lean"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="answer",
            name="edge",
        ),
        migrations.AddField(
            model_name="cycle",
            name="answers_unlinked_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="answers unlinked at"
            ),
        ),
    ]
