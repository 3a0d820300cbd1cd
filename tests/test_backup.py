"""`manage.py backup` and `manage.py restore`: every answer and score comes back, on the
database in use; a restore is refused where it would mix or lose data, and all or nothing."""

import datetime as dt
import re
import sqlite3
import tempfile
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from icr.backup import (
    BackupError,
    backup_database,
    connected,
    file_kind,
    restore_database,
    table_names,
)
from reviews.models import Answer, RequestStatus, ReviewRequest, answer_key
from tests.results.conftest import CycleRunner, build_company

# pg_dump and sqlite3 read from connections of their own: only what is committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def answered(eager_celery):
    """The results' company with a closed cycle and an open one, every request answered."""
    build_company()
    cycles = CycleRunner()
    closed = cycles.run(
        lambda req, crit: 1 + (req.pk + crit.pk) % 5, comment=lambda req: f"意见 {req.pk}"
    )
    still_open = cycles.run(lambda req, crit: 1 + (req.pk * crit.pk) % 5, close=False)
    assert Answer.objects.filter(cycle=closed).exists()
    assert Answer.objects.filter(cycle=still_open).exists()
    return {"closed": closed, "open": still_open}


@pytest.fixture
def empty_database(tmp_path):
    """Settings of a new, empty database of the kind in use: for PostgreSQL one created beside
    the test database (named after the configured one) and dropped after; for SQLite a file."""
    source = connection.settings_dict
    if connection.vendor == "sqlite":
        yield {**source, "NAME": str(tmp_path / "restored" / "icr.sqlite3")}
        return
    name = source["NAME"].removeprefix("test_") + "_restore"
    quoted = connection.ops.quote_name(name)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {quoted}")
    try:
        yield {**source, "NAME": name}
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


def contents(database: dict) -> dict:
    """Every table's row count, and every answer and score with all their columns."""
    with connected(database) as wrapper, wrapper.cursor() as cursor:
        counts = {}
        for table in sorted(wrapper.introspection.table_names(cursor)):
            cursor.execute(f"SELECT count(*) FROM {wrapper.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
        cursor.execute("SELECT * FROM reviews_answer ORDER BY id")
        answers = cursor.fetchall()
        cursor.execute(
            "SELECT s.* FROM reviews_answerscore s JOIN reviews_answer a ON a.id = s.answer_id "
            "ORDER BY a.id, s.criterion_id"
        )
        scores = cursor.fetchall()
    return {"counts": counts, "answers": answers, "scores": scores}


def answer_keys(database: dict) -> set[str]:
    with connected(database) as wrapper, wrapper.cursor() as cursor:
        cursor.execute("SELECT key FROM reviews_answer")
        return {key for (key,) in cursor.fetchall()}


def assert_restored_whole(source: dict, restored: dict, answered: dict) -> None:
    expected = contents(source)
    assert expected["answers"] and expected["scores"]
    assert contents(restored) == expected
    # The application (with the same secret) finds each rater's answer of the open cycle.
    requests = ReviewRequest.objects.filter(cycle=answered["open"], status=RequestStatus.ANSWERED)
    assert requests.exists()
    assert {answer_key(pk) for pk in requests.values_list("pk", flat=True)} <= answer_keys(restored)


def test_a_backup_restored_into_an_empty_database_holds_every_answer_and_score(
    answered, empty_database, tmp_path
):
    source = connection.settings_dict
    backup = backup_database(source, tmp_path / "icr.backup")

    restore_database(empty_database, backup.path)

    assert_restored_whole(source, empty_database, answered)


def test_force_replaces_what_a_database_holds_with_the_backup(answered, empty_database, tmp_path):
    source = connection.settings_dict
    backup = backup_database(source, tmp_path / "icr.backup")
    restore_database(empty_database, backup.path)
    with connected(empty_database) as wrapper, wrapper.cursor() as cursor:
        cursor.execute("DELETE FROM reviews_answerscore")

    with pytest.raises(BackupError, match="not empty"):
        restore_database(empty_database, backup.path)
    restore_database(empty_database, backup.path, force=True)

    assert_restored_whole(source, empty_database, answered)


def test_backup_writes_one_file_reports_its_size_and_never_overwrites(answered, tmp_path):
    path = tmp_path / "icr.backup"
    out = StringIO()

    call_command("backup", str(path), stdout=out)

    kind = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
    assert re.fullmatch(
        rf"Backed up the {kind} database to {re.escape(str(path))} \([\d.]+\xa0(KB|MB)\)\.\n",
        out.getvalue(),
    )
    assert file_kind(path) == ("postgresql" if kind == "PostgreSQL" else "sqlite")
    written = path.read_bytes()
    with pytest.raises(CommandError, match="exists already"):
        call_command("backup", str(path), stdout=StringIO())
    assert path.read_bytes() == written
    assert [p.name for p in tmp_path.iterdir()] == ["icr.backup"]  # no temporary file left


def test_backup_without_a_path_writes_under_var_backups_named_by_the_time(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    suffix = ".pgdump" if connection.vendor == "postgresql" else ".sqlite3"

    with time_machine.travel(dt.datetime(2027, 3, 15, 9, 30, 5, tzinfo=dt.UTC), tick=False):
        call_command("backup", stdout=StringIO())

    # Named in the company's time zone (Asia/Shanghai, UTC+8).
    assert [p.name for p in (tmp_path / "backups").iterdir()] == [f"icr-20270315-173005{suffix}"]


def test_restore_refuses_the_database_in_use_while_it_has_tables(answered, tmp_path):
    path = tmp_path / "icr.backup"
    call_command("backup", str(path), stdout=StringIO())
    before = contents(connection.settings_dict)

    with pytest.raises(CommandError, match=r"not empty.*--force"):
        call_command("restore", str(path), stdout=StringIO())

    assert contents(connection.settings_dict) == before


def other_kinds_backup(path: Path) -> Path:
    """A file of the kind of backup the database in use does not take."""
    if connection.vendor == "postgresql":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE django_migrations (id integer)")
        db.close()
    else:
        path.write_bytes(b"PGDMP\x01\x0f\x00" + bytes(64))
    return path


def test_restore_refuses_a_backup_of_the_other_kind_of_database(empty_database, tmp_path):
    path = other_kinds_backup(tmp_path / "other.backup")
    here, there = (
        ("PostgreSQL", "SQLite") if connection.vendor == "postgresql" else ("SQLite", "PostgreSQL")
    )

    with pytest.raises(BackupError, match=f"a backup made on {there}; the database here is {here}"):
        restore_database(empty_database, path)

    assert table_names(empty_database) == []


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("员工名单\n", encoding="utf-8")

    with pytest.raises(CommandError, match="is not a backup"):
        call_command("restore", str(path), "--force", stdout=StringIO())


@pytest.mark.postgresql  # pg_restore --single-transaction
def test_a_postgresql_restore_that_fails_midway_leaves_the_database_as_it_was(
    answered, empty_database, tmp_path
):
    backup = backup_database(connection.settings_dict, tmp_path / "icr.backup")
    # A type of the name of a table the restore creates late: CREATE TABLE fails there.
    with connected(empty_database) as wrapper, wrapper.cursor() as cursor:
        cursor.execute("CREATE TYPE reviews_answerscore AS (score integer)")

    with pytest.raises(BackupError, match="pg_restore failed"):
        restore_database(empty_database, backup.path)

    assert table_names(empty_database) == []  # the tables created before the failure are gone


@pytest.mark.postgresql  # the old schema is dropped in the restore's own transaction
def test_a_forced_postgresql_restore_that_fails_midway_keeps_the_old_database(
    answered, empty_database, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    backup = backup_database(connection.settings_dict, tmp_path / "icr.backup")
    restore_database(empty_database, backup.path)
    before = contents(empty_database)
    # Indexes come after the tables and their rows: the restore fails at its first one.
    with connected(empty_database) as wrapper, wrapper.cursor() as cursor:
        cursor.execute(
            "CREATE SCHEMA guard; "
            "CREATE FUNCTION guard.refuse() RETURNS event_trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'no index today'; END $$; "
            "CREATE EVENT TRIGGER refuse_indexes ON ddl_command_end WHEN TAG IN ('CREATE INDEX') "
            "EXECUTE FUNCTION guard.refuse()"
        )

    with pytest.raises(BackupError, match="no index today"):
        restore_database(empty_database, backup.path, force=True)

    assert contents(empty_database) == before
    assert not list(tmp_path.glob(".icr-restore-*"))  # the SQL script is gone


@pytest.mark.sqlite  # restored into a new file that replaces the database file only when whole
def test_an_sqlite_restore_of_a_damaged_backup_leaves_the_database_file_as_it_was(
    answered, empty_database, tmp_path
):
    backup = backup_database(connection.settings_dict, tmp_path / "icr.backup")
    restore_database(empty_database, backup.path)
    target = Path(empty_database["NAME"])
    before = contents(empty_database)
    damaged = tmp_path / "damaged.backup"
    data = bytearray(backup.path.read_bytes())
    data[8192:16384] = b"\xff" * 8192  # the second and third pages: table b-trees
    damaged.write_bytes(bytes(data))

    with pytest.raises(BackupError, match="is damaged"):
        restore_database(empty_database, damaged, force=True)

    assert contents(empty_database) == before
    assert sorted(p.name for p in target.parent.iterdir() if "icr-restore" in p.name) == []
