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
