"""The default criteria: created by migration 0002, and again by services.create_cycle when
no criterion is left. Kept free of model imports so the migration can use it."""

DEFAULT_CRITERIA = [
    (
        "quality",
        "服务质量",
        "Quality of service",
        "所提供的工作成果、产品或服务是否符合要求。",
        "Whether the work, product or service meets what was needed.",
    ),
    (
        "timeliness",
        "及时性",
        "Timeliness",
        "是否按约定的时间交付。",
        "Whether it was delivered when agreed.",
    ),
    (
        "responsiveness",
        "响应速度",
        "Responsiveness",
        "对需求、问题和反馈的响应是否迅速。",
        "How quickly requests, problems and feedback were taken up.",
    ),
    (
        "communication",
        "沟通与态度",
        "Communication and attitude",
        "沟通是否清楚，态度是否积极、尊重。",
        "Whether communication was clear and the attitude helpful and respectful.",
    ),
]


def add_default_criteria(apps):
    Criterion = apps.get_model("reviews", "Criterion")
    for order, (code, name_zh, name_en, desc_zh, desc_en) in enumerate(DEFAULT_CRITERIA, 1):
        Criterion.objects.get_or_create(
            code=code,
            defaults={
                "name_zh": name_zh,
                "name_en": name_en,
                "description_zh": desc_zh,
                "description_en": desc_en,
                "order": order * 10,
            },
        )


# Rank is two services (the source documents: "上级将工作任务分配给下级,下级必须努力完成任务,
# 输出合格的工作成果使上级满意" and "上级……必须努力为他们提供资源、创造机会和提供服务与支持"):
# criteria aimed at each direction by name. A rank request is asked these instead of the
# criteria for every type when its cycle has them (`services.applicable_criteria`).
TASK_CRITERIA = [
    (
        "task_results",
        "工作成果质量",
        "Quality of work results",
        "交付的工作成果是否合格，达到上级的要求。",
        "Whether the work delivered is up to what the superior asked for.",
    ),
    (
        "task_timeliness",
        "按时完成任务",
        "Tasks done on time",
        "分配的任务是否按要求的时间完成。",
        "Whether assigned tasks were finished when required.",
    ),
    (
        "task_instructions",
        "执行工作安排",
        "Following instructions",
        "是否理解并按要求执行工作安排和指示。",
        "Whether assignments and instructions were understood and carried out as asked.",
    ),
    (
        "task_reporting",
        "汇报与反馈",
        "Reporting back",
        "是否及时汇报进展、问题和结果。",
        "Whether progress, problems and results were reported in good time.",
    ),
]
CONDITION_CRITERIA = [
    (
        "condition_resources",
        "资源提供",
        "Resources provided",
        "是否提供完成工作所需的资源、工具和信息。",
        "Whether the resources, tools and information needed for the work were provided.",
    ),
    (
        "condition_goals",
        "目标清晰",
        "Clarity of goals",
        "工作目标、要求和优先次序是否清楚。",
        "Whether goals, requirements and priorities were clear.",
    ),
    (
        "condition_support",
        "支持与指导",
        "Support and guidance",
        "遇到困难时是否得到及时的支持与指导。",
        "Whether support and guidance came in time when difficulties arose.",
    ),
    (
        "condition_opportunities",
        "创造机会",
        "Opportunities",
        "是否创造学习、成长和发挥能力的机会。",
        "Whether there were opportunities to learn, grow and use one's abilities.",
    ),
]
DIRECTION_CRITERIA = [
    ("rank_task", 100, TASK_CRITERIA),
    ("rank_condition", 200, CONDITION_CRITERIA),
]


def add_direction_criteria(apps):
    """Add the task and condition customers' criteria; existing criteria (and the cycles that
    use them, whose criteria were fixed when they were created) are left as they are."""
    Criterion = apps.get_model("reviews", "Criterion")
    created = []
    for kind, base, rows in DIRECTION_CRITERIA:
        for order, (code, name_zh, name_en, desc_zh, desc_en) in enumerate(rows, 1):
            criterion, new = Criterion.objects.get_or_create(
                code=code,
                defaults={
                    "name_zh": name_zh,
                    "name_en": name_en,
                    "description_zh": desc_zh,
                    "description_en": desc_en,
                    "order": base + order * 10,
                    "edge_types": [kind],
                },
            )
            if new:
                created.append(criterion)
    return created


def ensure_default_criteria() -> None:
    """Install the default criteria (for every type and per rank direction) in a database
    that has none, as the migrations do."""
    from django.apps import apps as global_apps

    add_default_criteria(global_apps)
    add_direction_criteria(global_apps)
