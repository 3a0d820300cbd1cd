"""Answers: no index on the foreign keys and snapshot ids that no query looks answers up by.

Every read of answers is by cycle, and the indexes starting with it (one per key, rollup) serve
it; a score is found by answer through the unique (answer, criterion) index. Each index dropped
is one less written by every submission. Plain DROP INDEX (same names on both databases):
Django's AlterField would also drop and re-add the foreign keys, checking millions of rows.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "reviews_answer_customer_department_id_f44cd22c": ("reviews_answer", "customer_department_id"),
    "reviews_answer_cycle_id_e4b0233d": ("reviews_answer", "cycle_id"),
    "reviews_answer_edge_id_fb1da980": ("reviews_answer", "edge_id"),
    "reviews_answer_provider_department_id_61e4f37e": ("reviews_answer", "provider_department_id"),
    "reviews_answer_provider_employee_id_b11fcf09": ("reviews_answer", "provider_employee_id"),
    "reviews_answerscore_answer_id_7c7c447b": ("reviews_answerscore", "answer_id"),
}


class Migration(migrations.Migration):
    dependencies = [
        ("relations", "0006_edge_never_deleted"),
        ("reviews", "0008_rollup_partitioned"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for name in INDEXES],
                    [
                        f'CREATE INDEX "{name}" ON "{table}" ("{column}")'
                        for name, (table, column) in INDEXES.items()
                    ],
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="answer",
                    name="customer_department",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="relations.department",
                        verbose_name="customer department id",
                    ),
                ),
                migrations.AlterField(
                    model_name="answer",
                    name="cycle",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="answers",
                        to="reviews.cycle",
                        verbose_name="cycle",
                    ),
                ),
                migrations.AlterField(
                    model_name="answer",
                    name="edge",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="relations.edge",
                        verbose_name="relationship",
                    ),
                ),
                migrations.AlterField(
                    model_name="answer",
                    name="provider_department",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="relations.department",
                        verbose_name="provider department id",
                    ),
                ),
                migrations.AlterField(
                    model_name="answer",
                    name="provider_employee",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="relations.employee",
                        verbose_name="provider employee",
                    ),
                ),
                migrations.AlterField(
                    model_name="answerscore",
                    name="answer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="scores",
                        to="reviews.answer",
                        verbose_name="answer",
                    ),
                ),
            ],
        )
    ]
