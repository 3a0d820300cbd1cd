"""A synthetic company in import_org's file formats, the same for the same seed."""

from __future__ import annotations

import csv
import random
from pathlib import Path

LEVELS = 5
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
UNITS = [
    "销售",
    "商务",
    "财务",
    "人事",
    "研发",
    "生产",
    "质量",
    "采购",
    "物流",
    "客服",
    "法务",
    "市场",
]


def department_levels(total: int) -> list[int]:
    """How many departments on each of the five levels (one root), about ×5 per level."""
    weights = [0, 1, 5, 25, 125]
    rest = total - 1
    counts = [1] + [max(1, rest * w // sum(weights[1:])) for w in weights[1:]]
    counts[-1] += total - sum(counts)
    return counts


def generate(
    directory: Path, *, employees: int, departments: int, relations: int, seed: int
) -> dict[str, Path]:
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)

    # Departments: a tree of LEVELS levels; each department's parent is on the level above.
    levels: list[list[str]] = []
    parent_of: dict[str, str] = {}
    number = 0
    for level, count in enumerate(department_levels(departments)):
        codes = []
        for _ in range(count):
            number += 1
            code = f"D{number:05d}"
            if level:
                parent_of[code] = rng.choice(levels[level - 1])
            codes.append(code)
        levels.append(codes)
    dept_codes = [code for level in levels for code in level]

    # Employees: the first one of each department is its head and reports to the parent's head;
    # the others report to the head or to a colleague hired before them (deeper chains).
    staff: dict[str, list[str]] = {code: [] for code in dept_codes}
    rows = []
    for index in range(employees):
        eid = f"E{index + 1:06d}"
        dept = dept_codes[index] if index < len(dept_codes) else rng.choice(dept_codes)
        colleagues = staff[dept]
        if colleagues:
            manager = colleagues[0] if rng.random() < 0.7 else rng.choice(colleagues)
        else:
            parent = parent_of.get(dept)
            manager = staff[parent][0] if parent and staff[parent] else ""
        colleagues.append(eid)
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        title = "经理" if not colleagues[1:] else rng.choice(["专员", "主管", "工程师", "助理"])
        rows.append([eid, name, f"{eid.lower()}@example.com", dept, manager, title])
    heads = {dept: members[0] for dept, members in staff.items() if members}

    paths = {
        "departments": directory / "departments.csv",
        "employees": directory / "employees.csv",
        "relations": directory / "relations.csv",
    }
    with open(paths["departments"], "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["code", "name", "parent_code", "head_employee_id"])
        for code in dept_codes:
            name = f"{rng.choice(UNITS)}{code[1:]}部"
            writer.writerow([code, name, parent_of.get(code, ""), heads.get(code, "")])
    with open(paths["employees"], "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["employee_id", "name", "email", "department_code", "manager_employee_id", "title"]
        )
        writer.writerows(rows)

    # Relations: function and workflow between departments, process between people; about one
    # in ten rows is the reverse of an earlier one (it joins that pair).
    seen: set[tuple] = set()
    written = []
    employee_ids = [row[0] for row in rows]
    while len(written) < relations:
        if written and rng.random() < 0.1:
            kind, base, provider, customer, _service = rng.choice(written)
            if (base, customer, provider) in seen:
                continue
            seen.add((base, customer, provider))
            written.append((kind, base, customer, provider, "反馈与配合"))
            continue
        kind = rng.choice(["function", "职能", "workflow", "流程", "process", "工序"])
        base = {"职能": "function", "流程": "workflow", "工序": "process"}.get(kind, kind)
        pool = employee_ids if base == "process" else dept_codes
        provider, customer = rng.sample(pool, 2)
        if (base, provider, customer) in seen or (base, customer, provider) in seen:
            continue
        seen.add((base, provider, customer))
        written.append((kind, base, provider, customer, f"服务{len(written) + 1}"))
    with open(paths["relations"], "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "type",
                "provider_department",
                "provider_employee",
                "customer_department",
                "customer_employee",
                "service",
            ]
        )
        for kind, _base, provider, customer, service in written:
            if provider.startswith("E"):
                writer.writerow([kind, "", provider, "", customer, service])
            else:
                writer.writerow([kind, provider, "", customer, "", service])
    return paths
