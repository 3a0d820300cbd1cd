"""The department tree a closed cycle closed with: its copy, and what reads it.

A closed cycle's figures depend on the department tree: the figures of each department with its
sub-departments, the response rates of subtrees, the suppression equations between a department
and its sub-departments, and the export's department codes and names. Answers and requests copy
their departments' ids when the cycle opens, so who belongs where is fixed; the tree is not. Had
a recomputation (HR saving the cycle's result settings) used today's tree, moving a department
after the close would change the subtree figures by exactly that department's answers, and the
export before and after would give them away.

So the first computation of a closed cycle's results (the close itself, `reviews.close.
compute_rollups`) copies the tree first, in one INSERT … SELECT (`freeze_tree`), and every
computation of a closed cycle reads that copy (the closure's SQL `tree_sql`, closing on
PostgreSQL through `create_tree_table`; the suppression's `tree_children`), and so does its
export (`department_labels`: codes and names of then). The copy is never written again. Cycles
closed before it existed got today's tree from migration 0013. Open cycles have no figures, and
their response rates follow today's tree. The department page is not this module's: it still
lists today's sub-departments beside the frozen figures.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection

from relations.models import Department

from .models import Cycle, CycleDepartment, CycleStatus


def _tables() -> tuple[str, str]:
    q = connection.ops.quote_name
    return q(CycleDepartment._meta.db_table), q(Department._meta.db_table)


def freeze_tree(cycle: Cycle) -> int:
    """Copy today's department tree as this cycle's, unless it has one; returns the rows written.

    One statement, whatever the size of the tree; run under the lock on the cycle that
    `compute_rollups` takes, so two computations cannot both write it (and the unique
    constraint would refuse the second).
    """
    snapshot, department = _tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {snapshot} (cycle_id, department_id, parent_id, code, name)
            SELECT %s, d.id, d.parent_id, d.code, d.name FROM {department} d
            WHERE NOT EXISTS (SELECT 1 FROM {snapshot} s WHERE s.cycle_id = %s)
            ORDER BY d.id
            """,  # noqa: S608
            [cycle.pk, cycle.pk],
        )
        return cursor.rowcount


def is_frozen(cycle: Cycle) -> bool:
    """Whether the cycle's results read a copy of the tree: closed cycles do."""
    return cycle.status == CycleStatus.CLOSED


def tree_sql(cycle: Cycle) -> str:
    """The tree the cycle's results roll up with, as a table of (id, parent_id) to put in
    SQL: the cycle's copy once it is closed (`freeze_tree` must have run), else the live
    department table. No parameters: the cycle id is an integer written in."""
    snapshot, department = _tables()
    if not is_frozen(cycle):
        return department
    return (
        f"(SELECT department_id AS id, parent_id FROM {snapshot} "  # noqa: S608
        f"WHERE cycle_id = {int(cycle.pk)})"
    )


# PostgreSQL, closing: the cycle's tree copied once more, into a temporary table with statistics
# of its own (`create_tree_table`), for the closure and the subtree step to read. Read from the
# copy just written, which no statistics know yet, PostgreSQL expected one department and joined
# each level of the closure in a nested loop: 87 s for 10,000 departments instead of 0.1 s.
TREE_TABLE = "icr_rollup_tree"


def create_tree_table(cursor, cycle: Cycle) -> str:
    """PostgreSQL: the cycle's tree as a temporary table of (id, parent_id), analyzed, for the
    rest of the transaction; returns its name, to use as `tree_sql(cycle)` is."""
    cursor.execute(f"DROP TABLE IF EXISTS {TREE_TABLE}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {TREE_TABLE} ON COMMIT DROP AS "  # noqa: S608
        f"SELECT t.id, t.parent_id FROM {tree_sql(cycle)} t"
    )
    cursor.execute(f"ANALYZE {TREE_TABLE}")
    return TREE_TABLE


def department_children() -> dict[int, list[int]]:
    """Each department's sub-departments in today's tree."""
    children: dict[int, list[int]] = defaultdict(list)
    for dept_id, parent_id in Department.objects.values_list("id", "parent_id"):
        if parent_id is not None:
            children[parent_id].append(dept_id)
    return children


def tree_children(cycle: Cycle) -> dict[int, list[int]]:
    """Each department's sub-departments in the cycle's tree, like `department_children()`
    (in department code order), for the cycle's suppression."""
    if not is_frozen(cycle):
        return department_children()
    children: dict[int, list[int]] = defaultdict(list)
    rows = (
        CycleDepartment.objects.filter(cycle_id=cycle.pk, parent__isnull=False)
        .order_by("code")
        .values_list("department_id", "parent_id")
    )
    for department_id, parent_id in rows:
        children[parent_id].append(department_id)
    return children


def department_labels(cycle: Cycle) -> dict[int, tuple[str, str]]:
    """(code, name) of each department as the cycle closed, for its export; today's for a
    cycle without a copy of its tree."""
    rows = CycleDepartment.objects.filter(cycle_id=cycle.pk).values_list(
        "department_id", "code", "name"
    )
    labels = {pk: (code, name) for pk, code, name in rows}
    if labels:
        return labels
    return {
        pk: (code, name) for pk, code, name in Department.objects.values_list("id", "code", "name")
    }
