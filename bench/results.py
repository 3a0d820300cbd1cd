"""`make bench` section `results`: close a cycle of ~5,000,000 scores, then read dashboards.

    python -m bench --only results [--cycle-relations 13000] [--dashboard-requests 200]
                    [--results-stored-cycles 12] [--demo-database-url URL]

1. The company: the 100,000 employees of bench/company.py with the cycles section's relations
   rows (about a million requests when every type is open), imported when missing.
2. A cycle is opened with `services.open_cycle`; every request then gets a submitted answer and
   one score per criterion, written set-based (INSERT … SELECT over the requests: submitting a
   million answers one by one is not what is measured); about 5% say "did not receive". The
   tables are then vacuumed, as autovacuum would have done during a real cycle.
3. Timed: `services.close_cycle`, which computes every rollup in its transaction
   (`reviews.close`); then the floor, the simplest raw GROUP BY over the same scores
   (provider department × type × criterion × customer department: count, avg, the 1–5 counts)
   into a temporary table, in the same process.
4. The department dashboard with `stored` closed cycles: the big cycle's rollup rows are copied
   to the other cycles with shifted cycle ids (the pages read only rollup rows). Server time is
   the wall time of Django's test Client GET (middleware, view, template) in process, as HR and
   as department heads over various departments; the database's share is summed from the
   queries' own times.
5. The same dashboard measurement on the 60-person demo company (`setup_demo`, in its own
   database), for the ratio.
6. Shown and hidden (`reviews.results.disclosure_summary`): of the published figures with N or
   more raters, how many are hidden, and how many department headlines, on the big cycle and on
   each of the demo's closed cycles.

Every figure carries the 1-minute load average next to it: the machine is shared.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.cycles import BENCH_CYCLE_PREFIX, loadavg, peak_rss_mib, run_child

BASE_DIR = Path(__file__).resolve().parent.parent

GOALS = {
    "close_s": 20.0,
    "close_vs_raw_group_by": 4.0,
    # Of published figures with N or more raters: hidden at most this share (issue 17).
    "hidden_percent": 15.0,
    "headlines_hidden_percent": 5.0,
    "dashboard_p95_ms": 80.0,
    "dashboard_vs_demo": 2.0,
}
DEMO_DATABASE = "icr_bench_demo"


def demo_database_url(url: str) -> str:
    base, _, _name = url.partition("?")[0].rpartition("/")
    return f"{base}/{DEMO_DATABASE}"


# --- Child steps ------------------------------------------------------------------------------


def child_results_cycle() -> dict:
    """Open a cycle of every type, answer all of it set-based, close it (timed), then the floor."""
    import datetime as dt

    from django.db import connection, transaction
    from django.utils import timezone

    from reviews import results, services, tasks
    from reviews.models import Answer, AnswerScore, Criterion, Cycle, ReviewRequest, Rollup

    # Five criteria for every type (none aimed at one rank direction), so about a million
    # answers make about five million scores.
    every_type = [c for c in Criterion.objects.active() if not c.names_direction_any()]
    for number in range(len(every_type) + 1, 6):
        Criterion.objects.get_or_create(
            code=f"bench-{number}",
            defaults={"name_zh": f"标准{number}", "name_en": f"Criterion {number}", "order": 90},
        )
    now = timezone.now()
    cycle = services.create_cycle(
        name=f"{BENCH_CYCLE_PREFIX}results",
        opens_at=now - dt.timedelta(days=1),
        deadline=now + dt.timedelta(days=14),
        criteria=[c for c in Criterion.objects.active() if not c.names_direction_any()],
    )
    services.open_cycle(cycle)
    criteria = list(cycle.criteria.values_list("id", "edge_types"))
    q = connection.ops.quote_name
    answer, score, request = (q(m._meta.db_table) for m in (Answer, AnswerScore, ReviewRequest))
    setup_start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {answer} (id, cycle_id, key, edge_type, rank_kind,
                provider_employee_id, provider_department_id, customer_department_id,
                submitted, not_received, reason, comment)
            SELECT gen_random_uuid(), r.cycle_id, md5(r.id::text) || md5(r.id::text || 'k'),
                   r.edge_type, r.rank_kind, r.provider_employee_id,
                   r.provider_department_id, r.customer_department_id, true,
                   (r.id %% 20 = 7), '',
                   CASE WHEN r.id %% 40 = 3 THEN '沟通顺畅，响应及时。'
                        WHEN r.id %% 40 = 5 THEN '交付偶有延迟。' ELSE '' END
            FROM {request} r WHERE r.cycle_id = %s
            """,
            [cycle.pk],
        )
        answers = cursor.rowcount
        for criterion_id, edge_types in criteria:
            # Scores lean on the provider department so departments differ.
            cursor.execute(
                f"""
                INSERT INTO {score} (answer_id, criterion_id, score)
                SELECT a.id, %s, 1 + ((abs(hashtext(a.key)) %% 7 + a.provider_department_id %% 3
                                        + %s) %% 5)
                FROM {answer} a
                WHERE a.cycle_id = %s AND NOT a.not_received
                  AND (%s OR a.edge_type = ANY(%s))
                """,
                [criterion_id, criterion_id, cycle.pk, not edge_types, edge_types or [""]],
            )
        cursor.execute(
            f"UPDATE {request} SET status = 'answered', answered_at = %s WHERE cycle_id = %s",
            [now, cycle.pk],
        )
        cursor.execute(
            f"SELECT count(*) FROM {score} s JOIN {answer} a ON a.id = s.answer_id "
            "WHERE a.cycle_id = %s",
            [cycle.pk],
        )
        scores = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        # A real cycle's answers come in over its two weeks and autovacuum has been through
        # them by the deadline; rows bulk-loaded a moment ago would make the close (the first
        # reader) set their hint bits, and the raw GROUP BY after it would not pay that.
        cursor.execute(f"VACUUM (ANALYZE) {answer}")
        cursor.execute(f"VACUUM (ANALYZE) {score}")
        cursor.execute(f"VACUUM (ANALYZE) {request}")
        cursor.execute("CHECKPOINT")
    setup_seconds = time.perf_counter() - setup_start

    # The benchmark has no broker: the follow-up task (planner statistics of the result tables,
    # the answers unlinked) runs below, timed apart from the close, as a worker would run it
    # right after the commit; the closing notices are not sent.
    followups: list[int] = []
    tasks.cycle_closed_followup.delay = lambda cycle_id: followups.append(cycle_id)
    tasks.dispatch_notifications.delay = lambda *args, **kwargs: None
    queries: list[tuple[float, str]] = []

    def timed(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((round(time.perf_counter() - start, 3), " ".join(sql.split()[:8])))

    # Suppression in Python: on PostgreSQL it runs beside the connection's statements, so
    # its seconds are not all on top of the close's.
    suppress_seconds = 0.0

    def timed_python(method):
        def wrapper(*args, **kwargs):
            nonlocal suppress_seconds
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                suppress_seconds += time.perf_counter() - start

        return wrapper

    from reviews.close import suppression

    suppression.Suppression.settle = timed_python(suppression.Suppression.settle)
    load_before = loadavg()
    with connection.execute_wrapper(timed):
        start = time.perf_counter()
        services.close_cycle(Cycle.objects.get(pk=cycle.pk))
        close_seconds = time.perf_counter() - start
    close_load = loadavg()
    rollups = Rollup.objects.filter(cycle=cycle).count()
    shown = Rollup.objects.filter(cycle=cycle, suppressed=False).count()
    disclosure = results.disclosure_summary(cycle)

    # The floor: the plainest aggregate over the same rows, into a temporary table.
    raw_load_before = loadavg()
    with transaction.atomic(), connection.cursor() as cursor:
        start = time.perf_counter()
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE bench_raw_rollup AS
            SELECT a.provider_department_id, a.edge_type, a.rank_kind, s.criterion_id,
                   a.customer_department_id, count(*) AS n, avg(s.score) AS mean,
                   sum(CASE WHEN s.score = 1 THEN 1 ELSE 0 END) AS n1,
                   sum(CASE WHEN s.score = 2 THEN 1 ELSE 0 END) AS n2,
                   sum(CASE WHEN s.score = 3 THEN 1 ELSE 0 END) AS n3,
                   sum(CASE WHEN s.score = 4 THEN 1 ELSE 0 END) AS n4,
                   sum(CASE WHEN s.score = 5 THEN 1 ELSE 0 END) AS n5
            FROM {answer} a JOIN {score} s ON s.answer_id = a.id
            WHERE a.cycle_id = %s
            GROUP BY a.provider_department_id, a.edge_type, a.rank_kind, s.criterion_id,
                     a.customer_department_id
            """,
            [cycle.pk],
        )
        raw_rows = cursor.rowcount
        raw_seconds = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_raw_rollup")
    raw_load = loadavg()
    # Then the follow-up, as a worker runs it after the commit: it rewrites the answers (their
    # link to the raters undone), so the floor above reads the same rows as the close did.
    start = time.perf_counter()
    for cycle_id in followups:
        tasks.cycle_closed_followup(cycle_id)
    followup_seconds = time.perf_counter() - start
    return {
        "cycle_id": cycle.pk,
        "answers": answers,
        "scores": scores,
        "criteria": len(criteria),
        "setup_seconds": round(setup_seconds, 1),
        "close_seconds": round(close_seconds, 3),
        "suppress_seconds": round(suppress_seconds, 3),
        "followup_seconds": round(followup_seconds, 3),
        "close_queries": len(queries),
        "slowest_queries": sorted(queries, reverse=True)[:8],
        "rollup_rows": rollups,
        "shown_rows": shown,
        "disclosure": disclosure,
        "close_load_before": load_before,
        "close_load": close_load,
        "raw_seconds": round(raw_seconds, 3),
        "raw_rows": raw_rows,
        "raw_load_before": raw_load_before,
        "raw_load": raw_load,
        "peak_rss_mib": peak_rss_mib(),
    }


def child_results_store(cycle_id: str, stored: str) -> dict:
    """Give the big cycle stored-1 earlier closed cycles carrying copies of its rollup rows."""
    import datetime as dt

    from django.db import connection

    from reviews.close.postgres import attach_partition, new_partition
    from reviews.close.statements import ROLLUP_COLUMNS
    from reviews.models import Cycle, CycleStatus, ResponseRate, Rollup

    big = Cycle.objects.get(pk=int(cycle_id))
    q = connection.ops.quote_name
    rollup, rate = q(Rollup._meta.db_table), q(ResponseRate._meta.db_table)
    copied = []
    for back in range(1, int(stored)):
        deadline = big.deadline - dt.timedelta(days=91 * back)
        opens = deadline - dt.timedelta(days=14)
        copy = Cycle.objects.create(
            name=f"{BENCH_CYCLE_PREFIX}results -{back}",
            opens_at=opens,
            deadline=deadline,
            period_start=opens.date() - dt.timedelta(days=90),
            period_end=opens.date(),
            status=CycleStatus.CLOSED,
            opened_at=opens,
            closed_at=deadline,
        )
        copy.criteria.set(big.criteria.all())
        columns = ROLLUP_COLUMNS.replace("cycle_id, ", "")
        with connection.cursor() as cursor:
            # Each cycle its own partition, as a close makes it.
            partition, sequence = new_partition(cursor, copy.pk)
            cursor.execute(
                f"INSERT INTO {partition} (id, cycle_id, {columns}) "
                f"SELECT nextval(%s::regclass), %s, {columns} FROM {rollup} WHERE cycle_id = %s",
                [sequence, copy.pk, big.pk],
            )
            attach_partition(cursor, copy.pk, partition)
            cursor.execute(
                f"INSERT INTO {rate} (cycle_id, scope, department_id, requests, answered) "
                f"SELECT %s, scope, department_id, requests, answered FROM {rate} "
                "WHERE cycle_id = %s",
                [copy.pk, big.pk],
            )
        copied.append(copy.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {rollup}")
        cursor.execute(f"SELECT count(*) FROM {rollup}")
        rows = cursor.fetchone()[0]
    return {"cycles": len(copied) + 1, "rollup_rows": rows}


def child_results_demo_setup() -> dict:
    """The 60-person demo company with its review history, in its own (fresh) database."""
    from django.core.management import call_command

    from reviews.close import compute_rollups
    from reviews.models import Cycle, CycleStatus
    from reviews.results import disclosure_summary

    call_command("migrate", verbosity=0, interactive=False)
    if not Cycle.objects.exists():
        call_command("setup_demo", force=True, verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    closed = Cycle.objects.filter(status=CycleStatus.CLOSED).order_by("deadline", "id")
    for cycle in closed:  # a database kept from an earlier run: its figures as the code makes them
        compute_rollups(cycle)
    return {
        "cycles": Cycle.objects.count(),
        "disclosure": {cycle.name: disclosure_summary(cycle) for cycle in closed},
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[index]


def child_results_dashboard(requests: str, label: str) -> dict:
    """GET the department dashboard `requests` times as HR and as heads; wall time each."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from relations.models import Department
    from reviews.models import Cycle, CycleStatus, Rollup

    User = get_user_model()
    hr = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        "bench-hr", "bench-hr@example.com", "x"
    )
    rng = random.Random(5)
    departments = list(
        Department.objects.filter(active=True, head__user__isnull=False).values_list(
            "id", "head__user_id"
        )
    )
    # No setup_test_environment(): its instrumented rendering copies every template's context
    # for the test Client, which is not server time. A host ALLOWED_HOSTS accepts instead.
    host = {"HTTP_HOST": "localhost"}
    hr_client, head_clients = Client(**host), {}
    hr_client.force_login(hr)
    total = int(requests)
    plan = []
    for i in range(total):
        dept, head_user = rng.choice(departments)
        plan.append((dept, None if i % 2 == 0 else head_user))
    db_ms: list[float] = []
    current_db = 0.0

    def timed(execute, sql, params, many, context):
        nonlocal current_db
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            current_db += time.perf_counter() - start

    def get(dept: int, head_user: int | None) -> tuple[float, float, int]:
        nonlocal current_db
        client = hr_client
        if head_user is not None:
            client = head_clients.get(head_user)
            if client is None:
                client = head_clients[head_user] = Client(**host)
                client.force_login(User.objects.get(pk=head_user))
        current_db = 0.0
        url = reverse("results:department", kwargs={"pk": dept})
        start = time.perf_counter()
        with connection.execute_wrapper(timed):
            response = client.get(url, secure=True)
        wall = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"{url} as {head_user or 'HR'}: {response.status_code}")
        return wall * 1000, current_db * 1000, len(response.content)

    for dept, head_user in plan[:10]:  # warm-up: templates, sessions, first connections
        get(dept, head_user)
    walls, sizes = [], []
    load_before = loadavg()
    for dept, head_user in plan:
        wall, db, size = get(dept, head_user)
        walls.append(wall)
        db_ms.append(db)
        sizes.append(size)
    return {
        "label": label,
        "departments": len(departments),
        "closed_cycles": Cycle.objects.filter(status=CycleStatus.CLOSED).count(),
        "rollup_rows": Rollup.objects.count(),
        "requests": len(walls),
        "p50_ms": round(statistics.median(walls), 1),
        "p95_ms": round(_percentile(walls, 0.95), 1),
        "max_ms": round(max(walls), 1),
        "db_p50_ms": round(statistics.median(db_ms), 2),
        "db_p95_ms": round(_percentile(db_ms, 0.95), 2),
        "page_kib_p50": round(statistics.median(sizes) / 1024, 1),
        "load_before": load_before,
        "load": loadavg(),
    }


# --- The section ------------------------------------------------------------------------------


def ensure_company(options) -> dict:
    """The cycles section's company, imported unless this database already holds it.

    Its own marker file (not the cycles section's): the two sections may use two databases.
    """
    from bench.company import generate

    url = options.database_url
    marker = BASE_DIR / "var" / "bench" / "results-company.json"
    wanted = {
        "database": url.rpartition("/")[2],
        "employees": options.employees,
        "departments": options.departments,
        "relations": options.cycle_relations,
        "seed": options.seed,
    }
    current = run_child(["company-fingerprint"], url)
    known = json.loads(marker.read_text()) if marker.exists() else {}
    if known.get("wanted") == wanted and known.get("fingerprint") == current:
        return {**wanted, "imported": False, "edges": current["edges"]}
    with tempfile.TemporaryDirectory(prefix="icr-bench-") as tmp:
        paths = generate(
            Path(tmp),
            employees=options.employees,
            departments=options.departments,
            relations=options.cycle_relations,
            seed=options.seed,
        )
        run_child(["cycles-reset"], url)
        run_child(["reset"], url)
        imported = run_child(["import", str(paths["employees"].parent)], url)
    current = run_child(["company-fingerprint"], url)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"wanted": wanted, "fingerprint": current}))
    return {**wanted, "imported": True, "import_s": imported["seconds"], "edges": current["edges"]}


def section_results(options) -> dict:
    url = options.database_url
    company = ensure_company(options)
    run_child(["cycles-reset"], url)
    run_child(["checkpoint"], url)
    close = run_child(["results-cycle"], url, timeout=3600)
    stored = run_child(["results-store", str(close["cycle_id"]), str(options.stored_cycles)], url)
    big = run_child(["results-dashboard", str(options.dashboard_requests), "company"], url)
    demo_url = options.demo_database_url or demo_database_url(url)
    _create_database(demo_url)
    demo_setup = run_child(["results-demo-setup"], demo_url)
    demo = run_child(["results-dashboard", str(options.dashboard_requests), "demo"], demo_url)
    ratio_close = close["close_seconds"] / close["raw_seconds"]
    ratio_demo = big["p95_ms"] / demo["p95_ms"]
    return {
        "company": company,
        "close": close,
        "stored": stored,
        "dashboard": big,
        "demo_dashboard": demo,
        "close_vs_raw_group_by": round(ratio_close, 2),
        "dashboard_vs_demo": round(ratio_demo, 2),
        "demo_disclosure": demo_setup["disclosure"],
        "goals": GOALS,
        "met": {
            "close_s": close["close_seconds"] <= GOALS["close_s"],
            "close_vs_raw_group_by": ratio_close <= GOALS["close_vs_raw_group_by"],
            "dashboard_p95_ms": big["p95_ms"] <= GOALS["dashboard_p95_ms"],
            "dashboard_vs_demo": ratio_demo <= GOALS["dashboard_vs_demo"],
            "hidden_percent": all(
                d["hidden_percent"] <= GOALS["hidden_percent"]
                for d in [close["disclosure"], *demo_setup["disclosure"].values()]
            ),
            "headlines_hidden_percent": all(
                d["headlines_hidden_percent"] <= GOALS["headlines_hidden_percent"]
                for d in [close["disclosure"], *demo_setup["disclosure"].values()]
            ),
        },
    }


def _create_database(url: str) -> None:
    import dj_database_url
    import psycopg2
    from psycopg2 import sql

    config = dj_database_url.parse(url)
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


def print_results(result: dict) -> None:
    close, big, demo = result["close"], result["dashboard"], result["demo_dashboard"]
    company = result["company"]
    print(
        f"\nResults: {company['employees']:,} employees, {close['answers']:,} answers, "
        f"{close['scores']:,} scores ({close['criteria']} criteria), PostgreSQL"
    )
    print(f"{'step':<44}{'rows':>11}{'wall s':>9}{'queries':>9}{'load':>7}")
    print(
        f"{'close_cycle + all rollups':<44}{close['rollup_rows']:>11,}"
        f"{close['close_seconds']:>9.2f}{close['close_queries']:>9}{close['close_load']:>7.2f}"
    )
    label = "  suppression (integer program)"
    print(f"{label:<44}{'':>11}{close['suppress_seconds']:>9.2f}")
    label = "follow-up: answers unlinked, vacuumed"
    print(f"{label:<44}{close['answers']:>11,}{close['followup_seconds']:>9.2f}")
    print(
        f"{'raw GROUP BY into a temp table':<44}{close['raw_rows']:>11,}"
        f"{close['raw_seconds']:>9.2f}{1:>9}{close['raw_load']:>7.2f}"
    )
    print(f"close / raw GROUP BY: {result['close_vs_raw_group_by']}×")
    print(f"slowest statements of the close: {close['slowest_queries'][:4]}")
    print(
        f"\n{'department dashboard (server time)':<36}{'cycles':>7}{'rollups':>11}{'p50 ms':>8}"
        f"{'p95 ms':>8}{'max ms':>8}{'db p95 ms':>10}{'load':>7}"
    )
    for label, row in (("100,000-employee company", big), ("60-person demo company", demo)):
        print(
            f"{label:<36}{row['closed_cycles']:>7}{row['rollup_rows']:>11,}{row['p50_ms']:>8.1f}"
            f"{row['p95_ms']:>8.1f}{row['max_ms']:>8.1f}{row['db_p95_ms']:>10.2f}{row['load']:>7.2f}"
        )
    print(f"{big['requests']} GETs each, half as HR, half as the department's head")
    print(f"company p95 / demo p95: {result['dashboard_vs_demo']}×")
    print(
        f"\n{'shown and hidden (published, N+ raters)':<44}{'rows':>9}{'hidden':>8}{'%':>7}"
        f"{'headlines':>11}{'hidden':>8}{'%':>7}{'D+ shown':>10}{'printed':>9}"
    )
    companies = [("100,000-employee company", close["disclosure"])]
    companies += [(f"demo: {name}", d) for name, d in result["demo_disclosure"].items()]
    for label, d in companies:
        print(
            f"{label:<44}{d['with_n_raters']:>9,}{d['hidden_with_n_raters']:>8,}"
            f"{d['hidden_percent']:>7.1f}{d['headlines']:>11,}{d['headlines_hidden']:>8,}"
            f"{d['headlines_hidden_percent']:>7.1f}{d['shown_with_d_raters']:>10,}"
            f"{d['distributions_printed']:>9,}"
        )
    goals = result["goals"]
    print(
        f"goals: close ≤ {goals['close_s']} s and ≤ {goals['close_vs_raw_group_by']}× raw, "
        f"dashboard p95 ≤ {goals['dashboard_p95_ms']} ms and ≤ {goals['dashboard_vs_demo']}× "
        f"demo, hidden ≤ {goals['hidden_percent']}%, headlines hidden ≤ "
        f"{goals['headlines_hidden_percent']}% → "
        + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in result["met"].items())
    )


def add_arguments(parser) -> None:
    parser.add_argument("--dashboard-requests", type=int, default=200)
    parser.add_argument("--stored-cycles", type=int, default=12)
    parser.add_argument(
        "--demo-database-url", default=None, help=f"default: {DEMO_DATABASE} on the same server"
    )


CHILD_STEPS = {
    "results-cycle": child_results_cycle,
    "results-store": child_results_store,
    "results-demo-setup": child_results_demo_setup,
    "results-dashboard": child_results_dashboard,
}
SECTIONS = {"results": (section_results, print_results)}

if __name__ == "__main__":  # pragma: no cover
    sys.exit("run: python -m bench --only results")
