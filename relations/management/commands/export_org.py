from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from relations.exporting import export_org, parse_as_of


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
        parser.add_argument(
            "--as-of",
            metavar="DATE",
            help=(
                "Write the files as they were at that moment, from the audit trail: a date "
                "(YYYY-MM-DD, the end of that day) or a date and time (YYYY-MM-DD HH:MM[:SS]), "
                "in the site's time zone unless an offset is given. The trail begins when it "
                "was installed."
            ),
        )

    def handle(self, *args, directory: Path, excel: bool = False, as_of=None, **options):
        moment = None
        if as_of:
            try:
                moment = parse_as_of(as_of)
            except ValueError as exc:
                raise CommandError(
                    _("“%(value)s” is not a date (YYYY-MM-DD) or a date and time.")
                    % {"value": as_of}
                ) from exc
        counts = export_org(directory, excel=excel, as_of=moment)
        self.stdout.write(
            _(
                "Wrote %(departments)s departments, %(employees)s employees and %(edges)s "
                "edges to %(dir)s."
            )
            % {**counts, "dir": directory}
        )
