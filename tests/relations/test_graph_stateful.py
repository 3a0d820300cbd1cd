"""Property-based: random sequences of org and graph operations never break a graph rule.

Hypothesis drives a state machine through hires, moves, manager changes (cycles included),
departures, returns, department moves, function and workflow relationships, retirements, edge
changes, workflow step changes and re-imports; after every step `assert_graph_invariants()`
checks every rule. A refused operation must raise GraphError and leave the database unchanged.

Each generated example runs in its own savepoint inside the test's transaction and is rolled
back in `teardown`, so examples do not see each other's rows.
"""

from __future__ import annotations

import csv
import io
import os

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from relations import importing, services
from relations.models import (
    Department,
    Edge,
    EdgeType,
    Employee,
    RankKind,
    RelationPair,
    Workflow,
    WorkflowStep,
)
from relations.services import End, GraphError
from tests.relations.invariants import assert_graph_invariants

SETTINGS = settings(
    # A longer hunt: ICR_GRAPH_EXAMPLES=500 make test PYTEST_ARGS=tests/relations
    max_examples=int(os.environ.get("ICR_GRAPH_EXAMPLES", "40")),
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Indexes into the current rows (taken modulo their number); small so shrinking stays readable.
index = st.integers(min_value=0, max_value=40)
maybe_index = st.none() | index
edge_type = st.sampled_from(EdgeType.values)
end_choice = st.tuples(st.sampled_from(["employee", "department"]), index)
service_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12
)  # what a form lets through: no NUL or control characters


def snapshot() -> tuple:
    """Everything a refused operation must leave untouched."""
    return (
        list(Edge.objects.order_by("id").values_list()),
        list(RelationPair.objects.order_by("id").values_list()),
        list(
            Employee.objects.order_by("id").values_list(
                "id", "manager_id", "department_id", "active"
            )
        ),
        list(Department.objects.order_by("id").values_list("id", "parent_id", "active")),
        list(WorkflowStep.objects.order_by("id").values_list()),
    )


def nth(queryset, i: int | None):
    if i is None:
        return None
    rows = list(queryset.order_by("id"))
    return rows[i % len(rows)] if rows else None


def end_of(kind: str, i: int):
    model = Employee if kind == "employee" else Department
    return nth(model.objects.all(), i)


def active_edge_exists(edge_type: str, provider, customer) -> bool:
    kind = RankKind.TASK if edge_type == EdgeType.RANK else ""
    return (
        Edge.objects.active()
        .filter(type=edge_type, rank_kind=kind)
        .filter(**End.of(provider).columns("provider"), **End.of(customer).columns("customer"))
        .exists()
    )


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def export_org() -> dict[str, dict]:
    """The active org as HR's files would list it: {"departments": {code: row}, "employees": ...}.

    A manager who left is written as none: the files list active people only.
    """
    departments = {
        d.code: {"name": d.name, "parent_code": d.parent.code if d.parent else ""}
        for d in Department.objects.active().select_related("parent")
    }
    employees = {
        e.employee_id: {
            "name": e.name,
            "email": e.email,
            "department_code": e.department.code,
            "manager_employee_id": e.manager.employee_id if e.manager and e.manager.active else "",
            "title": e.title,
        }
        for e in Employee.objects.active().select_related("department", "manager")
    }
    return {"departments": departments, "employees": employees}


def import_files(org: dict[str, dict]) -> dict[str, importing.ImportSource]:
    departments = csv_bytes(
        ["code", "name", "parent_code", "head_employee_id"],
        [[code, d["name"], d["parent_code"], ""] for code, d in org["departments"].items()],
    )
    columns = ["name", "email", "department_code", "manager_employee_id", "title"]
    employees = csv_bytes(
        ["employee_id", *columns],
        [[eid, *(e[c] for c in columns)] for eid, e in org["employees"].items()],
    )
    return {
        "departments": importing.ImportSource("departments.csv", departments),
        "employees": importing.ImportSource("employees.csv", employees),
    }


def has_cycle(managers: dict[str, str]) -> bool:
    for start in managers:
        seen, current = {start}, managers[start]
        while current:
            if current in seen:
                return True
            seen.add(current)
            current = managers.get(current, "")
    return False


def is_derived(edge: Edge) -> bool:
    """Rank pairs and a workflow's process pairs follow the org; only the sync changes them."""
    if edge.type == EdgeType.PROCESS:
        return edge.pair.workflow_id is not None
    return edge.type == EdgeType.RANK


class GraphMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.edge_count = 0
        self.sequence = 0

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def next_code(self, prefix: str) -> str:
        self.sequence += 1
        return f"{prefix}{self.sequence:03d}"

    def refused(self, operation) -> None:
        """The operation must raise GraphError and change nothing."""
        before = snapshot()
        with pytest.raises(GraphError):
            operation()
        assert snapshot() == before

    @initialize()
    def company(self):
        hq = Department.objects.create(code="HQ", name="总部")
        for code, name in (("SALES", "销售部"), ("COM", "商务部")):
            Department.objects.create(code=code, name=name, parent=hq)
        boss = services.hire_employee(employee_id="E001", name="王总", department=hq)
        services.hire_employee(employee_id="E002", name="李四", department=hq, manager=boss)
        for code in ("WF1", "WF2"):
            Workflow.objects.create(code=code, name=f"流程{code}")

    @invariant()
    def graph_rules_hold(self):
        self.edge_count = assert_graph_invariants(previous_edge_count=self.edge_count)

    # --- People -------------------------------------------------------------------------------

    @rule(dept=index, manager=maybe_index)
    def hire(self, dept, manager):
        employee_id = self.next_code("H")
        boss = nth(Employee.objects.all(), manager)
        department = nth(Department.objects.all(), dept)

        def hire():
            return services.hire_employee(
                employee_id=employee_id,
                name=f"新人{employee_id}",
                department=department,
                manager=boss,
            )

        if not department.active or (boss and not boss.active):
            self.refused(hire)
            return
        person = hire()
        assert person.user.username == employee_id and person.user.is_active
        assert Employee.objects.get(pk=person.pk).manager == boss

    @rule(person=index, dept=index)
    def move(self, person, dept):
        employee = nth(Employee.objects.all(), person)
        department = nth(Department.objects.all(), dept)
        if not department.active:
            self.refused(lambda: services.move_employee(employee, department))
            return
        services.move_employee(employee, department)
        assert Employee.objects.get(pk=employee.pk).department == department

    @rule(person=index, manager=maybe_index)
    def change_manager(self, person, manager):
        employee = nth(Employee.objects.all(), person)
        boss = nth(Employee.objects.all(), manager)
        chain = set(boss.manager_chain_ids()) | {boss.pk} if boss else set()
        if employee.pk in chain or (boss and not boss.active):
            self.refused(lambda: services.change_manager(employee, boss))
            return
        services.change_manager(employee, boss)
        assert Employee.objects.get(pk=employee.pk).manager == boss

    @rule(person=index)
    def leave(self, person):
        employee = nth(Employee.objects.active(), person)
        if employee is None:
            return
        services.deactivate_employee(employee)
        employee.refresh_from_db()
        employee.user.refresh_from_db()
        assert not employee.active and not employee.user.is_active
        assert not Edge.objects.active().touching_employee(employee.pk).exists()

    @rule(person=index)
    def come_back(self, person):
        employee = nth(Employee.objects.filter(active=False), person)
        if employee is None:
            return
        if not employee.department.active:
            self.refused(lambda: services.reactivate_employee(employee))
            return
        services.reactivate_employee(employee)
        employee.refresh_from_db()
        assert employee.active and employee.user.is_active

    # --- Departments --------------------------------------------------------------------------

    @rule(parent=maybe_index)
    def open_department(self, parent):
        code = self.next_code("D")
        Department.objects.create(
            code=code, name=f"部门{code}", parent=nth(Department.objects.active(), parent)
        )

    @rule(dept=index, parent=maybe_index)
    def move_department(self, dept, parent):
        department = nth(Department.objects.all(), dept)
        new_parent = nth(Department.objects.all(), parent)
        if new_parent and (
            not new_parent.active or department.pk in {new_parent.pk, *new_parent.ancestor_ids()}
        ):
            self.refused(lambda: services.set_department_parent(department, new_parent))
            return
        services.set_department_parent(department, new_parent)
        assert Department.objects.get(pk=department.pk).parent == new_parent

    # --- HR-set relationships -----------------------------------------------------------------

    def add_pair(self, edge_type, provider, customer, service):
        if (
            provider == customer
            or not (provider.active and customer.active)
            or active_edge_exists(edge_type, provider, customer)
        ):
            self.refused(lambda: services.create_pair(edge_type, provider, customer))
            return
        forward = services.create_pair(
            edge_type, provider, customer, service=service, reverse_service=service[::-1]
        )
        assert (forward.provider, forward.customer) == (provider, customer)
        assert forward.reverse.provider == customer and forward.reverse.service == service[::-1]

    @rule(a=index, b=index, service=service_text)
    def add_function_edge(self, a, b, service):
        departments = Department.objects.all()
        self.add_pair(EdgeType.FUNCTION, nth(departments, a), nth(departments, b), service)

    @rule(a=end_choice, b=end_choice, service=service_text)
    def add_workflow_edge(self, a, b, service):
        self.add_pair(EdgeType.WORKFLOW, end_of(*a), end_of(*b), service)

    @rule(a=end_choice, b=end_choice, service=service_text)
    def add_hr_process_edge(self, a, b, service):
        # A process pair without a workflow is set by HR; the workflow sync leaves it alone.
        self.add_pair(EdgeType.PROCESS, end_of(*a), end_of(*b), service)

    @rule(a=index, b=index, wf=index)
    def hand_made_derived_edges_are_refused(self, a, b, wf):
        people = Employee.objects.all()
        workflow = nth(Workflow.objects.all(), wf)
        self.refused(lambda: services.create_pair(EdgeType.RANK, nth(people, a), nth(people, b)))
        self.refused(
            lambda: services.create_pair(
                EdgeType.PROCESS, nth(people, a), nth(people, b), workflow=workflow
            )
        )

    @rule(edge_type=edge_type, i=index)
    def retire_edge(self, edge_type, i):
        edge = nth(Edge.objects.active().filter(type=edge_type), i)
        if edge is None:
            return
        if is_derived(edge):
            self.refused(lambda: services.retire_edge(edge))
            return
        services.retire_edge(edge)
        edge.refresh_from_db()
        assert edge.valid_to is not None and edge.reverse.valid_to == edge.valid_to

    @rule(i=index, service=service_text)
    def change_service(self, i, service):
        edge = nth(Edge.objects.active(), i)
        if edge is None:
            return
        reverse_service = edge.reverse.service
        changed = services.change_edge(edge, service=service)
        assert changed.pk == edge.pk
        assert changed.service == service and changed.reverse.service == reverse_service

    @rule(
        edge_type=edge_type, i=index, side=st.sampled_from(["provider", "customer"]), end=end_choice
    )
    def change_ends(self, edge_type, i, side, end):
        edge = nth(Edge.objects.active().filter(type=edge_type), i)
        if edge is None:
            return
        new_end = end_of(*end)
        provider = new_end if side == "provider" else edge.provider
        customer = new_end if side == "customer" else edge.customer
        if (provider, customer) == (edge.provider, edge.customer):
            return  # not a change of ends; change_service covers the in-place path
        if (
            is_derived(edge)
            or provider == customer
            or not new_end.active
            or active_edge_exists(edge.type, provider, customer)
        ):
            self.refused(lambda: services.change_edge(edge, **{side: new_end}))
            return
        changed = services.change_edge(edge, **{side: new_end})
        edge.refresh_from_db()
        assert edge.valid_to is not None  # the old pair is history now
        assert (changed.provider, changed.customer) == (provider, customer)
        assert changed.direction == edge.direction and changed.type == edge.type
        assert changed.service == edge.service

    # --- Workflows ----------------------------------------------------------------------------

    @rule(wf=index, owners=st.lists(end_choice, max_size=5))
    def replace_steps(self, wf, owners):
        workflow = nth(Workflow.objects.all(), wf)
        steps = [(f"步骤{n}", end_of(*owner)) for n, owner in enumerate(owners, start=1)]
        services.set_workflow_steps(workflow, steps)
        assert [s.owner for s in workflow.steps.order_by("position")] == [o for _, o in steps]

    @rule(wf=index, data=st.data())
    def reorder_steps(self, wf, data):
        workflow = nth(Workflow.objects.all(), wf)
        steps = [(s.name, s.owner) for s in workflow.steps.order_by("position")]
        services.set_workflow_steps(workflow, data.draw(st.permutations(steps)))

    # --- Re-import ------------------------------------------------------------------------------

    @rule(
        mutation=st.sampled_from(["none", "manager", "leaver", "closed department"]),
        who=index,
        boss=maybe_index,
    )
    def reimport(self, mutation, who, boss):
        org = export_org()
        people = org["employees"]
        unchanged = all(
            e.manager_id is None or e.manager.active
            for e in Employee.objects.active().select_related("manager")
        )
        ids = sorted(people)
        if mutation == "manager" and ids:
            target = ids[who % len(ids)]
            people[target]["manager_employee_id"] = ids[boss % len(ids)] if boss is not None else ""
        elif mutation == "leaver" and ids:
            # Someone missing from the file leaves; HR points their reports at their manager.
            gone = ids[who % len(ids)]
            their_manager = people.pop(gone)["manager_employee_id"]
            for row in people.values():
                if row["manager_employee_id"] == gone:
                    row["manager_employee_id"] = their_manager
        elif mutation == "closed department":
            # A department nobody works in and without sub-departments may close.
            used = {e["department_code"] for e in people.values()}
            used |= {d["parent_code"] for d in org["departments"].values()}
            empty = sorted(set(org["departments"]) - used)
            if empty:
                del org["departments"][empty[who % len(empty)]]
        files = import_files(org)

        before = snapshot()
        plan = importing.plan_import(**files)
        if not people or not org["departments"]:
            assert plan.errors, "a file with a header and no rows must be refused"
            with pytest.raises(GraphError):
                importing.apply_import(plan)
            assert snapshot() == before
            return
        if has_cycle({eid: e["manager_employee_id"] for eid, e in people.items()}):
            assert plan.errors, "a reporting-line cycle in the file must be reported"
            with pytest.raises(GraphError):
                importing.apply_import(plan)
            assert snapshot() == before
            return
        assert not plan.errors, [str(e.message) for e in plan.errors]
        if mutation == "none" and unchanged:
            assert plan.is_noop, plan.changes.lines()
        importing.apply_import(plan)

        # The database now says what the files say, and saying it again changes nothing.
        active = {
            e.employee_id: e
            for e in Employee.objects.active().select_related("department", "manager")
        }
        assert set(active) == set(people)
        assert set(Department.objects.active().values_list("code", flat=True)) == set(
            org["departments"]
        )
        for eid, row in people.items():
            employee = active[eid]
            assert employee.department.code == row["department_code"]
            assert (employee.manager.employee_id if employee.manager else "") == row[
                "manager_employee_id"
            ]
        again = importing.plan_import(**import_files(org))
        assert again.is_noop, again.changes.lines()

    @rule(wf=index)
    def toggle_workflow(self, wf):
        workflow = nth(Workflow.objects.all(), wf)
        Workflow.objects.filter(pk=workflow.pk).update(active=not workflow.active)
        services.sync_process_edges()


@pytest.mark.django_db
def test_graph_rules_hold_under_random_operations():
    run_state_machine_as_test(GraphMachine, settings=SETTINGS)
