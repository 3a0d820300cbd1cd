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
        parser.add_argument(
            "--excel",
            action="store_true",
            help="Start each file with the UTF-8 byte-order mark so Excel shows Chinese text.",
        )

    def handle(self, *args, directory: Path, excel: bool = False, **options):
        counts = export_org(directory, excel=excel)
        self.stdout.write(
            _(
                "Wrote %(departments)s departments, %(employees)s employees and %(edges)s "
                "edges to %(dir)s."
            )
            % {**counts, "dir": directory}
        )
