"""`make bench` section `export`: result files at company scale, sign-in and export for the demo.

    python -m bench --only export [--export-repeats 5]

1. The results section's company (100,000 employees, bench/company.py) and one closed cycle of
   every type answered in full (`child_results_cycle`); both reused when the database has them.
2. Timed, each in its own process: HR's full export of that cycle as XLSX and as CSV
   (`reviews.results_export.render`: every published figure, people's included), and the
   head of the root department's workbook (`department_workbook`: the whole tree, one sheet
   per level, comments and actions). Wall time, rows, bytes, peak RSS.
3. The 60-person demo of `make run` on SQLite (var/bench/demo-export.sqlite3, made once with
   `setup_demo`): the server time of HR's XLSX export and of a sign-in POST (Django's test
   Client in process: middleware, view, password check, session), median of a few.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from bench.cycles import BENCH_CYCLE_PREFIX, loadavg, peak_rss_mib, run_child

BASE_DIR = Path(__file__).resolve().parent.parent
GOALS = {"full_export_s": 10.0, "demo_export_ms": 300.0, "demo_login_ms": 300.0}
DEMO_SQLITE = BASE_DIR / "var" / "bench" / "demo-export.sqlite3"


def _big_cycle():
    from reviews.models import Cycle, CycleStatus

    return (
        Cycle.objects.filter(status=CycleStatus.CLOSED, name=f"{BENCH_CYCLE_PREFIX}results")
        .order_by("-id")
        .first()
    )


def child_export_cycle() -> dict:
    cycle = _big_cycle()
    return {"cycle_id": cycle.pk if cycle else None}


def child_export_file(kind: str) -> dict:
    """One export of the big cycle, timed in this process."""
    from relations.models import Department
    from reviews import results_export

    cycle = _big_cycle()
    start = time.perf_counter()
    if kind == "head":
        root = Department.objects.filter(parent__isnull=True).order_by("code").first()
        content = results_export.department_workbook(root, cycle, language="zh-hans")
    else:
        content, _type = results_export.render(cycle, kind, language="zh-hans")
    seconds = time.perf_counter() - start
    if kind == "csv":
        rows = content.count(b"\n")
    else:
        import io
        import zipfile

        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            rows = sum(
                zf.read(name).count(b"<row ")
                for name in zf.namelist()
                if name.startswith("xl/worksheets/")
            )
    return {
        "seconds": round(seconds, 2),
        "rows": rows,
        "mib": round(len(content) / 2**20, 1),
        "peak_rss_mib": peak_rss_mib(),
        "load": loadavg(),
    }


def child_export_demo(repeats: str) -> dict:
    """The demo on SQLite: HR's XLSX export and a sign-in, server time in process."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from reviews import results_export
    from reviews.models import Cycle, CycleStatus

    call_command("migrate", verbosity=0, interactive=False)
    if not Cycle.objects.exists():
        call_command("setup_demo", force=True, verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    cycle = Cycle.objects.filter(status=CycleStatus.CLOSED).order_by("-deadline").first()
    hr = get_user_model().objects.get(username="hr")
    n = int(repeats)

    export_ms, login_ms, view_ms = [], [], []
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(hr)
    for _ in range(n + 1):  # the first warms caches and may rehash an old password
        start = time.perf_counter()
        results_export.render(cycle, "xlsx", language="zh-hans")
        export_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        response = client.get(f"/results/cycles/{cycle.pk}/export.xlsx")
        view_ms.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    visitor = Client(HTTP_HOST="127.0.0.1")
    for _ in range(n + 1):
        start = time.perf_counter()
        response = visitor.post(
            "/accounts/login/", {"username": "E0005", "password": "icr-demo-2026"}
        )
        login_ms.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 302, response.status_code
        visitor.logout()
    return {
        "export_ms": round(statistics.median(export_ms[1:]), 1),
        "export_view_ms": round(statistics.median(view_ms[1:]), 1),
        "login_ms": round(statistics.median(login_ms[1:]), 1),
        "first_login_ms": round(login_ms[0], 1),
        "hasher": get_user_model().objects.get(username="E0005").password.split("$")[0],
        "load": loadavg(),
    }


def section_export(options) -> dict:
    from bench.results import ensure_company

    url = options.database_url
    company = ensure_company(options)
    if run_child(["export-cycle"], url)["cycle_id"] is None:
        run_child(["cycles-reset"], url)
        run_child(["results-cycle"], url, timeout=3600)
    files = {kind: run_child(["export-file", kind], url) for kind in ("xlsx", "csv", "head")}
    DEMO_SQLITE.parent.mkdir(parents=True, exist_ok=True)
    demo = run_child(["export-demo", str(options.export_repeats)], f"sqlite:///{DEMO_SQLITE}")
    return {
        "company": company,
        "files": files,
        "demo": demo,
        "goals": GOALS,
        "met": {
            "full_export_s": all(f["seconds"] <= GOALS["full_export_s"] for f in files.values()),
            "demo_export_ms": demo["export_view_ms"] <= GOALS["demo_export_ms"],
            "demo_login_ms": demo["login_ms"] <= GOALS["demo_login_ms"],
        },
    }


def print_export(result: dict) -> None:
    print(f"\nExports: {result['company']['employees']:,} employees, PostgreSQL")
    print(f"{'file':<40}{'rows':>11}{'MiB':>7}{'wall s':>9}{'RSS MiB':>9}{'load':>7}")
    labels = {
        "xlsx": "HR: full export, XLSX",
        "csv": "HR: full export, CSV",
        "head": "head of the root department: workbook",
    }
    for kind, row in result["files"].items():
        print(
            f"{labels[kind]:<40}{row['rows']:>11,}{row['mib']:>7.1f}{row['seconds']:>9.2f}"
            f"{row['peak_rss_mib']:>9.0f}{row['load']:>7.2f}"
        )
    demo = result["demo"]
    print(
        f"\n60-person demo (SQLite), median server time: XLSX export {demo['export_ms']} ms "
        f"(through the view {demo['export_view_ms']} ms), sign-in POST {demo['login_ms']} ms "
        f"(first, rehashing: {demo['first_login_ms']} ms; hasher {demo['hasher']}), "
        f"load {demo['load']}"
    )
    goals = result["goals"]
    print(
        f"goals: full export ≤ {goals['full_export_s']} s, demo export ≤ "
        f"{goals['demo_export_ms']} ms, demo sign-in ≤ {goals['demo_login_ms']} ms → "
        + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in result["met"].items())
    )


def add_arguments(parser) -> None:
    parser.add_argument("--export-repeats", type=int, default=5)


CHILD_STEPS = {
    "export-cycle": child_export_cycle,
    "export-file": child_export_file,
    "export-demo": child_export_demo,
}
SECTIONS = {"export": (section_export, print_export)}

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run: python -m bench --only export")
