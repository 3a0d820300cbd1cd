"""The rules of the relationship graph, checked from the database in a few queries.

`assert_graph_invariants()` reads every edge, pair, employee and department once and raises an
AssertionError naming the first broken rule. Any test that writes to the graph (services,
importer, admin) can call it afterwards; pass the edge count it returned last time to check that
no edge was deleted in between.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from relations.models import Department, Direction, Edge, EdgeType, Employee, RelationPair
from relations.services import process_edges_wanted

EDGE_FIELDS = (
    "id",
    "pair_id",
    "direction",
    "type",
    "rank_kind",
    "provider_department_id",
    "provider_employee_id",
    "customer_department_id",
    "customer_employee_id",
    "valid_to",
)


def _end(edge: dict, side: str) -> tuple[str, int]:
    dept = edge[f"{side}_department_id"]
    emp = edge[f"{side}_employee_id"]
    assert (dept is None) != (emp is None), (
        f"edge {edge['id']}: the {side} end must be exactly one of department or employee"
    )
    return ("department", dept) if dept is not None else ("employee", emp)


def _assert_no_cycle(parent_of: dict[int, int | None], what: str) -> None:
    for start in parent_of:
        seen = {start}
        current = parent_of[start]
        while current is not None:
            assert current not in seen, f"{what}: cycle through {start}"
            seen.add(current)
            current = parent_of.get(current)


def assert_graph_invariants(*, previous_edge_count: int | None = None) -> int:
    """Check every rule of the graph; returns the number of edges (retired ones included)."""
    edges = list(Edge.objects.values(*EDGE_FIELDS))
    pair_rows = RelationPair.objects.values_list("id", "valid_to", "type", "workflow_id")
    pairs = {pk: valid_to for pk, valid_to, _, _ in pair_rows}
    pair_types = {pk: edge_type for pk, _, edge_type, _ in pair_rows}
    pair_workflows = {pk: workflow_id for pk, _, _, workflow_id in pair_rows}
    employees = {row["id"]: row for row in Employee.objects.values("id", "manager_id", "active")}
    departments = dict(Department.objects.values_list("id", "active"))

    if previous_edge_count is not None:
        assert len(edges) >= previous_edge_count, (
            f"edges were deleted: {previous_edge_count} before, {len(edges)} now"
        )

    # Org structure: the department tree and the reporting line have no cycles.
    _assert_no_cycle(dict(Department.objects.values_list("id", "parent_id")), "department tree")
    _assert_no_cycle({k: v["manager_id"] for k, v in employees.items()}, "reporting line")

    # Every pair owns exactly one forward and one reverse edge that mirror each other.
    by_pair: dict[int, dict[str, dict]] = defaultdict(dict)
    for edge in edges:
        assert edge["direction"] not in by_pair[edge["pair_id"]], (
            f"pair {edge['pair_id']} has two {edge['direction']} edges"
        )
        by_pair[edge["pair_id"]][edge["direction"]] = edge
    assert set(by_pair) == set(pairs), f"pairs without edges: {sorted(set(pairs) - set(by_pair))}"
    for pair_id, both in by_pair.items():
        assert set(both) == {Direction.FORWARD, Direction.REVERSE}, (
            f"pair {pair_id} does not have both a forward and a reverse edge: {sorted(both)}"
        )
        fwd, rev = both[Direction.FORWARD], both[Direction.REVERSE]
        assert fwd["type"] == rev["type"] == pair_types[pair_id], (
            f"pair {pair_id}: edge types {fwd['type']}/{rev['type']} differ from the pair's"
        )
        assert _end(fwd, "provider") == _end(rev, "customer"), f"pair {pair_id}: ends not swapped"
        assert _end(fwd, "customer") == _end(rev, "provider"), f"pair {pair_id}: ends not swapped"
        assert fwd["valid_to"] == rev["valid_to"] == pairs[pair_id], (
            f"pair {pair_id}: valid_to differs between the pair and its edges"
        )
        if fwd["type"] == EdgeType.RANK:
            assert (fwd["rank_kind"], rev["rank_kind"]) == ("task", "condition"), (
                f"pair {pair_id}: a rank pair is a task edge and its condition edge"
            )
        else:
            assert fwd["rank_kind"] == rev["rank_kind"] == "", (
                f"pair {pair_id}: only rank edges have a rank kind"
            )

    active = [e for e in edges if e["valid_to"] is None]
    for edge in active:
        provider, customer = _end(edge, "provider"), _end(edge, "customer")
        assert provider != customer, f"edge {edge['id']} connects {provider} to itself"
        for kind, pk in (provider, customer):
            if kind == "employee":
                assert employees[pk]["active"], f"active edge {edge['id']} touches a leaver {pk}"
            else:
                assert departments[pk], f"active edge {edge['id']} touches inactive dept {pk}"

    keys = Counter(
        (e["type"], e["rank_kind"], _end(e, "provider"), _end(e, "customer")) for e in active
    )
    duplicates = [key for key, n in keys.items() if n > 1]
    assert not duplicates, f"more than one active edge for {duplicates}"

    # Rank edges are exactly the reporting line of active people.
    wanted_rank = {
        (pk, row["manager_id"])
        for pk, row in employees.items()
        if row["active"] and row["manager_id"] and employees[row["manager_id"]]["active"]
    }
    rank_forward = [
        (e["provider_employee_id"], e["customer_employee_id"])
        for e in active
        if e["type"] == EdgeType.RANK and e["direction"] == Direction.FORWARD
    ]
    assert len(rank_forward) == len(set(rank_forward)), "a subordinate has two rank pairs"
    missing, extra = wanted_rank - set(rank_forward), set(rank_forward) - wanted_rank
    assert not missing and not extra, (
        f"rank edges do not match the reporting line: missing {sorted(missing)}, "
        f"extra {sorted(extra)}"
    )

    # Process edges: consecutive steps of active workflows are linked (either direction) by
    # exactly one pair, and every pair made from a workflow links such steps. Process pairs
    # without a workflow are set by HR and may also stand for a step pair.
    wanted_process = {
        frozenset({(p.kind, p.id), (c.kind, c.id)}) for p, c in process_edges_wanted()
    }
    process_pairs = {}
    for e in active:
        if e["type"] == EdgeType.PROCESS and e["direction"] == Direction.FORWARD:
            ends = frozenset({_end(e, "provider"), _end(e, "customer")})
            assert ends not in process_pairs, f"two process pairs link {sorted(ends)}"
            process_pairs[ends] = pair_workflows[e["pair_id"]]
    missing = wanted_process - set(process_pairs)
    extra = {k for k, workflow in process_pairs.items() if workflow is not None} - wanted_process
    assert not missing and not extra, (
        f"process edges do not match workflow steps: missing "
        f"{[sorted(k) for k in missing]}, extra {[sorted(k) for k in extra]}"
    )
    return len(edges)
