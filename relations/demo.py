"""The built-in demo company that `make run` loads into an empty database.

A small manufacturer: 10 departments in a tree, 60 people with a reporting line, and every kind
of internal-customer relationship (rank from the managers, function pairs set by HR, process
pairs from the steps of three workflows, workflow pairs between the workflows' owners). It is
built through relations.services like any other change, so it obeys the same invariants.

Names, titles and service descriptions are the demo company's own data (Chinese, as an HR file
of a Chinese company would be), not interface text, so they are not translated.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from . import services
from .models import Department, EdgeType, Employee, LineKind, Workflow
from .roles import HR_GROUP

DEMO_PASSWORD = "icr-demo-2026"  # noqa: S105 - printed by `make run`; setup_demo refuses production
HR_USERNAME = "hr"
HR_EMAIL = "hr@example.com"
ROOT_CODE = "GMO"
EMAIL_DOMAIN = "example.com"

# code, name, parent code
DEPARTMENTS = [
    ("GMO", "总经理办公室", None),
    ("HR", "人力资源部", "GMO"),
    ("FIN", "财务部", "GMO"),
    ("SALES", "销售部", "GMO"),
    ("MKT", "市场部", "SALES"),
    ("COM", "商务部", "GMO"),
    ("RND", "研发中心", "GMO"),
    ("DEV", "软件开发部", "RND"),
    ("PROD", "生产部", "GMO"),
    ("QUAL", "质量部", "PROD"),
]

# Front line (一线) and functions (机关/职能); 总经理办公室 is neither, 软件开发部 takes
# its parent's.
LINES = {
    "SALES": LineKind.FRONT,
    "PROD": LineKind.FRONT,
    "MKT": LineKind.FUNCTIONAL,
    "HR": LineKind.FUNCTIONAL,
    "FIN": LineKind.FUNCTIONAL,
    "COM": LineKind.FUNCTIONAL,
    "RND": LineKind.FUNCTIONAL,
    "QUAL": LineKind.FUNCTIONAL,
}

# One person per surname keeps all 60 names distinct.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛"
)
_GIVEN = [
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超",
    "秀英", "霞", "平", "刚", "桂英", "晨", "浩宇", "欣怡", "婷", "鹏", "凯", "丽", "志强", "雪",
]  # fmt: skip


@dataclass(frozen=True)
class Person:
    employee_id: str
    department: str
    title: str
    manager: str | None  # employee_id of the manager

    @property
    def index(self) -> int:
        return int(self.employee_id[1:])

    @property
    def name(self) -> str:
        i = self.index - 1
        return _SURNAMES[i] + _GIVEN[(i * 7) % len(_GIVEN)]

    @property
    def email(self) -> str:
        return f"{self.employee_id.lower()}@{EMAIL_DOMAIN}"


def _people() -> list[Person]:
    """60 people; managers always come before their reports."""
    people: list[Person] = []

    def add(department: str, title: str, manager: str | None) -> str:
        employee_id = f"E{len(people) + 1:04d}"
        people.append(Person(employee_id, department, title, manager))
        return employee_id

    ceo = add("GMO", "总经理", None)
    add("GMO", "总经理助理", ceo)
    heads = {
        "HR": add("HR", "人力资源经理", ceo),
        "FIN": add("FIN", "财务经理", ceo),
        "SALES": add("SALES", "销售总监", ceo),
        "COM": add("COM", "商务经理", ceo),
        "RND": add("RND", "研发总监", ceo),
        "PROD": add("PROD", "生产经理", ceo),
    }
    heads["MKT"] = add("MKT", "市场经理", heads["SALES"])
    heads["DEV"] = add("DEV", "开发经理", heads["RND"])
    heads["QUAL"] = add("QUAL", "质量经理", heads["PROD"])

    for department, title, count in (
        ("HR", "人事专员", 3),
        ("FIN", "会计", 4),
        ("MKT", "市场专员", 4),
        ("COM", "商务专员", 4),
        ("RND", "架构师", 3),
        ("DEV", "软件工程师", 7),
        ("QUAL", "质检员", 5),
    ):
        for _ in range(count):
            add(department, title, heads[department])
    # Two levels below the head in sales and production.
    for _ in range(2):
        lead = add("SALES", "销售主管", heads["SALES"])
        for _ in range(4):
            add("SALES", "销售代表", lead)
    add("PROD", "生产计划员", heads["PROD"])
    for _ in range(2):
        lead = add("PROD", "班组长", heads["PROD"])
        for _ in range(3):
            add("PROD", "操作工", lead)
    return people


PEOPLE = _people()
PLANNER = next(p.employee_id for p in PEOPLE if p.title == "生产计划员")
ACCOUNTANT = next(p.employee_id for p in PEOPLE if p.title == "会计")

# Function (职能) pairs set by HR: provider, customer, service, what flows back.
FUNCTION_PAIRS = [
    ("FIN", "SALES", "费用报销审核与回款核算", "按时提交合规的报销单据与回款信息"),
    ("COM", "SALES", "合同评审、订单录入与发货安排", "准确完整的客户需求与订单信息"),
    ("MKT", "SALES", "市场推广活动与销售线索", "客户反馈与市场信息"),
    ("HR", "RND", "招聘、培训与绩效支持", "用人需求与岗位说明"),
    ("FIN", "PROD", "成本核算与预算控制", "准确的生产消耗与成本数据"),
    ("QUAL", "PROD", "来料与成品检验标准", "生产记录与质量问题反馈"),
]

# Workflows (流程): code, name, owner department, ordered steps (name, department code or
# employee id). Consecutive steps give the process (工序) pairs.
WORKFLOWS = [
    (
        "WF-DEV",
        "产品开发流程",
        "RND",
        [("需求调研", "MKT"), ("方案设计", "RND"), ("软件开发", "DEV"), ("测试验证", "QUAL")],
    ),
    (
        "WF-ORDER",
        "订单交付流程",
        "SALES",
        [
            ("接单", "SALES"),
            ("合同评审", "COM"),
            ("生产计划", PLANNER),
            ("生产制造", "PROD"),
            ("出厂检验", "QUAL"),
            ("发货", "COM"),
        ],
    ),
    (
        "WF-SETTLE",
        "财务结算流程",
        "FIN",
        [("对账", "COM"), ("开票", ACCOUNTANT), ("回款跟进", "SALES"), ("账务核销", "FIN")],
    ),
]

# Workflow (流程) pairs between the owners of workflows that hand off to each other.
WORKFLOW_PAIRS = [
    (
        "RND",
        "SALES",
        "产品开发流程 → 订单交付流程：新产品规格、报价资料与销售培训",
        "客户需求与产品问题反馈",
    ),
    (
        "SALES",
        "FIN",
        "订单交付流程 → 财务结算流程：合同、发货与开票信息",
        "结算结果与客户信用信息",
    ),
]


def is_loaded() -> bool:
    return Department.objects.filter(code=ROOT_CODE).exists()


def has_other_data() -> bool:
    return not is_loaded() and (Department.objects.exists() or Employee.objects.exists())


def ensure_hr_group() -> Group:
    """The HR group with the permissions its admin needs (the org, reviews and schedules)."""
    group, _ = Group.objects.get_or_create(name=HR_GROUP)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=["relations", "reviews", "django_celery_beat"]
        )
    )
    return group


def ensure_hr_user(password: str = DEMO_PASSWORD):
    """The HR admin login; its password is set only when the account is created."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=HR_USERNAME, defaults={"email": HR_EMAIL, "is_staff": True}
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    user.groups.add(ensure_hr_group())
    return user


@transaction.atomic
def load_demo(password: str = DEMO_PASSWORD) -> None:
    """Build the demo company through the services. Call only on an empty org chart."""
    departments: dict[str, Department] = {}
    for code, name, parent in DEPARTMENTS:
        departments[code] = Department.objects.create(
            code=code,
            name=name,
            parent=departments[parent] if parent else None,
            line=LINES.get(code, ""),
        )

    employees: dict[str, Employee] = {}
    for person in PEOPLE:
        employees[person.employee_id] = services.hire_employee(
            employee_id=person.employee_id,
            name=person.name,
            department=departments[person.department],
            email=person.email,
            manager=employees[person.manager] if person.manager else None,
            title=person.title,
        )
    # The first person hired into each department is its head.
    for person in PEOPLE:
        department = departments[person.department]
        if department.head_id is None:
            department.head = employees[person.employee_id]
            department.save(update_fields=["head"])

    # Every demo login shares one password; hashing it once keeps `make run` quick.
    get_user_model().objects.filter(employee__in=employees.values()).update(
        password=make_password(password)
    )

    def end(key: str) -> Department | Employee:
        return departments.get(key) or employees[key]

    for provider, customer, service, reverse_service in FUNCTION_PAIRS:
        services.create_pair(
            EdgeType.FUNCTION,
            departments[provider],
            departments[customer],
            service=service,
            reverse_service=reverse_service,
        )
    for code, name, owner, steps in WORKFLOWS:
        workflow = Workflow.objects.create(
            code=code, name=name, description=f"负责部门：{departments[owner].name}"
        )
        services.set_workflow_steps(workflow, [(step, end(key)) for step, key in steps])
    for provider, customer, service, reverse_service in WORKFLOW_PAIRS:
        services.create_pair(
            EdgeType.WORKFLOW,
            departments[provider],
            departments[customer],
            service=service,
            reverse_service=reverse_service,
        )
    services.sync_rank_edges()
    ensure_hr_user(password)


DEPARTMENT_NAMES = {code: name for code, name, _parent in DEPARTMENTS}


def login_examples() -> list[tuple[Person, bool]]:
    """People worth trying, each with whether they head a department."""
    first_with_title = {p.title: p for p in reversed(PEOPLE)}
    return [
        (PEOPLE[0], True),  # heads the root: sees the whole company
        (first_with_title["销售总监"], True),
        (first_with_title["销售代表"], False),
    ]
