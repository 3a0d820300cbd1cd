"""`make bench` section `messaging`: 100,000 invitations through WeCom's API, played on loopback
at its documented rate limit.

    python -m bench --only messaging [--messaging-people 100000] [--messaging-workers 2]
                    [--messaging-platform wecom]

1. Setup (one child process): N people with a WeCom user ID, an open cycle with one request
   each, and their N invitation rows, written set-based; the company channel set to WeCom.
2. The platform: tests/fake_platforms.py in this process (a thread), which refuses ("rate
   limited") any call beyond the platform's documented limit in a sliding window (WeCom:
   10,000 calls a minute per API), and counts the messages each user received.
3. W worker processes run `emails.send_batch` over the invitations in batches of
   ICR_NOTIFICATION_BATCH, as the Celery task would: every worker is handed *every* batch (the
   second in reverse order), as if each message had been delivered twice, so the claims must
   keep anyone from being messaged twice, and the workers share the platform's limit through
   the database's token bucket (`reviews.channels.take_tokens`).

Reported: the wall time, messages per second against the limit, "rate limited" answers the
platform gave, and the number of people messaged other than exactly once (must be 0).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

CYCLE_NAME = "bench messaging"


def child_messaging_setup(people: str, platform: str) -> dict:
    import datetime as dt

    from django.db import connection, transaction
    from django.utils import timezone

    from relations.models import Department, Employee
    from reviews import services
    from reviews.models import (
        Cycle,
        CycleStatus,
        MessagingSettings,
        NotificationLog,
        RateBucket,
        ReviewRequest,
    )

    n = int(people)
    now = timezone.now()
    with transaction.atomic():
        old = list(Cycle.objects.filter(name=CYCLE_NAME).values_list("id", flat=True))
        NotificationLog.objects.filter(cycle_id__in=old).delete()
        ReviewRequest.objects.filter(cycle_id__in=old).delete()
        Cycle.objects.filter(id__in=old).delete()
        RateBucket.objects.all().delete()
        dept, _created = Department.objects.get_or_create(
            code="BENCH-MSG", defaults={"name": "消息"}
        )
        have = Employee.objects.filter(employee_id__startswith="MSG").count()
        if have < n:
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO relations_employee (employee_id, name, email, department_id, "
                    "title, active, language, im_user_id) "
                    "SELECT 'MSG' || i, '员工' || i, 'msg' || i || '@example.com', %s, '', true, "
                    "'zh-hans', 'u' || i FROM generate_series(%s, %s) AS i",
                    [dept.pk, have, n - 1],
                )
        cycle = Cycle.objects.create(
            name=CYCLE_NAME,
            period_start=now.date() - dt.timedelta(days=90),
            period_end=now.date(),
            opens_at=now - dt.timedelta(hours=1),
            deadline=now + dt.timedelta(days=7),
            status=CycleStatus.OPEN,
            opened_at=now,
        )
        with connection.cursor() as cursor:
            # One request each (edge ids are not checked: requests keep no foreign keys).
            cursor.execute(
                "INSERT INTO reviews_reviewrequest (cycle_id, edge_id, rater_id, rater_name, "
                "rater_department_name, edge_type, rank_kind, service, provider_name, "
                "provider_department_name, customer_name, customer_department_name, status, "
                "created_at) "
                "SELECT %s, e.id, e.id, e.name, '消息', 'function', '', '合同审核', '商务部', "
                "'商务部', e.name, '消息', 'pending', %s FROM relations_employee e "
                "WHERE e.employee_id LIKE 'MSG%%' AND e.department_id = %s "
                "ORDER BY e.id LIMIT %s",
                [cycle.pk, now, dept.pk, n],
            )
        MessagingSettings.objects.update_or_create(pk=1, defaults={"channel": platform})
    services.refresh_request_statistics()
    created = services.record_notifications(cycle.pk, "invitation")
    ids = list(
        NotificationLog.objects.filter(cycle=cycle).order_by("id").values_list("id", flat=True)
    )
    return {"cycle": cycle.pk, "invitations": created, "first_id": ids[0], "last_id": ids[-1]}


def child_messaging_worker(cycle_id: str, reverse: str) -> dict:
    from django.conf import settings

    from reviews import emails
    from reviews.models import NotificationLog

    ids = list(
        NotificationLog.objects.filter(cycle_id=int(cycle_id))
        .order_by("id")
        .values_list("id", flat=True)
    )
    size = settings.ICR_NOTIFICATION_BATCH
    batches = [ids[i : i + size] for i in range(0, len(ids), size)]
    if reverse == "1":
        batches.reverse()
    sent = 0
    start = time.perf_counter()
    for batch in batches:
        sent += emails.send_batch(batch)
    return {"sent": sent, "seconds": round(time.perf_counter() - start, 1)}


def child_messaging_check(cycle_id: str) -> dict:
    from django.db.models import Count

    from reviews.models import NotificationLog

    rows = NotificationLog.objects.filter(cycle_id=int(cycle_id))
    return {
        "by_status_channel": {
            f"{r['status']}/{r['channel'] or '-'}": r["n"]
            for r in rows.values("status", "channel").annotate(n=Count("id"))
        }
    }


CHILD_STEPS = {
    "messaging-setup": child_messaging_setup,
    "messaging-worker": child_messaging_worker,
    "messaging-check": child_messaging_check,
}


def add_arguments(parser) -> None:
    parser.add_argument("--messaging-people", type=int, default=100_000)
    parser.add_argument("--messaging-workers", type=int, default=2)
    parser.add_argument(
        "--messaging-platform", default="wecom", choices=("wecom", "dingtalk", "feishu")
    )


def _child(args: list[str], database_url: str) -> dict:
    """`python -m bench --child …` in its own process; returns its JSON line."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--database-url", database_url, "--child", *args],
        cwd=BASE_DIR,
        env={**os.environ, "DATABASE_URL": database_url, "ICR_DEV": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-5000:] + result.stderr[-5000:])
        sys.exit(f"benchmark step {args[0]} failed")
    return json.loads(result.stdout.strip().splitlines()[-1])


def section_messaging(options) -> dict:
    from tests import fake_platforms

    platform = options.messaging_platform
    url = options.database_url
    setup = _child(["messaging-setup", str(options.messaging_people), platform], url)
    with fake_platforms.Server() as server:
        platforms = server.platforms
        platforms.keep_records = False
        documented = {"wecom": (10_000, 60.0), "dingtalk": (20, 1.0), "feishu": (1_000, 60.0)}
        limit = documented[platform]
        platforms.limits[platform] = limit
        env = {
            **os.environ,
            **fake_platforms.settings_for(server.url),
            "DATABASE_URL": url,
            "ICR_DEV": "1",
        }
        start = time.perf_counter()
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench",
                    "--database-url",
                    url,
                    "--child",
                    "messaging-worker",
                    str(setup["cycle"]),
                    "1" if i % 2 else "0",
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(options.messaging_workers)
        ]
        results = []
        for worker in workers:
            out, err = worker.communicate()
            if worker.returncode != 0:
                sys.stderr.write(out + err)
                sys.exit("messaging worker failed")
            results.append(json.loads(out.strip().splitlines()[-1]))
        seconds = time.perf_counter() - start
        counts = dict(platforms.count_by_user)
        limited = platforms.limited[platform]
    check = _child(["messaging-check", str(setup["cycle"])], url)
    people = setup["invitations"]
    not_once = sum(1 for c in counts.values() if c != 1) + (people - len(counts))
    return {
        "platform": platform,
        "people": people,
        "workers": options.messaging_workers,
        "seconds": round(seconds, 1),
        "messages_per_second": round(sum(counts.values()) / seconds, 1),
        "documented_limit": {"calls": limit[0], "window_seconds": limit[1]},
        "limit_per_second": round(limit[0] / limit[1], 1),
        "rate_limited_answers": limited,
        "messages_received": sum(counts.values()),
        "people_not_messaged_exactly_once": not_once,
        "sent_by_worker": [r["sent"] for r in results],
        "log": check["by_status_channel"],
        "load_average_1min": round(os.getloadavg()[0], 1),
    }


def print_messaging(result: dict) -> None:
    print(
        f"\nMessaging: {result['people']:,} invitations through {result['platform']} on loopback, "
        f"{result['workers']} worker processes"
    )
    print(
        f"wall {result['seconds']} s, {result['messages_per_second']} messages/s "
        f"(documented limit {result['documented_limit']['calls']:,} per "
        f"{result['documented_limit']['window_seconds']:.0f} s = {result['limit_per_second']}/s)"
    )
    print(
        f"'rate limited' answers: {result['rate_limited_answers']}; messages received "
        f"{result['messages_received']:,}; people not messaged exactly once: "
        f"{result['people_not_messaged_exactly_once']}"
    )
    print(f"sent by worker: {result['sent_by_worker']}; log: {result['log']}")
    print(f"load average (1 min) at the end: {result['load_average_1min']}")


SECTIONS = {"messaging": (section_messaging, print_messaging)}
