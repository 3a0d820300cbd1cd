import os, random
from django.db import transaction
from reviews import services
from reviews.models import Rollup
from relations.models import Department
from tests.disclosure import attacker as atk
from tests.disclosure.test_attacker import _random_company, _published


def test_dbg(db, thresholds):
    failing = []
    for seed in [int(s) for s in os.environ.get("SEEDS", "63").split(",")]:
        with transaction.atomic():
            services.forget_cached_criteria()
            cycle = _random_company(random.Random(seed))
            secs = float(os.environ.get("SECS", "10"))
            reports = [_published(cycle, atk.hr(), seconds=secs, solve_seconds=secs)]
            root = Department.objects.get(code="R0")
            for department in Department.objects.filter(parent=root).order_by("code")[:1]:
                reports.append(_published(cycle, atk.head(department), seconds=secs, solve_seconds=secs))
            if os.environ.get("DUMP"):
                for d in Department.objects.order_by("pk"):
                    print("dept", d.pk, d.code, d.parent_id)
                for r in Rollup.objects.filter(cycle=cycle).order_by("scope", "department_id", "kind", "employee_id", "criterion_id", "customer_department_id"):
                    print(r.scope, r.department_id, r.employee_id, r.kind or "-", r.criterion_id, r.customer_department_id, "raters", r.raters, "hid", r.suppressed, "dist", r.distribution, "shown_d", r.distribution_shown)
            transaction.set_rollback(True)
        if any(not r.scores_safe for r in reports):
            failing.append(seed)
    print("FAILING", failing)
