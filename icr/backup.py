"""Backups of ICR's database, one file each, and their restore (`manage.py backup`/`restore`).

PostgreSQL: `pg_dump --format=custom` and `pg_restore` in a single transaction. SQLite: the
online backup API (`sqlite3.Connection.backup`), restored into a new file that then replaces
the database file. A backup holds the database only: neither the application's secrets (the
answer keys are HMACs under `ICR_ANSWER_KEY_SECRET`, else `SECRET_KEY`) nor files under var/.

Both functions take a database's settings (`connections[alias].settings_dict`), so the
database they work on need not be the one Django is connected to.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.client import DatabaseClient
from django.db.utils import load_backend
from django.utils import timezone
from django.utils.translation import gettext as _

POSTGRESQL = "postgresql"
SQLITE = "sqlite"
# The first bytes of each kind of backup file.
_MAGIC = {POSTGRESQL: b"PGDMP", SQLITE: b"SQLite format 3\x00"}
_SUFFIX = {POSTGRESQL: ".pgdump", SQLITE: ".sqlite3"}
_LABEL = {POSTGRESQL: "PostgreSQL", SQLITE: "SQLite"}
# Every ICR database has it (Django's record of applied migrations).
_MIGRATIONS_TABLE = "django_migrations"


class BackupError(Exception):
    """A backup or restore was refused or failed; the message is translated."""


@dataclass(frozen=True)
class Backup:
    path: Path
    kind: str  # POSTGRESQL or SQLITE
    size: int  # bytes

    @property
    def label(self) -> str:
        return _LABEL[self.kind]


def database_kind(database: dict) -> str:
    engine = database["ENGINE"]
    if "postgresql" in engine:
        return POSTGRESQL
    if "sqlite3" in engine:
        return SQLITE
    raise BackupError(
        _("Backups cover PostgreSQL and SQLite, not %(engine)s.") % {"engine": engine}
    )


def file_kind(path: Path) -> str | None:
    """POSTGRESQL or SQLITE by the file's first bytes; None for anything else."""
    with path.open("rb") as fh:
        head = fh.read(max(len(magic) for magic in _MAGIC.values()))
    for kind, magic in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def default_backup_path(kind: str) -> Path:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    return Path(settings.VAR_DIR) / "backups" / f"icr-{stamp}{_SUFFIX[kind]}"


# --- Backup ---------------------------------------------------------------------------------


def backup_database(database: dict, path: Path | None = None) -> Backup:
    """Write a backup of `database` to `path` (default: var/backups/icr-<time>.<kind>).

    Refuses an existing `path`. The backup is written under a temporary name beside `path` and
    linked to `path` only when complete: a failed backup leaves no file, and a file that
    appears at `path` meanwhile is not overwritten (the link fails instead).
    """
    kind = database_kind(database)
    path = Path(path) if path is not None else default_backup_path(kind)
    if path.exists():
        raise BackupError(
            _("%(path)s exists already: a backup never overwrites a file.") % {"path": path}
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_file(path.parent, ".icr-backup-") as temporary:
        if kind == POSTGRESQL:
            _pg_dump(database, temporary)
        else:
            _sqlite_backup(database, temporary)
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise BackupError(
                _("%(path)s exists already: a backup never overwrites a file.") % {"path": path}
            ) from None
    return Backup(path=path, kind=kind, size=path.stat().st_size)


def _pg_dump(database: dict, target: Path) -> None:
    _run_postgresql_tool(
        "pg_dump",
        database,
        ["--format=custom", f"--file={target}", f"--dbname={database['NAME']}"],
    )


def _sqlite_backup(database: dict, target: Path) -> None:
    source_path = Path(database["NAME"])
    if not source_path.is_file():
        raise BackupError(_("There is no database file at %(path)s.") % {"path": source_path})
    # The backup API copies a consistent snapshot while ICR goes on writing.
    with (
        contextlib.closing(sqlite3.connect(source_path)) as source,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy)
        # One self-contained file: no -wal file beside it to keep with it.
        copy.execute("PRAGMA journal_mode=DELETE")


# --- Restore --------------------------------------------------------------------------------


def restore_database(database: dict, path: Path, *, force: bool = False) -> Backup:
    """Restore the backup at `path` into `database`, all or nothing.

    The file must be a backup of the database's kind holding an ICR database. A database that
    has tables is refused unless `force`: then the backup replaces everything in it (SQLite:
    the file; PostgreSQL: the schema public).
    """
    kind = database_kind(database)
    path = Path(path)
    if not path.is_file():
        raise BackupError(_("There is no backup file at %(path)s.") % {"path": path})
    found = file_kind(path)
    if found is None:
        raise BackupError(
            _(
                "%(path)s is not a backup: neither a pg_dump archive (custom format) nor an "
                "SQLite database."
            )
            % {"path": path}
        )
    if found != kind:
        raise BackupError(
            _("%(path)s is a backup made on %(found)s; the database here is %(kind)s.")
            % {"path": path, "found": _LABEL[found], "kind": _LABEL[kind]}
        )
    if kind == POSTGRESQL:
        _pg_restore(database, path, force=force)
    else:
        _sqlite_restore(database, path, force=force)
    return Backup(path=path, kind=kind, size=path.stat().st_size)


def table_names(database: dict) -> list[str]:
    """The tables of `database`, read through a connection of its own."""
    if database_kind(database) == SQLITE and not Path(database["NAME"]).is_file():
        return []  # connecting would create the file
    with connected(database) as wrapper, wrapper.cursor() as cursor:
        return sorted(wrapper.introspection.table_names(cursor))


def _refuse_unless_empty(database: dict, *, force: bool) -> None:
    if force or not table_names(database):
        return
    raise BackupError(
        _(
            "The database %(name)s is not empty. Restore into a new, empty database, or pass "
            "--force to replace everything in it with the backup."
        )
        % {"name": database["NAME"]}
    )


def _pg_restore(database: dict, path: Path, *, force: bool) -> None:
    listing = _run_postgresql_tool("pg_restore", database, ["--list", str(path)], connect=False)
    if f" TABLE public {_MIGRATIONS_TABLE} " not in listing:
        raise BackupError(_("%(path)s holds no ICR database.") % {"path": path})
    _refuse_unless_empty(database, force=force)
    _close_django_connections_to(database)
    # Objects belong to the user restoring, as they belong to the user who migrates.
    ownership = ["--no-owner", "--no-privileges"]
    if not force:
        # One transaction: a failure anywhere leaves the database as it was.
        _run_postgresql_tool(
            "pg_restore",
            database,
            [
                "--single-transaction",
                "--exit-on-error",
                *ownership,
                f"--dbname={database['NAME']}",
                str(path),
            ],
        )
        return
    # Replacing: the old schema is dropped in the restore's own transaction, so a failure
    # keeps the old database whole. pg_restore cannot run that drop itself, and its --clean
    # fails on the partitions of reviews_rollup ("cannot drop inherited constraint"); so the
    # archive becomes an SQL script first (complete, or pg_restore fails and nothing ran),
    # which psql runs after the drop in one transaction, stopping at the first error. The
    # script goes to the temporary folder (TMPDIR): the backup's own may be read-only.
    with _temporary_file(None, ".icr-restore-") as script:
        _run_postgresql_tool(
            "pg_restore", database, [*ownership, f"--file={script}", str(path)], connect=False
        )
        _run_postgresql_tool(
            "psql",
            database,
            [
                "--no-psqlrc",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                "--single-transaction",
                "--command=DROP SCHEMA public CASCADE; CREATE SCHEMA public;",
                f"--file={script}",
                f"--dbname={database['NAME']}",
            ],
        )


def _sqlite_restore(database: dict, path: Path, *, force: bool) -> None:
    target = Path(database["NAME"])
    _refuse_unless_empty(database, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_file(target.parent, ".icr-restore-") as fresh:
        try:
            _sqlite_copy_checked(path, fresh)
        except sqlite3.DatabaseError as exc:
            raise BackupError(
                _("%(path)s is damaged: %(problem)s") % {"path": path, "problem": exc}
            ) from exc
        if target.exists():
            shutil.copymode(target, fresh)  # readable by whoever could read the old file
        _close_django_connections_to(database)
        _retire_sqlite_file(target)
        os.replace(fresh, target)


def _sqlite_copy_checked(path: Path, fresh: Path) -> None:
    """Copy the backup at `path` into the new file `fresh`, and check the copy whole."""
    # Read-only: a restore never changes the backup file.
    source_uri = f"{path.resolve().as_uri()}?mode=ro"
    with (
        contextlib.closing(sqlite3.connect(source_uri, uri=True)) as source,
        contextlib.closing(sqlite3.connect(fresh)) as copy,
    ):
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
        problems = [row for (row,) in copy.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError("; ".join(problems[:5]))
        has_migrations = copy.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
            [_MIGRATIONS_TABLE],
        ).fetchone()
    if not has_migrations:
        raise BackupError(_("%(path)s holds no ICR database.") % {"path": path})


def _retire_sqlite_file(target: Path) -> None:
    """Fold the old database's write-ahead log into it and remove the log.

    A -wal file left beside the restored database would be replayed into it on the next
    connection. Folded first, the old database stays whole whenever the restore stops.
    """
    if not target.exists():
        return
    with contextlib.closing(sqlite3.connect(target, timeout=5)) as old:
        busy, _log, _moved = old.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        raise BackupError(
            _(
                "The database %(name)s is in use. Stop ICR's web server and workers, then "
                "restore again."
            )
            % {"name": target}
        )
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{target}{suffix}")


# --- Helpers --------------------------------------------------------------------------------


@contextlib.contextmanager
def _temporary_file(folder: Path | None, prefix: str) -> Iterator[Path]:
    """A new, empty file's path in `folder` (None: the temporary folder), readable by its
    owner only, removed on leaving unless renamed away."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=prefix)
    os.close(fd)
    try:
        yield Path(name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)


@contextlib.contextmanager
def connected(database: dict):
    """A Django connection of its own to `database`, closed on leaving."""
    backend = load_backend(database["ENGINE"])
    wrapper = backend.DatabaseWrapper(database, alias="icr-backup")
    try:
        yield wrapper
    finally:
        wrapper.close()


def _close_django_connections_to(database: dict) -> None:
    """Django's own connections to `database` let go of it before it is replaced."""
    place = [database.get(key) for key in ("ENGINE", "NAME", "HOST", "PORT")]
    for connection in connections.all(initialized_only=True):
        if [
            connection.settings_dict.get(key) for key in ("ENGINE", "NAME", "HOST", "PORT")
        ] == place:
            connection.close()


def _run_postgresql_tool(
    program: str, database: dict, arguments: list[str], *, connect: bool = True
) -> str:
    """Run pg_dump, pg_restore or psql against `database`; its standard output."""
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(
            _(
                "%(program)s is not installed. Install PostgreSQL's client programs of the "
                "server's major version or newer (Debian: apt-get install postgresql-client)."
            )
            % {"program": program}
        )
    command = [executable]
    if connect:
        for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
            if database.get(key):
                command.append(f"{option}={database[key]}")
        command.append("--no-password")  # from the settings or nowhere, never a prompt
    # The password and TLS settings go through the environment, never the command line.
    _args, env = DatabaseClient.settings_to_cmd_args_env(database, [])
    result = subprocess.run(  # noqa: S603 - the program is PostgreSQL's, the arguments ours
        [*command, *arguments],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.strip() or f"exit status {result.returncode}"
        raise BackupError(
            _("%(program)s failed: %(message)s") % {"program": program, "message": message}
        )
    return result.stdout
