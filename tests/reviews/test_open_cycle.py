import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from relations import services as graph
from relations.models import EdgeType
from reviews import services
from reviews.models import (
    CycleEvent,
    CycleStatus,
    DepartmentEvaluator,
    NotificationLog,
    ReviewRequest,
)
from tests.factories import DepartmentFactory


def new_cycle(**kwargs):
    kwargs.setdefault("name", "Q")
    kwargs.setdefault("deadline", timezone.now() + dt.timedelta(days=10))
    return services.create_cycle(**kwargs)


def pairs(cycle):
    """(rater name, provider name, type) of every request of the cycle."""
    return sorted(
        ReviewRequest.objects.filter(cycle=cycle).values_list(
            "rater_name", "provider_name", "edge_type"
        )
    )


def test_opening_asks_the_customer_side_of_every_active_edge(org):
    cycle = new_cycle()
    summary = services.open_cycle(cycle)
    assert pairs(cycle) == sorted(
        [
            # rank: the superior rates the subordinate's work, the subordinate the support
            ("王总", "李销售", "rank"),
            ("李销售", "王总", "rank"),
            ("李销售", "张三", "rank"),
            ("张三", "李销售", "rank"),
            ("王总", "赵商务", "rank"),
            ("赵商务", "王总", "rank"),
            # function 商务部 → 销售部: 销售部's head and member rate, 商务部's head rates back
            ("李销售", "商务部", "function"),
            ("张三", "商务部", "function"),
            ("赵商务", "销售部", "function"),
        ]
    )
    assert summary.requests == {"rank": 6, "function": 3, "process": 0, "workflow": 0}
    assert summary.raters == 4
    assert summary.created == 9
    cycle.refresh_from_db()
    assert cycle.status == CycleStatus.OPEN
    assert CycleEvent.objects.filter(cycle=cycle, kind="opened").count() == 1


def test_opening_twice_creates_nothing_twice(org):
    cycle = new_cycle()
    services.open_cycle(cycle)
    again = services.open_cycle(cycle)
    assert again.created == 0
    assert ReviewRequest.objects.filter(cycle=cycle).count() == 9
    assert NotificationLog.objects.filter(cycle=cycle, kind="invitation").count() == 4
    assert CycleEvent.objects.filter(cycle=cycle, kind="opened").count() == 1


def test_only_included_types_are_asked(org):
    cycle = new_cycle(edge_types=[EdgeType.FUNCTION])
    summary = services.open_cycle(cycle)
    assert summary.requests == {"rank": 0, "function": 3, "process": 0, "workflow": 0}


def test_designated_evaluators_replace_the_department_members(org):
    outsider = graph.hire_employee(employee_id="E100", name="钱评估", department=org["hq"])
    DepartmentEvaluator.objects.create(department=org["sales"], employee=outsider)
    cycle = new_cycle(edge_types=[EdgeType.FUNCTION])
    services.open_cycle(cycle)
    assert pairs(cycle) == [("赵商务", "销售部", "function"), ("钱评估", "商务部", "function")]


def test_member_limit_keeps_the_head_first(org):
    for n in range(3):
        graph.hire_employee(employee_id=f"E2{n}", name=f"销售{n}", department=org["sales"])
    cycle = new_cycle(edge_types=[EdgeType.FUNCTION], member_limit=2)
    services.open_cycle(cycle)
    raters = set(
        ReviewRequest.objects.filter(cycle=cycle, provider_name="商务部").values_list(
            "rater_name", flat=True
        )
    )
    assert len(raters) == 2
    assert "李销售" in raters


def test_head_from_another_department_rates_for_the_department_they_head(org):
    lab = DepartmentFactory(code="LAB", name="实验室", parent=org["hq"])
    lab.head = org["seller"]  # 张三 sits in 销售部 but heads 实验室
    lab.save(update_fields=["head"])
    graph.create_pair(EdgeType.FUNCTION, org["commerce"], lab, service="采购")
    cycle = new_cycle(edge_types=[EdgeType.FUNCTION])
    services.open_cycle(cycle)
    lab_raters = ReviewRequest.objects.filter(cycle=cycle, customer_name="实验室")
    assert list(lab_raters.values_list("rater_name", flat=True)) == ["张三"]


def test_inactive_people_are_not_asked_and_nobody_rates_themselves(org):
    graph.deactivate_employee(org["seller"])
    # 李销售 is also the designated evaluator of 销售部, which 李销售's own person-edge serves.
    graph.create_pair(EdgeType.WORKFLOW, org["sales_head"], org["sales"], service="报价")
    cycle = new_cycle()
    services.open_cycle(cycle)
    assert not ReviewRequest.objects.filter(cycle=cycle, rater=org["seller"]).exists()
    assert not ReviewRequest.objects.filter(
        cycle=cycle, rater=org["sales_head"], provider_employee=org["sales_head"]
    ).exists()


def test_requests_keep_their_moment_after_moves_and_retirements(org):
    cycle = new_cycle(edge_types=[EdgeType.FUNCTION])
    services.open_cycle(cycle)
    graph.move_employee(org["seller"], org["commerce"])
    org["sales"].name = "新销售部"
    org["sales"].save(update_fields=["name"])
    graph.retire_edge(org["function_edge"])
    request = ReviewRequest.objects.get(cycle=cycle, rater=org["seller"])
    assert request.rater_department_name == "销售部"
    assert request.customer_name == "销售部"
    assert request.provider_name == "商务部"
    assert request.service == "合同审核"
    assert request.edge_id == org["function_edge"].pk


def _company_of(size: int):
    dept = DepartmentFactory()
    boss = graph.hire_employee(employee_id=f"B{size}", name="boss", department=dept)
    dept.head = boss
    dept.save(update_fields=["head"])
    other = DepartmentFactory()
    for n in range(size):
        graph.hire_employee(employee_id=f"S{size}-{n}", name=f"s{n}", department=dept, manager=boss)
    graph.create_pair(EdgeType.FUNCTION, other, dept, service="x")


@pytest.mark.django_db
def test_opening_takes_the_same_number_of_queries_for_any_size():
    counts = []
    for size in (2, 12):
        _company_of(size)
        cycle = new_cycle(name=f"c{size}")
        with CaptureQueriesContext(connection) as queries:
            services.open_cycle(cycle)
        counts.append(len(queries))
        services.close_cycle(cycle)  # the next one asks about the same types
    assert counts[0] == counts[1]
    assert ReviewRequest.objects.count() > 30


def test_a_closed_cycle_cannot_be_opened_again(open_cycle):
    services.close_cycle(open_cycle)
    with pytest.raises(services.ReviewError):
        services.open_cycle(open_cycle)


def test_a_cycle_created_with_no_criteria_left_gets_the_four_defaults(db):
    import datetime as dt

    from django.utils import timezone

    from reviews import services
    from reviews.models import Criterion

    Criterion.objects.all().delete()
    cycle = services.create_cycle(name="Q", deadline=timezone.now() + dt.timedelta(days=7))
    # The defaults for every type, and those of each rank direction (migration 0018's).
    assert sorted(cycle.criteria.values_list("code", flat=True)) == [
        "communication",
        "condition_goals",
        "condition_opportunities",
        "condition_resources",
        "condition_support",
        "quality",
        "responsiveness",
        "task_instructions",
        "task_reporting",
        "task_results",
        "task_timeliness",
        "timeliness",
    ]


def test_a_second_cycle_asking_about_the_same_types_is_refused_and_says_which(org):
    first = new_cycle(name="二季度互评", edge_types=["rank", "function"])
    services.open_cycle(first)
    second = new_cycle(name="职能专项", edge_types=["function", "process"])
    with pytest.raises(services.ReviewError) as refused:
        services.open_cycle(second)
    assert "二季度互评" in str(refused.value)
    second.refresh_from_db()
    assert second.status == CycleStatus.DRAFT
    assert not ReviewRequest.objects.filter(cycle=second).exists()
    # Other types may run beside it; once the first has closed, the second opens.
    beside = new_cycle(name="流程专项", edge_types=["workflow"])
    services.open_cycle(beside)
    services.close_cycle(first)
    services.open_cycle(second)
    second.refresh_from_db()
    assert second.status == CycleStatus.OPEN


def test_the_sweep_closes_a_past_cycle_before_opening_the_next_and_skips_a_refused_one(org):
    now = timezone.now()
    past = new_cycle(name="上一期", opens_at=now - dt.timedelta(days=10))
    services.open_cycle(past, now=now - dt.timedelta(days=10))
    past.deadline = now - dt.timedelta(minutes=1)
    past.save(update_fields=["deadline"])
    following = new_cycle(name="本期", opens_at=now - dt.timedelta(minutes=1))
    clashing = new_cycle(name="重叠", opens_at=now - dt.timedelta(minutes=1))
    result = services.sweep(now=now)
    assert (result["closed"], result["opened"], result["refused"]) == (1, 1, 1)
    statuses = {c.name: c.status for c in (past, following, clashing) if not c.refresh_from_db()}
    assert statuses == {"上一期": "closed", "本期": "open", "重叠": "draft"}
