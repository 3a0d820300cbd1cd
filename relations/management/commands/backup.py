"""`manage.py backup [PATH]`: one file holding ICR's database (icr/backup.py)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from icr.backup import BackupError, backup_database


class Command(BaseCommand):
    help = (
        "Back up the database to one file: PostgreSQL with pg_dump (custom format), SQLite with "
        "its online backup API. The database only: keep SECRET_KEY and ICR_ANSWER_KEY_SECRET "
        "as well, elsewhere. Never overwrites a file."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "path",
            nargs="?",
            type=Path,
            help="The backup file to write (default: var/backups/icr-<date>-<time>.pgdump "
            "or .sqlite3). Must not exist.",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias.")

    def handle(self, *args, path: Path | None = None, database: str, **options):
        try:
            backup = backup_database(connections[database].settings_dict, path)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            _("Backed up the %(kind)s database to %(path)s (%(size)s).")
            % {"kind": backup.label, "path": backup.path, "size": filesizeformat(backup.size)}
        )
