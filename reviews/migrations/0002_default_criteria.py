from django.db import migrations

from reviews.migrations_defaults import add_default_criteria


def add_defaults(apps, schema_editor):
    add_default_criteria(apps)


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
