"""A company big enough for results: groups above and below the suppression thresholds.

总部 HQ (王总)
├── 运营部 OPS (周运营) + 2 staff
│   ├── 运营一组 OPS_A (吴一组) + 3 staff
│   └── 运营二组 OPS_B (郑二组) + 1 staff
├── 销售部 SALES (李销售) + 5 sellers
└── 财务部 FIN (钱财务) + 3 staff

Function relationships (each with its reverse): OPS, OPS_A and OPS_B serve SALES, FIN serves
OPS_B. Cycles go through the real services: open_cycle, submit_answer, close_cycle.
"""

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from icr.celery import app as celery_app
from relations import services as graph
from relations.models import EdgeType
from reviews import services
from reviews.models import ReviewRequest
from tests.conftest import PASSWORD
from tests.factories import DepartmentFactory


@pytest.fixture(autouse=True)
def eager_celery():
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_eager_propagates = False


@pytest.fixture(autouse=True)
def thresholds(settings):
    settings.ICR_MIN_RATERS = 3
    settings.ICR_MIN_COMMENT_RATERS = 5


def _dept(code, name, parent=None):
    return DepartmentFactory(code=code, name=name, parent=parent)


def build_company() -> dict:
    hq = _dept("HQ", "总部")
    ops = _dept("OPS", "运营部", hq)
    ops_a = _dept("OPS_A", "运营一组", ops)
    ops_b = _dept("OPS_B", "运营二组", ops)
    sales = _dept("SALES", "销售部", hq)
    fin = _dept("FIN", "财务部", hq)
    people: dict = {}

    def hire(code, name, dept, manager=None):
        emp = graph.hire_employee(
            employee_id=code,
            name=name,
            department=dept,
            manager=manager,
            email=f"{code.lower()}@example.com",
        )
        emp.user.set_password(PASSWORD)
        emp.user.save(update_fields=["password"])
        people[code] = emp
        return emp

    ceo = hire("E001", "王总", hq)
    heads = {
        ops: hire("E010", "周运营", ops, ceo),
        sales: hire("E020", "李销售", sales, ceo),
        fin: hire("E030", "钱财务", fin, ceo),
    }
    heads[ops_a] = hire("E011", "吴一组", ops_a, heads[ops])
    heads[ops_b] = hire("E012", "郑二组", ops_b, heads[ops])
    for dept, head in [(hq, ceo), *heads.items()]:
        dept.head = head
        dept.save(update_fields=["head"])
    for i in range(2):
        hire(f"E01{3 + i}", f"运营员{i}", ops, heads[ops])
    for i in range(3):
        hire(f"E05{i}", f"一组员{i}", ops_a, heads[ops_a])
    hire("E060", "二组员", ops_b, heads[ops_b])
    for i in range(5):
        hire(f"E02{1 + i}", f"销售员{i}", sales, heads[sales])
    for i in range(3):
        hire(f"E03{1 + i}", f"财务员{i}", fin, heads[fin])
    for provider in (ops, ops_a, ops_b):
        graph.create_pair(EdgeType.FUNCTION, provider, sales, service="运营支持")
    graph.create_pair(EdgeType.FUNCTION, fin, ops_b, service="报销")
    return {
        "hq": hq,
        "ops": ops,
        "ops_a": ops_a,
        "ops_b": ops_b,
        "sales": sales,
        "fin": fin,
        "ceo": ceo,
        "people": people,
        "heads": {d.code: h for d, h in heads.items()},
    }


@pytest.fixture
def corp(db):
    return build_company()


@dataclass
class CycleRunner:
    """Runs cycles one after the other, answering every request with `score(request, crit)`."""

    count: int = 0

    def run(
        self,
        score=None,
        *,
        comment=None,
        not_received=None,
        close=True,
        skip=None,
        edge_types=None,
    ):
        self.count += 1
        now = timezone.now() + dt.timedelta(days=self.count)
        cycle = services.create_cycle(
            name=f"C{self.count}",
            opens_at=now,
            deadline=now + dt.timedelta(hours=12),
            edge_types=edge_types,
        )
        services.open_cycle(cycle, now=now)
        score = score or (lambda req, crit: 4)
        for req in ReviewRequest.objects.filter(cycle=cycle).select_related("cycle"):
            if skip and skip(req):
                continue
            criteria = services.applicable_criteria(cycle, req.edge_type, req.rank_kind)
            if not_received and not_received(req):
                services.submit_answer(req, not_received=True, now=now)
                continue
            services.submit_answer(
                req,
                scores={c.pk: score(req, c) for c in criteria},
                comment=(comment(req) if comment else "") or "",
                now=now,
            )
        if close:
            services.close_cycle(cycle, now=now + dt.timedelta(hours=1))
        cycle.refresh_from_db()
        return cycle


@pytest.fixture
def cycles(corp):
    return CycleRunner()
