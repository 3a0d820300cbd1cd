"""`make bench` section `cycles`: open a cycle of about 1,000,000 requests, send its invitations.

    python -m bench --only cycles [--cycle-relations 13000] [--mail-timeout 600]

1. The company: the 100,000 employees of bench/company.py, generated with more relations rows
   than the import section uses (13,000 instead of 5,000), so that asking every active member
   of each customer department lands near a million requests. It is imported only when the
   database does not already hold it.
2. Opening: `services.open_cycle` in a child process at two sizes (process edges only, then
   every type), counting its queries, timing it and reading its peak RSS.
3. The floor: the same rows copied with one raw `INSERT … SELECT` into a scratch copy of the
   requests table (same columns, defaults, checks and indexes), once without and once with its
   three foreign keys; both figures and both ratios are reported.
4. Invitations: the message that opening queued on Redis (REDIS_URL, default db 7) is taken by
   a real `celery -A icr worker` (prefork, 2 processes) that sends through Django's SMTP backend
   to an aiosmtpd sink on loopback running in its own process. The rate is the sink's count
   over the time between its first and last message; the worker's peak RSS is VmHWM of each of
   its processes, read from /proc before it stops.

Every figure carries the 1-minute load average next to it: the machine is shared.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
CYCLE_RELATIONS = 13_000
GOALS = {
    "open_s": 20.0,
    "open_vs_raw_insert": 1.5,
    "mails_per_s": 500.0,
    "peak_rss_mib": 1024.0,
}
BENCH_CYCLE_PREFIX = "bench "


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def peak_rss_mib() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bench_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "ICR_DEV": "1",
        "DEBUG": "0",
        "REDIS_URL": REDIS_URL,
        **extra,
    }


def run_child(args: list[str], database_url: str, timeout: float = 900) -> dict:
    """`python -m bench --child …` in its own process (own peak RSS); returns its JSON line."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--database-url", database_url, "--child", *args],
        cwd=BASE_DIR,
        env=bench_env(database_url),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-5000:] + result.stderr[-5000:])
        sys.exit(f"benchmark step {args[0]} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def flush_redis() -> None:
    """Empty the benchmark's own Redis database: messages left by an earlier run or step."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


# --- Child steps ------------------------------------------------------------------------------


def child_company_fingerprint() -> dict:
    from django.db.models import Count

    from relations.models import Edge, Employee

    edges = dict(
        Edge.objects.filter(valid_to__isnull=True)
        .values_list("type")
        .annotate(n=Count("id"))
        .values_list("type", "n")
    )
    return {"employees": Employee.objects.count(), "edges": edges}


def child_cycles_reset() -> dict:
    """Drop every cycle of the benchmark database and what hangs off it; refresh statistics."""
    from django.db import connection

    from reviews.models import (
        Answer,
        AnswerScore,
        Cycle,
        CycleEvent,
        NotificationLog,
        PeriodFigure,
        ResultComment,
        ReviewRequest,
        Rollup,
    )

    tables = [
        m._meta.db_table
        for m in (AnswerScore, Answer, NotificationLog, CycleEvent, ReviewRequest, Cycle)
    ]
    tables.append(Cycle.criteria.through._meta.db_table)
    # The rollup and comment tables have no foreign key to cascade through (reviews 0007,
    # 0011): named here.
    tables += [Rollup._meta.db_table, ResultComment._meta.db_table, PeriodFigure._meta.db_table]
    with connection.cursor() as cursor:
        # CASCADE also empties the results app's other tables, which point at cycles.
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        cursor.execute("DROP TABLE IF EXISTS bench_request_copy")
        cursor.execute("ANALYZE")
    return {}


def child_open(types: str, member_limit: str, label: str) -> dict:
    """Create a cycle and time `services.open_cycle` on it, counting its queries."""
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from reviews import services

    now = timezone.now()
    cycle = services.create_cycle(
        name=f"{BENCH_CYCLE_PREFIX}{label}",
        deadline=now + dt.timedelta(days=14),
        edge_types=types.split(","),
        member_limit=None if member_limit == "-" else int(member_limit),
    )
    queries: list[tuple[float, str]] = []

    def count(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            words = " ".join(sql.split()[:6]) if sql else ""
            queries.append((round(time.perf_counter() - start, 3), words))

    load_before = loadavg()
    with connection.execute_wrapper(count):
        start = time.perf_counter()
        summary = services.open_cycle(cycle)
        seconds = time.perf_counter() - start
    return {
        "cycle_id": cycle.pk,
        "types": types,
        "member_limit": None if member_limit == "-" else int(member_limit),
        "seconds": round(seconds, 3),
        "queries": len(queries),
        "slowest_queries": sorted(queries, reverse=True)[:5],
        "requests": summary.total,
        "by_type": summary.requests,
        "raters": summary.raters,
        "peak_rss_mib": peak_rss_mib(),
        "load_before": load_before,
        "load": loadavg(),
    }


def child_raw_insert(cycle_id: str, with_fks: str) -> dict:
    """The floor: the cycle's rows copied by one INSERT … SELECT into a scratch requests table.

    The scratch table is `LIKE reviews_reviewrequest INCLUDING ALL` (columns, defaults, identity,
    checks, every index and the unique constraint); with_fks adds the real table's three foreign
    keys (deferrable, checked at commit like Django's). Timed: the statement and its commit.
    """
    from django.db import connection, transaction

    from reviews.models import ReviewRequest

    table = connection.ops.quote_name(ReviewRequest._meta.db_table)
    columns = [f.column for f in ReviewRequest._meta.concrete_fields if f.column != "id"]
    column_list = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_request_copy")
        cursor.execute(f"CREATE TABLE bench_request_copy (LIKE {table} INCLUDING ALL)")
        if with_fks == "fk":
            # The keys a plain ForeignKey would give the table (it had them before reviews 0004).
            for name in ("cycle", "edge", "rater"):
                field = ReviewRequest._meta.get_field(name)
                target = field.related_model._meta.db_table
                cursor.execute(
                    f"ALTER TABLE bench_request_copy ADD FOREIGN KEY ({field.column}) "
                    f"REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED"
                )
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'bench_request_copy'::regclass "
            "AND contype = 'f'"
        )
        fks = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM pg_index WHERE indrelid = 'bench_request_copy'::regclass"
        )
        indexes = cursor.fetchone()[0]
        cursor.execute("CHECKPOINT")
        load_before = loadavg()
        start = time.perf_counter()
        with transaction.atomic():
            cursor.execute(
                f"INSERT INTO bench_request_copy ({column_list}) "
                f"SELECT {column_list} FROM {table} WHERE cycle_id = %s",
                [int(cycle_id)],
            )
            rows = cursor.rowcount
        seconds = time.perf_counter() - start
        load = loadavg()
        cursor.execute("DROP TABLE bench_request_copy")
    return {
        "seconds": round(seconds, 3),
        "rows": rows,
        "foreign_keys": fks,
        "indexes": indexes,
        "load_before": load_before,
        "load": load,
    }


def child_checkpoint() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    return {}


def child_mail_status(cycle_id: str) -> dict:
    from django.db.models import Count

    from reviews.models import NotificationLog

    rows = (
        NotificationLog.objects.filter(cycle_id=int(cycle_id))
        .values_list("status")
        .annotate(n=Count("id"))
    )
    return dict(rows)


# --- The SMTP sink (its own process) -----------------------------------------------------------


def run_sink(port: str, stats_path: str) -> dict:
    """An aiosmtpd server on loopback that only counts; writes its figures twice a second."""
    from aiosmtpd.controller import Controller

    stats = {"messages": 0, "first": None, "last": None, "bytes": 0}

    class Counter:
        async def handle_DATA(self, server, session, envelope):
            now = time.time()
            stats["messages"] += 1
            stats["bytes"] += len(envelope.content or b"")
            stats["first"] = stats["first"] or now
            stats["last"] = now
            return "250 Message accepted"

    controller = Controller(Counter(), hostname="127.0.0.1", port=int(port))
    controller.start()
    stopping = False

    def stop(*_args):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)

    def write():
        tmp = stats_path + ".tmp"
        Path(tmp).write_text(json.dumps(stats))
        os.replace(tmp, stats_path)

    while not stopping:
        write()
        time.sleep(0.5)
    controller.stop()
    write()
    return stats


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _process_tree(pid: int) -> list[int]:
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            pids.extend(_process_tree(int(child)))
    return pids


def stop_process(process: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM, and SIGKILL if it is still there after `timeout` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _vm_hwm_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _profile(pids: list[int], py_spy: str, out_dir: Path, seconds: int) -> list:
    """py-spy on the worker's pool processes: collapsed stacks, one file per process."""
    return [
        subprocess.Popen(
            [
                py_spy,
                "record",
                "--format",
                "raw",
                "--nonblocking",
                "-d",
                str(seconds),
                "-p",
                str(pid),
                "-o",
                str(out_dir / f"py-spy-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]


def send_invitations(
    cycle_id: int,
    raters: int,
    database_url: str,
    *,
    timeout: float,
    concurrency: int,
    py_spy: str | None = None,
) -> dict:
    """Start the sink and a real worker, wait until every invitation is sent (or timeout)."""
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="icr-bench-mail-"))
    stats_path = workdir / "sink.json"
    sink = subprocess.Popen(
        [sys.executable, "-m", "bench", "--child", "smtp-sink", str(port), str(stats_path)],
        cwd=BASE_DIR,
        env=bench_env(database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker_log = (workdir / "worker.log").open("w")
    env = bench_env(
        database_url,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        DATABASE_CONN_MAX_AGE="600",
    )
    while not stats_path.exists():
        time.sleep(0.1)
    load_before = loadavg()
    sink_cpu_before = _cpu_seconds(sink.pid)
    started = time.time()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "icr",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=WARNING",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    hwm: dict[int, float] = {}
    loads: list[float] = []
    profilers: list = []
    try:
        while time.time() - started < timeout:
            time.sleep(1)
            if py_spy and not profilers and time.time() - started > 8:
                pool = _process_tree(worker.pid)[1:]
                profilers = _profile(pool, py_spy, BASE_DIR / "var" / "bench", 20)
            for pid in _process_tree(worker.pid):
                hwm[pid] = max(hwm.get(pid, 0.0), _vm_hwm_mib(pid))
            loads.append(loadavg())
            if _read_json(stats_path).get("messages", 0) >= raters or worker.poll() is not None:
                break
        time.sleep(1.5)  # the last "sent" marks reach the database
        for pid in _process_tree(worker.pid):
            hwm[pid] = max(hwm.get(pid, 0.0), _vm_hwm_mib(pid))
        cpu = {
            "worker": round(sum(_cpu_seconds(pid) for pid in _process_tree(worker.pid)), 1),
            "sink": round(_cpu_seconds(sink.pid) - sink_cpu_before, 1),
        }
    finally:
        stop_process(worker, timeout=60)
        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=30)
        worker_log.close()
    stats = _read_json(stats_path)
    messages = stats.get("messages", 0)
    span = (stats["last"] - stats["first"]) if messages > 1 else None
    status = run_child(["mail-status", str(cycle_id)], database_url)
    return {
        "raters": raters,
        "messages": messages,
        "sink_seconds": round(span, 2) if span else None,
        "mails_per_s": round((messages - 1) / span, 1) if span else None,
        "end_to_end_s": round(stats["last"] - started, 2) if messages else None,
        "end_to_end_per_s": round(messages / (stats["last"] - started), 1) if messages else None,
        "mean_message_bytes": round(stats.get("bytes", 0) / messages) if messages else None,
        "log_status": status,
        "cpu_seconds": cpu,
        "worker_processes": len(hwm),
        "worker_concurrency": concurrency,
        "worker_peak_rss_mib": max(hwm.values()) if hwm else None,
        "worker_peak_rss_sum_mib": round(sum(hwm.values()), 1),
        "worker_peak_rss_by_process_mib": sorted(hwm.values(), reverse=True),
        "load_before": load_before,
        "load_mean": round(sum(loads) / len(loads), 2) if loads else None,
        "load": loadavg(),
        "worker_log_tail": (workdir / "worker.log").read_text()[-1500:],
    }


# --- The section ------------------------------------------------------------------------------


def ensure_company(options) -> dict:
    """Import the benchmark company with CYCLE_RELATIONS relations rows unless it is there."""
    from bench.company import generate

    url = options.database_url
    marker = BASE_DIR / "var" / "bench" / "cycles-company.json"
    wanted = {
        "employees": options.employees,
        "departments": options.departments,
        "relations": options.cycle_relations,
        "seed": options.seed,
    }
    current = run_child(["company-fingerprint"], url)
    known = _read_json(marker)
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
    return {
        **wanted,
        "imported": True,
        "import_seconds": imported["seconds"],
        "edges": current["edges"],
    }


def section_cycles(options) -> dict:
    url = options.database_url
    company = ensure_company(options)

    # Query count at two sizes: a small cycle first, then the big one on an empty table.
    run_child(["cycles-reset"], url)
    flush_redis()
    small = run_child(["open", "process", "-", "small"], url)
    run_child(["cycles-reset"], url)
    flush_redis()
    run_child(["checkpoint"], url)
    big = run_child(["open", "rank,function,process,workflow", "-", "1M"], url)

    raw_nofk = run_child(["raw-insert", str(big["cycle_id"]), "nofk"], url)
    raw_fk = run_child(["raw-insert", str(big["cycle_id"]), "fk"], url)

    if options.skip_invitations:
        mail = {
            "messages": 0,
            "raters": big["raters"],
            "mails_per_s": None,
            "sink_seconds": None,
            "end_to_end_per_s": None,
            "worker_peak_rss_mib": None,
            "worker_processes": 0,
            "worker_peak_rss_sum_mib": None,
            "load_mean": None,
            "cpu_seconds": {"worker": 0, "sink": 0},
            "log_status": {},
            "skipped": True,
        }
    else:
        mail = send_invitations(
            big["cycle_id"],
            big["raters"],
            url,
            timeout=options.mail_timeout,
            concurrency=options.mail_concurrency,
            py_spy=options.py_spy,
        )
    flush_redis()
    ratio_fk = big["seconds"] / raw_fk["seconds"]
    ratio_nofk = big["seconds"] / raw_nofk["seconds"]
    worker_rss = mail["worker_peak_rss_mib"] or 0.0
    return {
        "company": company,
        "open_small": small,
        "open": big,
        "raw_insert_without_fks": raw_nofk,
        "raw_insert_with_fks": raw_fk,
        "open_vs_raw_with_fks": round(ratio_fk, 2),
        "open_vs_raw_without_fks": round(ratio_nofk, 2),
        "invitations": mail,
        "goals": GOALS,
        "met": {
            "open_s": big["seconds"] <= GOALS["open_s"],
            "open_vs_raw_with_fks": ratio_fk <= GOALS["open_vs_raw_insert"],
            "open_vs_raw_without_fks": ratio_nofk <= GOALS["open_vs_raw_insert"],
            "queries_independent_of_size": small["queries"] == big["queries"],
            "open_peak_rss": big["peak_rss_mib"] <= GOALS["peak_rss_mib"],
            "mails_per_s": (mail["mails_per_s"] or 0) >= GOALS["mails_per_s"],
            "all_invitations_sent": mail["messages"] == big["raters"],
            "worker_peak_rss": 0 < worker_rss <= GOALS["peak_rss_mib"],
        },
    }


def print_cycles(result: dict) -> None:
    small, big = result["open_small"], result["open"]
    nofk, fk = result["raw_insert_without_fks"], result["raw_insert_with_fks"]
    mail = result["invitations"]
    company = result["company"]
    print(
        f"\nCycles: {company['employees']:,} employees, {company['relations']:,} relations rows, "
        f"active edges {json.dumps(company['edges'])} (PostgreSQL)"
    )
    print(f"{'step':<34}{'rows':>11}{'wall s':>9}{'queries':>9}{'peak RSS MiB':>14}{'load':>7}")
    rows = [
        (
            f"open_cycle, {small['types']}",
            small["requests"],
            small["seconds"],
            small["queries"],
            small["peak_rss_mib"],
            small["load"],
        ),
        (
            "open_cycle, all types",
            big["requests"],
            big["seconds"],
            big["queries"],
            big["peak_rss_mib"],
            big["load"],
        ),
        ("raw INSERT…SELECT, no FKs", nofk["rows"], nofk["seconds"], 1, None, nofk["load"]),
        ("raw INSERT…SELECT, 3 FKs", fk["rows"], fk["seconds"], 1, None, fk["load"]),
    ]
    for label, n, seconds, queries, rss, load in rows:
        rss_text = f"{rss:>14.1f}" if rss is not None else f"{'':>14}"
        print(f"{label:<34}{n:>11,}{seconds:>9.2f}{queries:>9}{rss_text}{load:>7.2f}")
    print(f"requests by type: {json.dumps(big['by_type'])}, distinct raters {big['raters']:,}")
    print(
        f"open / raw with FKs: {result['open_vs_raw_with_fks']}×, "
        f"open / raw without FKs: {result['open_vs_raw_without_fks']}×"
    )
    print(
        f"invitations: {mail['messages']:,} of {mail['raters']:,} e-mails, "
        f"{mail['mails_per_s']} per s at the sink over {mail['sink_seconds']} s "
        f"({mail['end_to_end_per_s']} per s from worker start), "
        f"worker peak RSS {mail['worker_peak_rss_mib']} MiB (largest of "
        f"{mail['worker_processes']} processes, {mail['worker_peak_rss_sum_mib']} MiB together),"
        f" load {mail['load_mean']} mean"
    )
    cpu = mail["cpu_seconds"]
    if mail["messages"]:
        print(
            f"CPU per e-mail: worker {cpu['worker'] * 1000 / mail['messages']:.2f} ms, "
            f"sink {cpu['sink'] * 1000 / mail['messages']:.2f} ms"
        )
    print(f"notification log: {json.dumps(mail['log_status'])}")
    goals = result["goals"]
    print(
        f"goals: open ≤ {goals['open_s']} s and ≤ {goals['open_vs_raw_insert']}× raw, "
        f"≥ {goals['mails_per_s']:.0f} mails/s, RSS ≤ {goals['peak_rss_mib']:.0f} MiB → "
        + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in result["met"].items())
    )


def add_arguments(parser) -> None:
    parser.add_argument("--cycle-relations", type=int, default=CYCLE_RELATIONS)
    parser.add_argument("--mail-timeout", type=float, default=600.0)
    # 4 pool processes on 2 cores: while one waits for the SMTP server's reply (4 round trips
    # per message) another renders; each is ~90 MiB, so even their sum stays under 1 GiB.
    parser.add_argument("--mail-concurrency", type=int, default=4)
    parser.add_argument(
        "--py-spy", metavar="PATH", help="profile the worker with this py-spy binary"
    )
    parser.add_argument(
        "--skip-invitations",
        action="store_true",
        help="measure the opening only (the invitation goals are then reported as missed)",
    )


CHILD_STEPS = {
    "company-fingerprint": child_company_fingerprint,
    "cycles-reset": child_cycles_reset,
    "open": child_open,
    "raw-insert": child_raw_insert,
    "checkpoint": child_checkpoint,
    "mail-status": child_mail_status,
    "smtp-sink": run_sink,
}
SECTIONS = {"cycles": (section_cycles, print_cycles)}
