"""The close's contract: PostgreSQL and SQLite write identical rows for the same answers.

The two databases take different paths (PostgreSQL: a work table, a thread, the cycle's
partition; SQLite: in place), so this test writes down what the close must write for a fixed
company and fixed answers, in the departments' and people's codes rather than ids (sequences
differ between databases and test orders), and CI runs it on both: each must write exactly
these rows, so the two write the same.
"""

import hashlib

from reviews.models import Criterion, ResponseRate, Rollup


def _score(req, crit) -> int:
    # Fixed by names, not ids: the same answers on both databases whatever the test order.
    digest = hashlib.sha256(f"{req.rater_name}|{req.provider_name}|{crit.code}".encode())
    return 1 + digest.digest()[0] % 5


def _skip(req) -> bool:
    return hashlib.sha256(f"{req.rater_name}|{req.provider_name}".encode()).digest()[0] % 5 == 0


def stored_rows(cycle) -> list[tuple]:
    from relations.models import Department, Employee

    depts = dict(Department.objects.values_list("id", "code"))
    people = dict(Employee.objects.values_list("id", "employee_id"))
    criteria = dict(Criterion.objects.values_list("id", "code"))
    rows = [
        (
            r.scope,
            depts[r.department_id],
            people.get(r.employee_id, ""),
            r.kind,
            criteria.get(r.criterion_id, ""),
            depts.get(r.customer_department_id, ""),
            r.raters,
            r.not_received,
            *r.distribution,
            r.score_sum,
            None if r.mean is None else round(r.mean, 9),
            None if r.favourable is None else round(r.favourable, 9),
            r.only_type,
            r.distribution_shown,
            r.suppressed,
        )
        for r in Rollup.objects.filter(cycle=cycle)
    ]
    rates = [
        ("rate", r.scope, depts[r.department_id], r.requests, r.answered)
        for r in ResponseRate.objects.filter(cycle=cycle)
    ]
    return sorted(rows, key=repr) + sorted(rates, key=repr)


def fingerprint(rows: list[tuple]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


# What both databases write for this company and these answers. A change to what the close
# computes changes it: check the new rows by hand (`stored_rows`), then write the new value.
# Rank task and condition requests are rated on criteria of their own (migration 0018): more
# rows per criterion than when every type shared four. A component chosen again whole as it
# grows (`Suppression._settle_pairwise`) hides 277 rows where choosing on top hid 280. The
# score audit's cuts (`Suppression._audit_chains`) swap which of equally heavy rows are hidden
# (OPS's communication for its timeliness, and the like), as many as before. A distribution
# whose figure splits into shown parts and fewer than D raters in hidden ones is not printed
# (`Suppression._raters_of_unknown_sums`): OPS_B alone (its customer FIN's four raters and its
# two rank raters) and HQ's subtree on three condition criteria (two hidden departments of two
# raters each), 10 printed where 14 were.
EXPECTED = {"rows": 351, "hidden": 277, "distributions": 10, "fingerprint": "b79328c0ab361a8b"}


def test_postgresql_and_sqlite_write_the_same_rows(corp, cycles):
    cycle = cycles.run(
        _score,
        skip=_skip,
        not_received=lambda req: req.rater_name.endswith("1") and req.provider_name == "周运营",
    )
    rows = stored_rows(cycle)
    figures = [r for r in rows if r[0] != "rate"]
    got = {
        "rows": len(figures),
        "hidden": sum(1 for r in figures if r[-1]),
        "distributions": sum(1 for r in figures if r[-2]),
        "fingerprint": fingerprint(rows),
    }
    assert got == EXPECTED
