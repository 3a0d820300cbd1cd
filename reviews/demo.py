"""Evaluation history for the demo company of `make run`: closed past cycles and an open one.

Called by `setup_demo` after the org chart is loaded; does nothing if cycles already exist.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction
from django.utils import timezone

from relations.models import Edge, EdgeType

from . import services
from .models import (
    Criterion,
    Cycle,
    NotificationLog,
    NotificationStatus,
    ReviewRequest,
    ServiceCommitment,
)

PAST_QUARTERS = 3
RESPONSE_RATE = 0.8


def _in_demo_order(requests) -> list[ReviewRequest]:
    """The requests in an order both databases agree on: by the people's and departments'
    codes, compared as Python compares strings (the databases' collations differ on Chinese
    names), so the same seed answers the same requests on PostgreSQL and SQLite."""
    requests = requests.select_related("cycle", "rater", "provider_employee")
    return sorted(
        requests,
        key=lambda req: (
            req.rater.employee_id,
            req.edge_type,
            req.rank_kind,
            req.provider_employee.employee_id if req.provider_employee else "",
            req.provider_department_name,
            req.customer_name,
            req.customer_department_name,
            req.service,
        ),
    )


def _answer(req: ReviewRequest, rng: random.Random, bias: float, at: dt.datetime) -> None:
    if rng.random() < 0.05:
        services.submit_answer(req, not_received=True, reason="本期没有合作。", now=at)
        return
    criteria = services.applicable_criteria(req.cycle, req.edge_type, req.rank_kind)
    scores = {c.pk: max(1, min(5, round(rng.gauss(3.6 + bias, 0.8)))) for c in criteria}
    comment = rng.choice(["", "", "", "沟通顺畅，响应及时。", "交付偶有延迟。", "整体满意。"])
    services.submit_answer(req, scores=scores, comment=comment, now=at)


def load_review_demo(*, seed: int = 2026) -> dict[str, int]:
    """A few closed quarters with plausible answers, and one open cycle with an inbox."""
    if Cycle.objects.exists():
        return {"cycles": 0}
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    now = timezone.now()
    with transaction.atomic():
        _add_commitments()
        # Some providers are steadily better or worse, and the weakest improves over time.
        biases: dict[str, float] = {}
        for quarter in range(PAST_QUARTERS, 0, -1):
            opens = now - dt.timedelta(days=91 * quarter)
            deadline = opens + dt.timedelta(days=14)
            cycle = services.create_cycle(
                name=f"互评 {timezone.localdate(opens):%Y-%m}",
                opens_at=opens,
                deadline=deadline,
                period_start=timezone.localdate(opens) - dt.timedelta(days=91),
                period_end=timezone.localdate(opens) - dt.timedelta(days=1),
            )
            services.open_cycle(cycle, now=opens)
            for req in _in_demo_order(ReviewRequest.objects.filter(cycle=cycle)):
                if rng.random() > RESPONSE_RATE:
                    continue
                bias = biases.setdefault(req.provider_name, rng.uniform(-1.2, 0.8))
                improving = 0.3 * (PAST_QUARTERS - quarter) if bias < -0.5 else 0.0
                _answer(req, rng, bias + improving, opens + dt.timedelta(days=rng.randint(0, 12)))
            services.close_cycle(cycle, now=deadline)
            # History, not news: the past cycles' e-mails are not sent now.
            NotificationLog.objects.filter(cycle=cycle).update(status=NotificationStatus.SKIPPED)
        current = services.create_cycle(
            name=f"互评 {timezone.localdate(now):%Y-%m}",
            opens_at=now - dt.timedelta(days=2),
            deadline=now + dt.timedelta(days=12),
        )
        services.open_cycle(current, now=now)
        # A third of the open cycle is answered already, so HR's monitor has something to show.
        for req in _in_demo_order(ReviewRequest.objects.filter(cycle=current)):
            if rng.random() < 0.33:
                bias = biases.get(req.provider_name, 0.0)
                _answer(req, rng, bias, now)
    return {"cycles": PAST_QUARTERS + 1}


# Service commitments of the demo company (its own data, in Chinese like its services):
# provider code, customer code, what, by when, quality, criterion code.
COMMITMENTS = [
    ("COM", "SALES", "合同评审", "2 个工作日内完成", "逐条审核并书面反馈", "timeliness"),
    ("COM", "SALES", "订单录入", "当天录入", "零差错", "quality"),
    ("FIN", "SALES", "费用报销审核", "5 个工作日内完成", "", "timeliness"),
    ("QUAL", "PROD", "来料检验", "到货 24 小时内出具结论", "按检验标准全检", "responsiveness"),
]


def _add_commitments() -> None:
    criteria = {c.code: c for c in Criterion.objects.all()}
    for provider, customer, what, due, standard, criterion in COMMITMENTS:
        edge = Edge.objects.filter(
            type=EdgeType.FUNCTION,
            provider_department__code=provider,
            customer_department__code=customer,
            valid_to__isnull=True,
        ).first()
        if edge is not None:
            ServiceCommitment.objects.create(
                edge=edge,
                deliverable=what,
                due=due,
                standard=standard,
                criterion=criteria.get(criterion),
            )
