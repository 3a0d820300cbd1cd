"""Building import files for the importer's tests: a small company, as rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from relations.importing import (
    DEPARTMENT_COLUMNS,
    EMPLOYEE_COLUMNS,
    RELATION_COLUMNS,
    ImportSource,
    apply_import,
    plan_import,
)

DATA = Path(__file__).parent / "data"


def rows_of(name: str) -> list[list[str]]:
    """The data rows of a sample file in tests/relations/data."""
    with open(DATA / name, encoding="utf-8", newline="") as f:
        return [row for row in csv.reader(f)][1:]


def csv_bytes(header, rows, *, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def sources(
    departments=None,
    employees=None,
    relations=None,
    *,
    with_relations: bool = True,
    encoding: str = "utf-8",
) -> dict:
    departments = rows_of("departments.csv") if departments is None else departments
    employees = rows_of("employees.csv") if employees is None else employees
    relations = rows_of("relations.csv") if relations is None else relations
    result = {
        "departments": ImportSource(
            "departments.csv", csv_bytes(DEPARTMENT_COLUMNS, departments, encoding=encoding)
        ),
        "employees": ImportSource(
            "employees.csv", csv_bytes(EMPLOYEE_COLUMNS, employees, encoding=encoding)
        ),
        "relations": None,
    }
    if with_relations:
        result["relations"] = ImportSource(
            "relations.csv", csv_bytes(RELATION_COLUMNS, relations, encoding=encoding)
        )
    return result


def import_ok(**kwargs):
    """Plan and apply; the files must be valid. Returns (plan, summary)."""
    plan = plan_import(**sources(**kwargs))
    assert plan.errors == []
    return plan, apply_import(plan)


def company(size: int) -> dict:
    """A generated company of `size` employees in 5 departments, with a few relations."""
    departments = [["D0", "总部", "", "E0"]] + [
        [f"D{i}", f"部门{i}", "D0", ""] for i in range(1, 5)
    ]
    employees = []
    for i in range(size):
        dept = "D0" if i == 0 else f"D{1 + i % 4}"
        manager = "" if i == 0 else f"E{(i - 1) // 3}"
        employees.append([f"E{i}", f"员工{i}", f"e{i}@example.com", dept, manager, "职员"])
    relations = [
        ["function", "D1", "", "D2", "", "服务"],
        ["function", "D2", "", "D1", "", "反馈"],
        ["workflow", "D3", "", "D4", "", "交接"],
        ["process", "", "E1", "", "E2", "工序"],
    ]
    return {"departments": departments, "employees": employees, "relations": relations}


def formula_like_org() -> dict:
    """The sample files with text a spreadsheet would run as a formula, imported.

    Names, an employee ID and a service start with =, -, @ or +; then (behind the importer's
    back) two titles start with an apostrophe, one followed by =.
    """
    from relations.models import Employee

    departments = rows_of("departments.csv")
    departments[3][1] = "=SUM(A1)"  # FIN
    employees = rows_of("employees.csv")
    employees[2][1] = "-张三"  # E003
    employees[4][1] = "@x"  # E005
    employees[5][:2] = ["+E006", "+1"]
    relations = rows_of("relations.csv")
    relations[0][5] = "+合同审核"
    import_ok(departments=departments, employees=employees, relations=relations)
    Employee.objects.filter(employee_id="E004").update(title="'=1")
    Employee.objects.filter(employee_id="E001").update(title="'总经理")
    return {"departments": departments, "employees": employees, "relations": relations}
