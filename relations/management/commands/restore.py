"""`manage.py restore PATH`: a backup of `manage.py backup` back into the database."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.translation import gettext as _

from icr.backup import BackupError, restore_database


class Command(BaseCommand):
    help = (
        "Restore a backup written by `manage.py backup` into the configured database, all or "
        "nothing. Stop the web server and workers first. A database that has tables is "
        "refused unless --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="The backup file.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Restore into a database that has tables: what the backup holds replaces them.",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias.")

    def handle(self, *args, path: Path, force: bool, database: str, **options):
        settings_dict = connections[database].settings_dict
        try:
            backup = restore_database(settings_dict, path, force=force)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            _("Restored %(path)s into the %(kind)s database %(name)s.")
            % {"path": backup.path, "kind": backup.label, "name": settings_dict["NAME"]}
        )
