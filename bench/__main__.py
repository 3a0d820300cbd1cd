"""`make bench`: measure ICR on PostgreSQL at company scale.

    python -m bench [--employees 100000] [--departments 2000] [--relations 5000]
                    [--seed 3] [--only import] [--database-url URL]

The database (default icr_bench on the server of DATABASE_URL, or BENCH_DATABASE_URL) is
created if missing, migrated, and its org tables emptied before the first import.

Each section is a function in SECTIONS taking the parsed options and returning a dict of
figures; `--only` picks sections. Every measured step runs in a child process, so its peak RSS
(ru_maxrss) is its own. Results are printed as a table and written to var/bench/<section>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1/icr_bench"
BENCH_DATABASE = "icr_bench"


def default_database_url() -> str:
    """BENCH_DATABASE_URL, else DATABASE_URL's server with the database icr_bench.

    The benchmark empties the org tables of its database, so it never runs in the database
    DATABASE_URL names (that may hold a real company): only on the same server.
    """
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        base, _, _name = url.partition("?")[0].rpartition("/")
        return f"{base}/{BENCH_DATABASE}"
    return DEFAULT_DATABASE_URL


GOALS = {"first_import_s": 10.0, "reimport_s": 5.0, "peak_rss_mib": 1024.0}


def _setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("ICR_DEV", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "icr.settings")
    import django

    django.setup()


def _ensure_database(database_url: str) -> None:
    """Create the benchmark database if it is missing, then migrate it."""
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    config = dj_database_url.parse(database_url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        sys.exit("The benchmark runs on PostgreSQL: set DATABASE_URL=postgres://...")
    conn = psycopg2.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"] or None,
        host=config["HOST"] or None,
        port=config["PORT"] or None,
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    conn.close()
    _setup_django(database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _child(args: list[str], database_url: str) -> dict:
    """Run `python -m bench --child ...` and return the JSON it prints."""
    env = {**os.environ, "DATABASE_URL": database_url, "ICR_DEV": "1"}
    result = subprocess.run(
        # The database named, not the default: a child left to work it out from DATABASE_URL
        # would empty icr_bench on that server.
        [sys.executable, "-m", "bench", "--database-url", database_url, "--child", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        sys.exit(f"benchmark step {args[0]} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Child steps (run in their own process) ---------------------------------------------------


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_import(directory: str) -> dict:
    import time

    from django.db import connection

    from relations.importing import ImportSource, apply_import, plan_import

    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    folder = Path(directory)
    with connection.execute_wrapper(count):
        start = time.perf_counter()
        sources = {
            name: ImportSource(f"{name}.csv", (folder / f"{name}.csv").read_bytes())
            for name in ("departments", "employees", "relations")
        }
        plan = plan_import(**sources)
        if plan.errors:
            raise SystemExit("\n".join(str(e) for e in plan.errors[:20]))
        planned = time.perf_counter()
        summary = apply_import(plan)
        end = time.perf_counter()
    return {
        "seconds": round(end - start, 3),
        "plan_seconds": round(planned - start, 3),
        "apply_seconds": round(end - planned, 3),
        "queries": queries,
        "peak_rss_mib": round(_peak_rss_mib(), 1),
        "noop": plan.is_noop,
        "summary": summary.as_dict(),
    }


def child_copy_baseline(directory: str) -> dict:
    """The floor: PostgreSQL's COPY of the employee rows into a scratch table, nothing else."""
    import time

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE bench_employees (employee_id text, name text, email text, "
            "department_code text, manager_employee_id text, title text)"
        )
        with open(Path(directory) / "employees.csv", encoding="utf-8") as data:
            start = time.perf_counter()
            cursor.cursor.copy_expert(
                "COPY bench_employees FROM STDIN WITH (FORMAT csv, HEADER true)", data
            )
            seconds = time.perf_counter() - start
        cursor.execute("SELECT count(*) FROM bench_employees")
        rows = cursor.fetchone()[0]
    return {"seconds": round(seconds, 3), "rows": rows}


def child_reset() -> dict:
    """Empty the org and graph tables (and logins) so the next import is a first import."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE relations_edge, relations_relationpair, relations_workflowstep, "
            "relations_workflow, relations_employee, relations_department, auth_user, "
            # Their audit trail too, so repeated runs do not measure a growing history.
            "relations_historicaledge, relations_historicalrelationpair, "
            "relations_historicalworkflowstep, relations_historicalworkflow, "
            "relations_historicalemployee, relations_historicaldepartment, relations_orgimport, "
            # Review requests have no FK to cascade through (reviews 0004): named here.
            "django_session, reviews_reviewrequest RESTART IDENTITY CASCADE"
        )
    return {}


CHILD_STEPS = {
    "import": child_import,
    "copy-baseline": child_copy_baseline,
    "reset": child_reset,
}


# --- Sections ---------------------------------------------------------------------------------


def section_import(options) -> dict:
    from bench.company import generate

    with tempfile.TemporaryDirectory(prefix="icr-bench-") as tmp:
        paths = generate(
            Path(tmp),
            employees=options.employees,
            departments=options.departments,
            relations=options.relations,
            seed=options.seed,
        )
        folder = str(paths["employees"].parent)
        url = options.database_url
        _child(["reset"], url)
        first = _child(["import", folder], url)
        again = _child(["import", folder], url)
        baseline = _child(["copy-baseline", folder], url)
    ratio = first["seconds"] / baseline["seconds"] if baseline["seconds"] else None
    return {
        "employees": options.employees,
        "departments": options.departments,
        "relations_rows": options.relations,
        "first_import": first,
        "unchanged_reimport": again,
        "copy_baseline": baseline,
        "first_import_vs_copy": round(ratio, 1) if ratio else None,
        "goals": GOALS,
        "met": {
            "first_import_s": first["seconds"] <= GOALS["first_import_s"],
            "reimport_s": again["seconds"] <= GOALS["reimport_s"] and again["noop"],
            "peak_rss_mib": max(first["peak_rss_mib"], again["peak_rss_mib"])
            <= GOALS["peak_rss_mib"],
        },
    }


def print_import(result: dict) -> None:
    first, again, base = (
        result["first_import"],
        result["unchanged_reimport"],
        result["copy_baseline"],
    )
    print(
        f"\nImport: {result['employees']:,} employees, {result['departments']:,} departments, "
        f"{result['relations_rows']:,} relations rows (PostgreSQL)"
    )
    print(f"{'step':<22}{'wall s':>9}{'plan s':>9}{'apply s':>9}{'queries':>9}{'peak RSS MiB':>14}")
    for label, row in (("first import", first), ("unchanged re-import", again)):
        print(
            f"{label:<22}{row['seconds']:>9.2f}{row['plan_seconds']:>9.2f}"
            f"{row['apply_seconds']:>9.2f}{row['queries']:>9}{row['peak_rss_mib']:>14.1f}"
        )
    print(
        f"{'COPY baseline':<22}{base['seconds']:>9.2f}   ({base['rows']:,} employee rows, raw COPY)"
    )
    print(f"first import / COPY baseline: {result['first_import_vs_copy']}×")
    print(f"re-import changed nothing: {again['noop']}")
    print(f"summary after import: {json.dumps(first['summary'], ensure_ascii=False)}")
    goals = result["goals"]
    print(
        f"goals: first ≤ {goals['first_import_s']} s, re-import ≤ {goals['reimport_s']} s, "
        f"peak RSS ≤ {goals['peak_rss_mib']:.0f} MiB → "
        + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in result["met"].items())
    )


SECTIONS = {"import": (section_import, print_import)}

# Sections of other parts of ICR, each a module with SECTIONS, CHILD_STEPS and add_arguments.
from bench import cycles, export, handoffs, load, messaging, results  # noqa: E402

EXTRA_SECTIONS = (cycles, load, results, messaging, export, handoffs)
for _module in EXTRA_SECTIONS:
    SECTIONS.update(_module.SECTIONS)
    CHILD_STEPS.update(_module.CHILD_STEPS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--departments", type=int, default=None, help="default: employees/50")
    parser.add_argument("--relations", type=int, default=None, help="default: employees/20")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--only", action="append", choices=sorted(SECTIONS), default=None)
    parser.add_argument(
        "--database-url",
        default=default_database_url(),
        help="PostgreSQL database to use and empty (default: icr_bench on DATABASE_URL's server)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    for module in EXTRA_SECTIONS:
        module.add_arguments(parser)
    options = parser.parse_args(argv)

    if options.child:
        _setup_django(options.database_url)
        step, *args = options.child
        print(json.dumps(CHILD_STEPS[step](*args)))
        return 0

    options.departments = options.departments or max(5, options.employees // 50)
    options.relations = options.relations or max(10, options.employees // 20)
    _ensure_database(options.database_url)
    out_dir = BASE_DIR / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in options.only or list(SECTIONS):
        run, show = SECTIONS[name]
        result = run(options)
        show(result)
        (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
        print(f"written to {out_dir / f'{name}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
