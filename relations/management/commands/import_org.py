"""Load the org chart and HR-set relationships from HR's files (see relations.importing).

Errors go to stderr as `file:line:column: message` and the command exits non-zero with nothing
written. With `--format json` the summary is one JSON object on stdout with exactly the keys
departments, employees, edges (by type) and pairs; when the files have errors, stdout gets
`{"errors": [{"file", "line", "column", "message"}, ...]}` instead (and stderr the same lines
as in text mode). A dry run prints the changes it would make and the summary of the database
as it is.
"""

import getpass
import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from relations.importing import (
    ImportConflict,
    ImportSource,
    apply_import,
    current_summary,
    plan_import,
)


def _language_from_environment() -> str:
    """The user's language from the usual locale variables (zh_CN.UTF-8 → zh-hans)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if not value or value in ("C", "POSIX") or value.startswith("C."):
            continue
        code = value.split(".")[0].replace("_", "-").lower()
        if code.startswith("zh"):
            return "zh-hans"
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def _system_user() -> str:
    """The operating-system account running the command, for the import record."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment nor in the user database
        return ""


class Command(BaseCommand):
    help = "Import departments, employees and relationships from CSV or .xlsx files."

    def add_arguments(self, parser):
        parser.add_argument("--departments", required=True, type=Path)
        parser.add_argument("--employees", required=True, type=Path)
        parser.add_argument("--relations", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="Check and preview only.")
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument(
            "--language", help="Language of the messages (default: from LANG, else zh-hans)."
        )

    def handle(self, *args, **options):
        with translation.override(options["language"] or _language_from_environment()):
            self._import(options)

    def _source(self, path: Path | None) -> ImportSource | None:
        if path is None:
            return None
        try:
            return ImportSource(name=path.name, data=path.read_bytes())
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(path)s: %(reason)s") % {"path": path, "reason": exc.strerror}
            ) from exc

    def _import(self, options):
        as_json = options["format"] == "json"
        plan = plan_import(
            departments=self._source(options["departments"]),
            employees=self._source(options["employees"]),
            relations=self._source(options["relations"]),
        )
        if plan.errors:
            for issue in plan.errors:
                self.stderr.write(str(issue))
            if as_json:
                self.stdout.write(
                    json.dumps({"errors": [e.as_dict() for e in plan.errors]}, ensure_ascii=False)
                )
            raise CommandError(
                ngettext(
                    "%(count)s error in the files; nothing was imported.",
                    "%(count)s errors in the files; nothing was imported.",
                    len(plan.errors),
                )
                % {"count": len(plan.errors)}
            )
        if options["dry_run"]:
            summary = current_summary()
        else:
            try:
                summary = apply_import(plan, system_user=_system_user())
            except ImportConflict as exc:
                raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False))
            return
        if options["dry_run"]:
            self.stdout.write(_("Dry run: nothing was written."))
        if plan.is_noop:
            self.stdout.write(_("Nothing changed."))
        else:
            for line in plan.changes.lines():
                self.stdout.write(line)
        for line in summary.lines():
            self.stdout.write(line)
