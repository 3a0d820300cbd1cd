from pathlib import Path

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from relations.exporting import export_org


class Command(BaseCommand):
    help = (
        "Write departments.csv, employees.csv and relations.csv (every active edge) to a "
        "directory, in the formats import_org reads."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path)

    def handle(self, *args, directory: Path, **options):
        counts = export_org(directory)
        self.stdout.write(
            _(
                "Wrote %(departments)s departments, %(employees)s employees and %(edges)s "
                "edges to %(dir)s."
            )
            % {**counts, "dir": directory}
        )
