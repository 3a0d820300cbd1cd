"""A fair load for every rater: which requests a person over the cycle's cap is sent.

A result figure counts the answers of one group, the provider department and the relationship
type (rank split into task and condition, `RollupKind`), and is shown only with at least
ICR_MIN_RATERS of them. When a cap on requests per person binds, dropping requests at random
leaves many groups just below that minimum. `choose` keeps, within every person's cap, the
requests that let as many groups as possible reach it, then fills what room is left with the
groups that have the fewest requests (a margin against those who will not answer).

Pure: the caller reads the candidates (set-based) and deletes or counts what is not kept.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from relations.models import EdgeType

Group = tuple  # (provider department id, rollup kind)


def group_of(provider_department_id, edge_type: str, rank_kind: str) -> Group:
    """The rollup group a request counts in (`reviews.close.statements.kind_sql`)."""
    kind = f"rank_{rank_kind}" if edge_type == EdgeType.RANK else edge_type
    return (provider_department_id, kind)


@dataclass(frozen=True)
class Candidate:
    """A request the cap may drop: `key` names it (a request id, or a preview's edge id)."""

    key: Hashable
    rater: int
    group: Group


def choose(
    candidates: Iterable[Candidate],
    *,
    cap: int,
    minimum: int,
    fixed: Mapping[Group, int],
    used: Mapping[int, int] | None = None,
) -> set[Hashable]:
    """The keys of the candidates to keep.

    `fixed`: requests per group that stay whatever happens (people within the cap, requests
    sent earlier); `used`: requests a candidate's rater already has that count against the cap.

    Greedy: the groups that still need requests and can get them are completed cheapest first
    (fewest missing, then most candidates); each takes its missing requests from the raters
    with the most room left, a rater with fewer candidates first (their room is the least
    contested). A group that cannot be completed takes nothing in that pass. Then every rater's
    remaining room is filled, the groups with the fewest requests first.
    """
    used = used or {}
    candidates = list(candidates)
    by_group: dict[Group, list[Candidate]] = defaultdict(list)
    by_rater: dict[int, list[Candidate]] = defaultdict(list)
    for c in candidates:
        by_group[c.group].append(c)
        by_rater[c.rater].append(c)
    room = {r: max(cap - used.get(r, 0), 0) for r in by_rater}
    count = Counter(fixed)
    kept: set[Hashable] = set()

    def missing(group: Group) -> int:
        return max(minimum - count[group], 0)

    order = sorted(
        (g for g in by_group if 0 < missing(g) <= len(by_group[g])),
        key=lambda g: (missing(g), -len(by_group[g]), str(g)),
    )
    for group in order:
        need = missing(group)
        if not need:
            continue
        ranked = sorted(
            (c for c in by_group[group] if c.key not in kept and room[c.rater] > 0),
            key=lambda c: (-room[c.rater], len(by_rater[c.rater]), c.rater, str(c.key)),
        )
        taken: list[Candidate] = []
        spent: Counter[int] = Counter()
        for c in ranked:
            if spent[c.rater] < room[c.rater]:
                taken.append(c)
                spent[c.rater] += 1
                if len(taken) == need:
                    break
        if len(taken) < need:
            continue  # cannot be completed: its requests go to groups that can
        for c in taken:
            kept.add(c.key)
            room[c.rater] -= 1
        count[group] += len(taken)

    for rater, own in sorted(by_rater.items()):
        left = [c for c in own if c.key not in kept]
        while room[rater] > 0 and left:
            best = min(left, key=lambda c: (count[c.group], str(c.group), str(c.key)))
            left.remove(best)
            kept.add(best.key)
            count[best.group] += 1
            room[rater] -= 1
    return kept


def groups_reaching(counts: Mapping[Group, int], minimum: int) -> int:
    return sum(1 for n in counts.values() if n >= minimum)
