"""What a closed cycle publishes, and which published figures it hides. Pure Python.

Rows are tuples of `ROW_FIELDS`: (id, scope, department, employee, kind, criterion, customer,
raters, (score sum, the counts of each score 1-5)), as the close reads them. The close computes
more rows than it publishes: sums are built from finer rows, but every cross-table published
is one more set of equations an attacker can solve together, and each one costs hidden
figures. So only these shapes are published (pages and exports read nothing else):

- a department alone and a department with its sub-departments: all types or one type over
  all criteria, and all types for one criterion;
- a person: all types or one type over all criteria (one rated through a single type: that
  type's row is their overall figure, flagged `only_type`, with the overall's flag);
- a department alone per customer department: all types but rank, all criteria (the matrix
  and the reciprocity gaps: departments serving departments through function, process and
  workflow relationships; where one type is all there is between the two, that type's row,
  `Rollup.only_type`, is the figure). Rank (a person and their superior) stays out of it: its
  groups are the smallest, and crossed with the people's and types' figures they would be
  pinned.

Every other row is kept hidden (`suppressed`): it exists only to build the published ones.

Primary suppression: a figure of fewer than N raters is hidden. Secondary suppression: the
published figures are tied by equations (a total and the parts it adds up from):

- a figure over all types = its per-type figures (raters add up);
- a department alone over all customers = its per-customer figures + its rank types (raters
  add up);
- a department's figure for one type = its per-customer figures where that type is the only
  one towards the customer + what is left (its share of customers served through several);
- a figure over all criteria = its per-criterion figures (scores add up, raters overlap);
- a department with its sub-departments = the department alone + each child with its own
  (a child without sub-departments: its department-alone row);
- a department alone, one type (or one criterion) = its people's figures + what is left
  (answers about the department itself, about people without a figure of their own and, for
  a criterion, the rank task ratings), which is never published.

An integer program (HiGHS through `scipy.optimize.milp`) picks the hidden set with the least
weight, each figure weighing ten plus its raters (fewer hidden figures first, then fewer
hidden raters) and a headline (a department's figure over all types, criteria and customers)
a hundred times more, so headlines are the last thing hidden, under these constraints for
each equation with members total t, parts p and leftover rest:

1. a hidden part is never the only unknown: another part, the total, or a leftover of at
   least one rater is unknown with it;
2. the other unknowns of a hidden part of fewer than N raters hold, with it, at least N + 1
   raters, so subtraction gives it only mixed into a group that still holds N raters to one
   of them who knows their own answer (a hidden total counts as N: nothing comes out of it);
3. a hidden total is not the sum of shown parts: a part or a leftover is unknown;
4. a leftover of fewer than N raters (never published) is not the total minus shown parts:
   with the unknowns that join it, it holds N raters.

Raters here are anonymous raters: a superior's ratings of their reports (rank task), which
the report and HR may read named, are no cover, and a figure holding fewer than N anonymous
raters is hidden like one of fewer than N raters.

Score distributions: score counts add up along the same equations, so a second pass with D
(`distribution_min_raters`) in place of N, starting from the hidden figures and those of
fewer than D anonymous raters, decides which shown figures print their distribution. A figure
whose shown parts leave fewer than D raters in hidden ones starts unprinted too: its
distribution, less what the shown parts' sums allow, is theirs.

Those constraints are the pairwise rule: necessary, not sufficient, against an attacker who
solves all published figures together. Equations chain (a subtree minus its department alone
is the children's subtrees; a hidden child subtree minus its shown grandchild is the child
alone), so after the pairwise rules hold, a linear program per small hidden figure finds the
known sum of hidden figures and leftovers that holds it with the fewest raters
(`_audit_chains`). Under N + 1, one of the shown figures that sum is made of must be hidden
too: the cut is added and the chain's part of the pattern is chosen again from its primary
suppression, until no chain gives anything away. Raters are not all: five raters whose
scores add up to 7 all scored low, and each of them is known to within a point or two. So the
same program also finds, through every equation (scores add up in all of them, also where
raters overlap: a type's figure is the sum of its own criteria), the known sum holding the
figure that lies closest to its floor (every score a 1) or ceiling (every score a 5); closer
than `SCORE_ROOM` points, it is cut the same way. Inside a distribution that may be printed,
its least and most scores are the floor and ceiling, and a sum of whole figures is held
against the least and the most that as many of its scores add up to. `tests/disclosure`
runs an attacker (an integer program over everything a role sees, with the printed rounding
and bounds) on the demo company and on random companies.

Only the equations that ask anything are solved (`Suppression._settle_flags`), component by
component. A component whose solve fails falls back to a greedy
repair of the same constraints, which is never less safe, only hides more.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_array, hstack, identity

SELF, TREE, PERSON = "self", "tree", "person"
ALL_TYPES, RANK_TASK = "", "rank_task"
RANK_KINDS = (RANK_TASK, "rank_condition")
# A headline weighs this many times its raters: hidden only when nothing else protects.
HEADLINE_WEIGHT = 100
# What hiding a figure costs besides its raters: fewer hidden figures first, then fewer
# hidden raters (a reader misses a figure, whatever its size).
FIGURE_WEIGHT = 10
# Seconds HiGHS may spend on one batch of components before the greedy repair takes over.
SOLVE_SECONDS = 10.0
# Equations per call of the solver: independent components are solved in batches.
BATCH_EQUATIONS = 5000
# Times the pattern is chosen again with the chains' cuts before they are only added to it.
AUDIT_ROUNDS = 10
# Equations reaching the solver up to which every component is chosen again whole from its
# primary suppression as it grows (`Suppression._settle_pairwise`); above, only those a chain
# runs through.
CHOSEN_AGAIN_EQUATIONS = 5000
# Small hidden figures up to which each chain is audited by its own linear program; above,
# by expanding hidden totals (`Suppression._audit_expansions`).
AUDIT_PROGRAMS = 2000
# Equations one chain audit follows from a small hidden figure (breadth first): the chains
# the attacker found run through two or three.
CHAIN_EQUATIONS = 40
# Points a known sum of scores holding a small hidden figure must lie above its floor (every
# score a 1) and below its ceiling (every score a 5): with less, each of its raters is known
# to within a point or two, and the printed rounding and distributions take the rest.
SCORE_ROOM = 3

ROW_FIELDS = (
    "id",
    "scope",
    "department_id",
    "employee_id",
    "kind",
    "criterion_id",
    "customer_department_id",
    "raters",
)
# A row's ninth field holds these, as one tuple (the score audit reads them; the rest of the
# suppression unpacks rows in its loops, which a field each would slow down at 100,000
# people): the sum of its scores and how many of them are a 1 ... a 5.
SCORE_FIELDS = ("score_sum", "n1", "n2", "n3", "n4", "n5")


@contextmanager
def collector_paused():
    """Python's cyclic garbage collector paused: for work that allocates millions of small
    objects (rows, constraints, tuples) and builds no cycles, where the collections it set
    off walked every live object of the close again and again."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def fold_scores(read: list[tuple]) -> list[tuple]:
    """Rows read as `ROW_FIELDS`, `SCORE_FIELDS` (then anything more) as the suppression's
    rows: the score fields folded into one tuple. Folded here rather than read as one array,
    which the database driver parses three times slower (make bench)."""
    first, last = len(ROW_FIELDS), len(ROW_FIELDS) + len(SCORE_FIELDS)
    return [(*row[:first], row[first:last], *row[last:]) for row in read]


def near_the_ends_of_a_distribution(total: int, scores: int, counts: tuple) -> bool:
    """Whether `scores` scores adding up to `total`, taken from a distribution (`counts` of
    1 ... 5), lie within SCORE_ROOM of the least or the most that as many of its scores can
    add up to. Seed 204: eleven raters printed as three 2s, five 3s, a 4 and two 5s, five of
    them known to add up to 20 (so 5, 5, 4, 3, 3), and the other six to 15, the least six of
    them can make: each of those is a 2 or a 3."""
    given = [score for score, count in enumerate(counts, 1) for _ in range(count)]
    if not 0 < scores <= len(given):
        return False
    least, most = sum(given[:scores]), sum(given[-scores:])
    return total - least < SCORE_ROOM or most - total < SCORE_ROOM


def order_key(row: tuple) -> tuple:
    """The order rows go through suppression, the same on both databases: by department,
    scope, type, person, criterion and customer, a missing id first (ids are positive)."""
    return (row[2], row[1], row[4], row[3] or 0, row[5] or 0, row[6] or 0)


def is_published(scope: str, kind: str, criterion, customer, only_type: bool) -> bool:
    """Whether a row of this shape is shown on any page or export (module docstring)."""
    if scope == PERSON and kind == RANK_TASK:
        return False  # a superior's rating of one report: shown named only, in no sum
    if customer is not None:
        return scope == SELF and criterion is None and (kind == ALL_TYPES or only_type)
    if scope == PERSON:
        # A person's only type is their overall figure: published as that one figure.
        return criterion is None and not only_type
    return criterion is None or kind == ALL_TYPES


@dataclass(frozen=True)
class Equation:
    """total = parts (+ rest, never published); `disjoint`: raters add up."""

    total: int
    parts: tuple[int, ...]
    rest: int
    disjoint: bool


class Suppression:
    """The flags of one cycle's rows: add them (in any number of parts), then `settle`."""

    def __init__(
        self,
        min_raters: int,
        children: dict[int, list[int]] | None = None,
        distribution_min_raters: int | None = None,
    ):
        self.min_raters = min_raters
        self.distribution_min_raters = distribution_min_raters
        # Per row, whether its score distribution is left unprinted (`settle`).
        self.distribution_hidden: list[bool] = []
        self.children = children or {}
        self.rows: list[tuple] = []
        # Positions of the rows that are also their department's all-types figure for their
        # customer (`Rollup.only_type`), found by `settle`.
        self.only_type: list[int] = []
        # Positions hidden to protect another figure (not for their own size).
        self.protecting: list[int] = []
        self.published: list[bool] = []
        self.equations: list[Equation] = []
        # Per n, each equation's constraints once built (`_constraints`).
        self._constraint_cache: dict[int, dict[int, ConstraintArrays]] = {}
        self._row_weights: np.ndarray | None = None
        # Per row, its anonymous raters: all but a superior's ratings of their reports.
        self.anonymous: list[int] = []

    def add(self, rows: list[tuple]) -> None:
        self.rows.extend(rows)

    # -- the rows' shapes ---------------------------------------------------------------

    def _find_only_type(self) -> set[int]:
        """The rows that are their department's figure for a customer over all types: rank
        is left out of those, so where one other type is all there is, its row."""
        kinds: dict[tuple, list[int]] = defaultdict(list)
        for i, (_id, scope, dept, _emp, kind, crit, cust, _r, _scores) in enumerate(self.rows):
            if scope == SELF and cust is not None and kind not in RANK_KINDS:
                kinds[(dept, crit, cust)].append(i)
        only = set()
        for positions in kinds.values():
            if len(positions) == 1 and self.rows[positions[0]][4] != ALL_TYPES:
                only.add(positions[0])
        return only

    def _find_single_type_people(self) -> dict[int, int]:
        """People with a figure for one type only (rank task aside): that row is their overall
        figure too. Returns {the type's row: the overall row}."""
        kinds: dict[tuple, list[int]] = defaultdict(list)
        overall: dict[tuple, int] = {}
        for i, (_id, scope, dept, emp, kind, crit, _cust, _r, _scores) in enumerate(self.rows):
            if scope != PERSON or crit is not None or kind == RANK_TASK:
                continue
            if kind == ALL_TYPES:
                overall[(dept, emp)] = i
            else:
                kinds[(dept, emp)].append(i)
        return {
            positions[0]: overall[person]
            for person, positions in kinds.items()
            if len(positions) == 1 and person in overall
        }

    def _anonymous_raters(self) -> list[int]:
        """Each row's raters but the superiors rating their reports (`rank_task`): those of
        its department's (or subtree's) rank task row for the same criterion. A figure over
        all types holds them; per customer, rank is left out; a person's leave them out."""
        task: dict[tuple, int] = {}
        for _id, scope, dept, emp, kind, crit, cust, r, _scores in self.rows:
            if kind == RANK_TASK and emp is None and cust is None and scope in (SELF, TREE):
                task[(scope, dept, crit)] = r
        out = []
        for _id, scope, dept, _emp, kind, crit, cust, r, _scores in self.rows:
            if kind == RANK_TASK:
                named = r
            elif kind == ALL_TYPES and cust is None and scope in (SELF, TREE):
                named = task.get((scope, dept, crit), 0)
            else:
                named = 0
            out.append(r - named)
        return out

    def _build_equations(self, only_type: set[int], single_type: dict[int, int]) -> None:
        rows = self.rows
        index: dict[tuple, int] = {}
        for i, (_id, scope, dept, emp, kind, crit, cust, _r, _scores) in enumerate(rows):
            if not self.published[i]:
                continue
            if i in only_type:
                kind = ALL_TYPES
            index[(scope, dept, emp, kind, crit, cust)] = i
        raters = self.anonymous
        equations = self.equations

        def add(total: int | None, parts: list[int], *, disjoint: bool) -> None:
            if total is None or not parts:
                return
            rest = raters[total] - sum(raters[p] for p in parts) if disjoint else 0
            equations.append(Equation(total, tuple(parts), max(rest, 0), disjoint))

        # Totals and their parts within one scope and owner.
        by_owner: dict[tuple, dict[tuple, int]] = defaultdict(dict)
        for (scope, dept, emp, kind, crit, cust), i in index.items():
            by_owner[(scope, dept, emp)][(kind, crit, cust)] = i
        for cells in by_owner.values():
            total = cells.get((ALL_TYPES, None, None))
            kinds = [i for (k, c, u), i in cells.items() if k != ALL_TYPES and c is None]
            criteria = [i for (k, c, u), i in cells.items() if k == ALL_TYPES and c is not None]
            # Per customer, rank is left out: with the rank types they add up to the total.
            customers = [i for (k, c, u), i in cells.items() if u is not None]
            ranks = [i for (k, c, u), i in cells.items() if k in RANK_KINDS and c is None]
            add(total, kinds, disjoint=True)
            add(total, criteria, disjoint=False)
            if customers:
                add(total, customers + ranks, disjoint=True)
        # A type whose criteria no other type scores (a rank direction's own criteria, or
        # criteria aimed at some types): each such criterion's all-types figure is that type's,
        # so the type's figure = those criteria's figures (scores add up, raters overlap).
        # Which types score which criterion: from the rows per type and criterion, computed
        # but never published.
        scored_by: dict[tuple, set[str]] = defaultdict(set)
        for _id, scope, dept, emp, kind, crit, cust, _r, _scores in rows:
            if kind != ALL_TYPES and crit is not None and cust is None:
                scored_by[(scope, dept, emp, crit)].add(kind)
        own_criteria: dict[tuple, list[tuple]] = defaultdict(list)
        for (scope, dept, emp, crit), kinds in scored_by.items():
            for kind in kinds:
                own_criteria[(scope, dept, emp, kind)].append((crit, len(kinds) == 1))
        for (scope, dept, emp, kind), criteria in own_criteria.items():
            if not all(alone for _crit, alone in criteria):
                continue  # a criterion shared with another type: no equation in shown rows
            parts = [index.get((scope, dept, emp, ALL_TYPES, crit, None)) for crit, _ in criteria]
            if None not in parts:
                add(index.get((scope, dept, emp, kind, None, None)), parts, disjoint=False)
        # A type's figure = its customers' figures where it is the only type between the two
        # departments (`only_type`) + its other customers' share, never published.
        only_by_kind: dict[tuple, list[int]] = defaultdict(list)
        for i in sorted(only_type):
            _id, scope, dept, _emp, kind, crit, _cust, _r, _scores = rows[i]
            if crit is None and self.published[i]:
                only_by_kind[(dept, kind)].append(i)
        for (dept, kind), parts in only_by_kind.items():
            add(index.get((SELF, dept, None, kind, None, None)), parts, disjoint=True)
        # A department with its subtree = itself alone + each child with its own.
        for (scope, dept, _emp, kind, crit, _cust), total in index.items():
            if scope != TREE:
                continue
            parts = []
            own = index.get((SELF, dept, None, kind, crit, None))
            if own is not None:
                parts.append(own)
            for child in self.children.get(dept, ()):
                part = index.get((TREE, child, None, kind, crit, None))
                if part is None:
                    part = index.get((SELF, child, None, kind, crit, None))
                if part is not None:
                    parts.append(part)
            add(total, parts, disjoint=True)
        # A department alone = its people's figures + what is left, per type and criterion.
        people: dict[tuple, list[int]] = defaultdict(list)
        for (scope, dept, _emp, kind, crit, _cust), i in index.items():
            if scope == PERSON and (kind != ALL_TYPES or crit is not None):
                people[(dept, kind, crit)].append(i)
        for kind_row, overall in single_type.items():  # their overall is the type's figure
            _id, _scope, dept, _emp, kind, _crit, _cust, _r, _scores = rows[kind_row]
            people[(dept, kind, None)].append(overall)
        for (dept, kind, crit), parts in people.items():
            add(index.get((SELF, dept, None, kind, crit, None)), parts, disjoint=True)

    # -- solving --------------------------------------------------------------------------

    def settle(self, figures_settled: Callable[[list[bool]], None] | None = None) -> list[bool]:
        """The hidden flag of every row added, in the order added.

        `figures_settled(hidden)`, if given, is called once the figures' flags (and
        `only_type`) are final, before the distributions are settled.

        The cyclic garbage collector is paused meanwhile (`collector_paused`)."""
        with collector_paused():
            return self._settle(figures_settled)

    def _settle(self, figures_settled) -> list[bool]:
        rows, n = self.rows, self.min_raters
        only_type = self._find_only_type()
        single_type = self._find_single_type_people()
        self.only_type = sorted(only_type | set(single_type))
        self.published = [
            is_published(scope, kind, crit, cust, i in only_type or i in single_type)
            for i, (_id, scope, _d, _e, kind, crit, cust, _r, _scores) in enumerate(rows)
        ]
        self.anonymous = self._anonymous_raters()
        self.equations = []
        self._constraint_cache = {}
        self._row_weights = None
        self._build_equations(only_type, single_type)
        raters = [row[7] for row in rows]
        # A superior's rating of one report exists only where HR chose to show it to the
        # report, named, like a manager's review: in no sum, so never hidden.
        named = [row[1] == PERSON and row[4] == RANK_TASK for row in rows]
        # A figure of N raters, some of them superiors rating their reports (whose ratings
        # the report and HR may read, named), holds fewer than N anonymous ones: hidden too.
        hidden = [
            not by_name and (not shown or r < n or 0 < anonymous < n)
            for shown, by_name, r, anonymous in zip(
                self.published, named, raters, self.anonymous, strict=True
            )
        ]
        primary = list(hidden)
        self._settle_flags(hidden, self.anonymous, n, by_score=True)
        for kind_row, overall in single_type.items():
            hidden[kind_row] = primary[kind_row] = hidden[overall]  # the same figure
        self.protecting = [
            i for i, (h, p) in enumerate(zip(hidden, primary, strict=True)) if h and not p
        ]
        if figures_settled is not None:
            figures_settled(hidden)
        self.distribution_hidden = self._settle_distributions(hidden, single_type)
        return hidden

    def _settle_distributions(self, hidden: list[bool], single_type: dict[int, int]) -> list[bool]:
        """Which shown figures leave their score distribution unprinted: those of fewer than D
        anonymous raters, and the complement that keeps them from being the difference of
        printed ones. Score counts add up along the same equations as raters (a department
        with its sub-departments minus one child's is the rest's distribution), so the same
        rules hold with D in place of N. Without D (None), every distribution is printed."""
        d = self.distribution_min_raters
        if d is None:
            return list(hidden)
        unknown = self._raters_of_unknown_sums(hidden)
        unprinted = [
            h or anonymous < d or 0 < unknown[i] < d
            for i, (h, anonymous) in enumerate(zip(hidden, self.anonymous, strict=True))
        ]
        self._settle_flags(unprinted, self.anonymous, d)
        for kind_row, overall in single_type.items():
            unprinted[kind_row] = unprinted[overall]
        return unprinted

    def _raters_of_unknown_sums(self, hidden: list[bool]) -> list[int]:
        """Per shown figure, the fewest anonymous raters whose scores lie in no shown figure,
        over the ways its equations split it into disjoint parts (a hidden part split further,
        down to what is never published).

        A printed distribution is the multiset of its figure's scores; the shown parts' sums
        say how it divides among them, and the rest falls to the raters in hidden parts. Where
        those are fewer than D, the multiset left to them is all but theirs alone: a company of
        a dozen people whose subtree distribution for a criterion (eleven raters) held two
        shown figures of three and four raters and two hidden ones of two gave each of the
        hidden raters' score away to within a point, through the other criteria's figures.
        None in hidden parts (every part shown) leaves each shown part its own result."""
        equations_of: dict[int, list[Equation]] = defaultdict(list)
        for eq in self.equations:
            if eq.disjoint:
                equations_of[eq.total].append(eq)
        anonymous = self.anonymous
        in_hidden_part: dict[int, int] = {}  # per hidden row, once found

        def of_split(eq: Equation) -> int:
            return eq.rest + sum(of_hidden(p) for p in eq.parts if hidden[p])

        def of_hidden(i: int) -> int:
            if i not in in_hidden_part:
                # Set before the parts are followed: a row met again below itself (one figure
                # under two names) counts whole there.
                in_hidden_part[i] = anonymous[i]
                in_hidden_part[i] = min([anonymous[i], *map(of_split, equations_of.get(i, ()))])
            return in_hidden_part[i]

        out = [0] * len(self.rows)
        for i, equations in equations_of.items():
            if not hidden[i]:
                out[i] = min(map(of_split, equations))
        return out

    def _settle_flags(
        self, hidden: list[bool], raters: list[int], n: int, *, by_score: bool = False
    ) -> None:
        """Solve the equations that can ask anything, then those that the rows hidden by that
        pull in, until no hidden row is in an equation left out.

        An equation with no hidden row and no small leftover asks nothing (showing all of its
        rows breaks none of its constraints), so most of a large cycle's equations never reach
        the solver, and those that do split into small components (rows shared by the same
        equations) instead of one that the department tree ties together.
        """
        equations = self.equations
        touching: dict[int, list[int]] = defaultdict(list)
        for k, eq in enumerate(equations):
            touching[eq.total].append(k)
            for p in eq.parts:
                touching[p].append(k)

        def asks(k: int) -> bool:
            # An equation whose rows are all hidden already holds every constraint.
            eq = equations[k]
            members = (eq.total, *eq.parts)
            hidden_members = sum(hidden[i] for i in members)
            return hidden_members < len(members) and (0 < eq.rest < n or hidden_members > 0)

        fresh = {k for k in range(len(equations)) if asks(k)}
        active = ActiveEquations(equations)
        primary = list(hidden)
        cuts: list[list[int]] = []
        # First each component on top of what it chose before it grew: quick, and it finds the
        # equations the hidden rows pull in. Then, up to CHOSEN_AGAIN_EQUATIONS of them, every
        # component is chosen again whole from its primary suppression, and again as it grows,
        # for the least pattern; above, only those a chain runs through (`_settle_pairwise`).
        self._settle_pairwise(fresh, active, touching, asks, raters, hidden, n)
        again = len(active.keys) <= CHOSEN_AGAIN_EQUATIONS
        fresh = set(active.keys) if again else set()
        for _round in range(AUDIT_ROUNDS):
            self._settle_pairwise(
                fresh, active, touching, asks, raters, hidden, n, primary, cuts, grown=again
            )
            # The pairwise rules take one equation at a time; chains of them are audited.
            found = self._audit_chains(hidden, raters, n, by_score=by_score)
            if not found:
                return
            cuts += found
            # The components the chains run through are chosen again with every cut so far.
            fresh = {k for cut in found for i in cut for k in touching[i] if k in active}
        # Rounds run out (never seen): what is left is hidden on top of the pattern.
        while True:
            found = self._audit_chains(hidden, raters, n, by_score=by_score)
            if not found:
                return
            newly = []
            for cut in found:
                ks = sorted({k for i in cut for k in touching[i] if k in active})
                newly += self._solve(ks, raters, hidden, n, cuts=[cut])
            fresh = {k for i in newly for k in touching[i] if k not in active and asks(k)}
            self._settle_pairwise(fresh, active, touching, asks, raters, hidden, n)

    def _settle_pairwise(
        self, fresh, active, touching, asks, raters, hidden, n, primary=None, cuts=(), grown=True
    ) -> None:
        """Solve the components holding the fresh equations until no hidden row is left out
        of one.

        With `primary`, each component is chosen again from its primary suppression (with the
        cuts that touch it), not on top of what it chose before, which never weighed the
        equations its hidden rows then pulled in. While `grown`, so is each component that
        grows; once nothing is pulled in, the equations left out ask nothing, so the pattern is
        the least for all of them (on top hid 43 figures of N raters or more in the demo's
        third cycle, chosen again 24). Otherwise growth is solved on top.
        """
        equations = self.equations
        while fresh:
            active.add(fresh)
            newly: list[int] = []
            # Components solved together, a batch per call: each call costs milliseconds
            # besides the solve, and thousands of components are a few rows each.
            batch: list[int] = []
            held: dict[tuple, list[int]] = {}
            for component in active.holding(fresh):
                if primary is not None:
                    rows = {i for k in component for i in (equations[k].total, *equations[k].parts)}
                    for i in rows:
                        hidden[i] = primary[i]
                    held.update((tuple(cut), cut) for cut in cuts if not rows.isdisjoint(cut))
                batch += component
                if len(batch) >= BATCH_EQUATIONS:
                    newly += self._solve(batch, raters, hidden, n, cuts=list(held.values()))
                    batch, held = [], {}
            if batch:
                newly += self._solve(batch, raters, hidden, n, cuts=list(held.values()))
            fresh = {k for row in newly for k in touching[row] if k not in active and asks(k)}
            if not grown:
                primary = None

    def _audit_chains(
        self, hidden: list[bool], raters: list[int], n: int, *, by_score: bool = False
    ) -> list[list[int]]:
        """Where a chain of equations gives a small hidden figure away, the shown figures one of
        which must be hidden too (a cut).

        The pairwise rules look at one equation at a time, but the equations chain: a
        department with its sub-departments minus the department alone is its children's
        subtrees, and a hidden child subtree minus its shown grandchild is the child alone, so
        two hidden one-rater departments come out as one known sum. Here the sums of hidden
        figures and leftovers that combinations of the equations within reach of a small hidden
        figure (`CHAIN_EQUATIONS`, breadth first through hidden rows) make known are searched
        by a linear program: the fewest raters (a figure of N or more counting as N) of a known
        sum, with non-negative weights, that holds the figure. Under
        N + 1 (the rater who knows their own answer still faces N others), one of the shown
        figures that the combination uses must be hidden, and the rules are solved again.

        `by_score` (the figures, not the distributions): a known sum of enough raters still
        gives each of them away when it lies near the bottom or the top of the scale (five
        raters, one of them the small figure, whose scores add up to 7: nobody gave more than
        a 3, and a printed distribution without 3s leaves 1 or 2). So the least room any known
        sum holding the figure leaves above its floor (every score a 1) and below its ceiling
        (every score a 5) is searched too, and under `SCORE_ROOM` points it is cut the same way.
        """
        # The equations that can chain, linked by a hidden row: for raters, those whose rater
        # counts add up; for scores, all (score sums add up in every one).
        by_raters = self._linked_by_hidden_rows(hidden, only_disjoint=True)
        small = [h for h in sorted(by_raters) if 0 < raters[h] < n]
        if len(small) > AUDIT_PROGRAMS:
            return self._audit_expansions(hidden, raters, n)
        by_scores, score_measures = by_raters, []
        if by_score:
            by_scores = self._linked_by_hidden_rows(hidden, only_disjoint=False)
            small = [h for h in sorted(by_scores) if 0 < raters[h] < n]
            score_measures = self._score_room_measures(hidden)
        cuts: list[list[int]] = []
        cut_rows: set[int] = set()
        rater_measure = self._rater_measure(raters, n)
        for h in small:
            uses: list[int] = []
            chain = self._chain_of(h, by_raters, hidden)
            if len(chain) >= 2:  # one equation: the pairwise rules are exact
                uses = self._chain_leak(h, chain, hidden, rater_measure)
            if not uses and by_score:
                chain = self._chain_of(h, by_scores, hidden)
                for measure in score_measures:
                    if measure.asks is None or measure.asks(h):
                        uses = self._chain_leak(h, chain, hidden, measure)
                        if uses:
                            break
            if uses and cut_rows.isdisjoint(uses):
                cuts.append(uses)
                cut_rows.update(uses)
        return cuts

    def _audit_expansions(self, hidden: list[bool], raters: list[int], n: int) -> list[list[int]]:
        """The chains through hidden totals, without a program, for cycles with more small
        hidden figures than `AUDIT_PROGRAMS` (one program each would take minutes).

        A hidden part of one equation that is the total of another (a child's subtree inside
        its parent's) can be replaced there by that equation's parts: its shown parts are
        known, so as cover it is worth only its hidden parts and leftover, each again worth
        at most its own expansion. Each equation with a shown total checks the pairwise rule
        for its small hidden parts with those worths; where it breaks, one of the shown rows
        the expansion subtracts (or the total) must be hidden too (a cut). This finds the
        chains the attacker found (a subtree minus its department alone minus a shown
        grandchild); chains that cancel parts across equations are left to the programs.
        """
        equations = self.equations
        splitting: dict[int, list[int]] = defaultdict(list)  # hidden row: equations it totals
        for k, eq in enumerate(equations):
            if eq.disjoint and hidden[eq.total]:
                splitting[eq.total].append(k)
        worth: dict[int, tuple[int, tuple[int, ...]]] = {}

        def cover(q: int, depth: int = 0) -> tuple[int, tuple[int, ...]]:
            """What hidden row q is worth as cover (a figure of N or more: N), and the shown
            rows its cheapest expansion subtracts."""
            if q in worth:
                return worth[q]
            best: tuple[int, tuple[int, ...]] = (min(raters[q], n), ())
            if depth < len(equations):
                for k in splitting.get(q, ()):
                    eq = equations[k]
                    value, shown = min(eq.rest, n), []
                    for p in eq.parts:
                        if hidden[p]:
                            part_value, part_shown = cover(p, depth + 1)
                            value += part_value
                            shown += part_shown
                        else:
                            shown.append(p)
                    if value < best[0]:
                        best = (value, tuple(shown))
            worth[q] = best
            return best

        cuts: list[list[int]] = []
        cut_rows: set[int] = set()
        for eq in equations:
            if not eq.disjoint or hidden[eq.total]:
                continue  # a hidden total gives nothing away (pairwise rule 2)
            unknown = [p for p in eq.parts if hidden[p]]
            if not any(0 < raters[p] < n for p in unknown):
                continue
            covers = {p: cover(p) for p in unknown}
            for h in unknown:
                if not 0 < raters[h] < n:
                    continue
                others = sum(covers[q][0] for q in unknown if q != h) + min(eq.rest, n)
                if others + raters[h] >= n + 1:
                    continue
                uses = sorted(
                    {eq.total, *(i for q in unknown if q != h for i in covers[q][1])}
                    - {i for i in unknown}
                )
                if cut_rows.isdisjoint(uses):
                    cuts.append(uses)
                    cut_rows.update(uses)
                break
        return cuts

    def _chain_of(self, h: int, linking: dict[int, list[int]], hidden: list[bool]) -> list[int]:
        """The equations a chain from hidden row `h` runs through: those holding it, then those
        sharing a hidden row with them, breadth first, up to CHAIN_EQUATIONS of them."""
        seen = set(linking[h])
        frontier = list(linking[h])
        while frontier and len(seen) < CHAIN_EQUATIONS:
            following = []
            for k in frontier:
                eq = self.equations[k]
                for i in (eq.total, *eq.parts):
                    if not hidden[i]:
                        continue
                    for other in linking[i]:
                        if other not in seen and len(seen) < CHAIN_EQUATIONS:
                            seen.add(other)
                            following.append(other)
            frontier = following
        return sorted(seen)

    def _linked_by_hidden_rows(
        self, hidden: list[bool], *, only_disjoint: bool
    ) -> dict[int, list[int]]:
        """Per hidden row, the equations it is in (`only_disjoint`: those whose raters add
        up)."""
        linked: dict[int, list[int]] = defaultdict(list)
        for k, eq in enumerate(self.equations):
            if eq.disjoint or not only_disjoint:
                for i in (eq.total, *eq.parts):
                    if hidden[i]:
                        linked[i].append(k)
        return linked

    def _rater_measure(self, raters: list[int], n: int) -> ChainMeasure:
        """The raters of a known sum: a figure of N or more counting as N, as in the pairwise
        rules; under N + 1 the small figure in it is given away."""
        equations = self.equations
        return ChainMeasure(lambda i: min(raters[i], n), lambda k: min(equations[k].rest, n), n + 1)

    def _score_room_measures(self, hidden: list[bool]) -> list[ChainMeasure]:
        """The points a known sum lies above its floor, and below its ceiling: each row's
        score sum less the least its scores can add up to, and the most less the sum. A
        leftover's are its total's less its parts'. The least score is a 1 and the most a 5,
        but for the printed distributions (`_score_bounds`)."""
        rows, equations = self.rows, self.equations
        sums = [row[8][0] for row in rows]
        counts = [sum(row[8][1:]) for row in rows]
        low, high, printed_over = self._score_bounds(hidden)

        def rest_of(values: list[int]) -> Callable[[int], int]:
            def rest(k: int) -> int:
                eq = equations[k]
                return values[eq.total] - sum(values[p] for p in eq.parts)

            return rest

        rest_sum, rest_count = rest_of(sums), rest_of(counts)

        def inside_a_distribution(members: dict) -> bool:
            """Whether a known sum of whole figures and leftovers (each once) lies inside a
            distribution that may be printed, near the ends of what as many of its scores
            make (`near_the_ends_of_a_distribution`)."""
            if any(abs(c - 1) > 1e-6 for c in members.values()):
                return False
            total_sum = total_count = 0
            containers: list[int] | None = None
            for what, i in members:
                if what == "row":
                    row, total_sum, total_count = i, total_sum + sums[i], total_count + counts[i]
                else:
                    row = equations[i].total
                    total_sum, total_count = total_sum + rest_sum(i), total_count + rest_count(i)
                over = printed_over.get(row, [])
                containers = over if containers is None else [g for g in containers if g in over]
                if not containers:
                    return False
            return near_the_ends_of_a_distribution(
                total_sum, total_count, rows[containers[0]][8][1:]
            )

        def floor_room(i: int) -> int:
            return sums[i] - low[i] * counts[i]

        def ceiling_room(i: int) -> int:
            return high[i] * counts[i] - sums[i]

        return [
            ChainMeasure(
                room,
                rest,
                SCORE_ROOM,
                beyond=inside_a_distribution,
                # The least of a known sum holding the figure is at least the figure's own
                # room: where that is enough, no sum goes under but inside a distribution.
                asks=lambda h, room=room: room(h) < SCORE_ROOM or h in printed_over,
            )
            for room, rest in (
                (floor_room, lambda k: rest_sum(k) - low[equations[k].total] * rest_count(k)),
                (ceiling_room, lambda k: high[equations[k].total] * rest_count(k) - rest_sum(k)),
            )
        ]

    def _score_bounds(
        self, hidden: list[bool]
    ) -> tuple[list[int], list[int], dict[int, list[int]]]:
        """Per row, the least and the most score any of its raters can have given on its
        criterion, as far as the distributions that may be printed tell: a department with
        its sub-departments whose printed distribution for a criterion has no 1s says that
        nobody below gave a 1 on it. Every shown figure of D anonymous raters or more may
        print its distribution (their pass comes later and prints no more); rows over all
        criteria keep 1 and 5. Also, per row on one criterion, the rows whose distribution
        may be printed and holds its raters, the closest first."""
        rows, d = self.rows, self.distribution_min_raters or 0
        low, high = [1] * len(rows), [5] * len(rows)
        printed_over: dict[int, list[int]] = {}
        printed: dict[tuple, tuple[int, int, int]] = {}
        for i, (_id, scope, dept, _emp, kind, crit, cust, _r, scores) in enumerate(rows):
            if (
                scope == TREE
                and kind == ALL_TYPES
                and crit is not None
                and cust is None
                and not hidden[i]
                and self.anonymous[i] >= d
            ):
                given = [score for score, count in enumerate(scores[1:], 1) if count]
                if given:
                    printed[(dept, crit)] = (given[0], given[-1], i)
        if not printed:
            return low, high, printed_over
        parent = {child: p for p, children in self.children.items() for child in children}
        for i, (_id, scope, dept, _emp, kind, crit, cust, _r, _scores) in enumerate(rows):
            if scope not in (SELF, TREE) or kind != ALL_TYPES or crit is None or cust is not None:
                continue
            above, seen = dept, set()
            while above is not None and above not in seen:  # the department and those above
                seen.add(above)
                bounds = printed.get((above, crit))
                if bounds is not None:
                    low[i], high[i] = max(low[i], bounds[0]), min(high[i], bounds[1])
                    printed_over.setdefault(i, []).append(bounds[2])
                above = parent.get(above)
        return low, high, printed_over

    def _chain_leak(self, h: int, ks: list[int], hidden: list[bool], measure) -> list[int]:
        """The shown rows used by a combination of these equations that gives the small hidden
        figure `h` away (`_audit_chains`): the known sum holding it whose `measure` is least,
        when that is under the measure's limit. Hiding one of them breaks it. Empty when none
        does."""
        equations = self.equations
        # Unknowns: the hidden rows, and each equation's leftover (never published).
        unknowns: dict = {}
        entries: list[tuple[int, int, float]] = []  # (unknown, equation's column, coefficient)
        for column, k in enumerate(ks):
            eq = equations[k]
            if hidden[eq.total]:
                entries.append((unknowns.setdefault(("row", eq.total), len(unknowns)), column, 1))
            for p in eq.parts:
                if hidden[p]:
                    entries.append((unknowns.setdefault(("row", p), len(unknowns)), column, -1))
            if eq.rest > 0:
                entries.append((unknowns.setdefault(("rest", k), len(unknowns)), column, -1))
        m, u = len(ks), len(unknowns)
        weight = np.zeros(u)
        for (what, i), j in unknowns.items():
            weight[j] = measure.room(i) if what == "row" else measure.rest(i)
        # The combination sum_k y_k (total - parts - rest) of the equations over the unknowns,
        # x_j = sum_k y_k a_kj with x >= 0, is a known sum of hidden figures and leftovers.
        # Variables: y (free), then x; x - A y = 0; x_h = 1; the least measure.
        a = coo_array(
            (
                [-c for _j, _k, c in entries],
                ([j for j, _k, _c in entries], [k for _j, k, _c in entries]),
            ),
            shape=(u, m),
        )
        equality = hstack([a, identity(u, format="coo")], format="csr")
        lower = np.concatenate([np.full(m, -np.inf), np.zeros(u)])
        upper = np.full(m + u, np.inf)
        lower[m + unknowns[("row", h)]] = upper[m + unknowns[("row", h)]] = 1.0
        result = linprog(
            np.concatenate([np.zeros(m), weight]),
            A_eq=equality,
            b_eq=np.zeros(u),
            bounds=np.column_stack([lower, upper]),
            method="highs",
        )
        if result.status != 0:
            return []
        if result.fun >= measure.limit - 1e-6:
            members = {
                unknown: result.x[m + j]
                for unknown, j in unknowns.items()
                if result.x[m + j] > 1e-9
            }
            if measure.beyond is None or not measure.beyond(members):
                return []
        used: dict[int, float] = defaultdict(float)
        for column, k in enumerate(ks):
            y = result.x[column]
            if abs(y) < 1e-9:
                continue
            eq = equations[k]
            used[eq.total] += y
            for p in eq.parts:
                used[p] -= y
        return sorted(i for i, c in used.items() if not hidden[i] and abs(c) > 1e-9)

    def _constraints(self, ks: list[int], raters: list[int], n: int) -> list[tuple[dict, float]]:
        """Each constraint as ({row: coefficient}, lower bound): sum >= lower bound, for groups
        of `n` (N for figures, D for distributions)."""
        out: list[tuple[dict, float]] = []
        for k in ks:
            out += self._equation_constraints(k, raters, n)
        return out

    def _constraint_arrays(self, ks: list[int], raters: list[int], n: int) -> ConstraintArrays:
        """The equations' constraints (`_equation_constraints`) as the solver's sparse rows.

        An equation's constraints depend on the raters and n alone, not on what is hidden: a
        component solved again (its equations grow as hidden rows pull others in) reuses them,
        kept as arrays so a solve joins them instead of walking dictionaries."""
        cache = self._constraint_cache.setdefault(n, {})
        parts = []
        for k in ks:
            found = cache.get(k)
            if found is None:
                found = cache[k] = ConstraintArrays.of(self._equation_constraints(k, raters, n))
            parts.append(found)
        return ConstraintArrays.join(parts)

    def _equation_constraints(self, k: int, raters: list[int], n: int) -> list[tuple[dict, float]]:
        out: list[tuple[dict, float]] = []
        eq = self.equations[k]
        members = (eq.total, *eq.parts)
        if eq.rest == 0:
            # 3. a hidden total has a hidden part.
            out.append(({eq.total: -1, **{p: 1 for p in eq.parts}}, 0))
        elif eq.rest < n:
            # 4. a small leftover is not the total minus shown parts: unknowns join it.
            coefficients = {q: (n if q == eq.total else min(raters[q], n)) for q in members}
            out.append((coefficients, n - eq.rest))
        for p in eq.parts:
            others = [q for q in members if q != p]
            if eq.rest == 0:
                # 1. a hidden part is not the only unknown.
                coefficients = {q: 1 for q in others}
                coefficients[p] = coefficients.get(p, 0) - 1
                out.append((coefficients, 0))
            if 0 < raters[p] < n and eq.rest < n:
                # 2. a small part's other unknowns hold N + 1 raters with it (a hidden
                # total counts as N): subtraction gives it only mixed into a group that
                # leaves N others even to a rater who knows their own answer.
                coefficients = {q: (n if q == eq.total else min(raters[q], n)) for q in others}
                coefficients[p] = coefficients.get(p, 0) - (n + 1 - raters[p])
                out.append((coefficients, -eq.rest))
        return out

    def _weight(self, i: int, raters: list[int]) -> float:
        _id, scope, _d, _e, kind, crit, cust, r, _scores = self.rows[i]
        headline = scope in (SELF, TREE) and kind == ALL_TYPES and crit is None and cust is None
        return (FIGURE_WEIGHT + max(r, 1)) * (HEADLINE_WEIGHT if headline else 1)

    def _solve(
        self, ks: list[int], raters: list[int], hidden: list[bool], n: int, cuts=()
    ) -> list[int]:
        """Hide what these equations need, at least cost, and a row of each of `cuts`;
        returns the rows it hid."""
        arrays = ConstraintArrays.join(
            [
                self._constraint_arrays(ks, raters, n),
                ConstraintArrays.of([({i: 1 for i in cut}, 1) for cut in cuts]),
            ]
        )
        if not len(arrays.lower):
            return []
        # The rows in these constraints, in order, and each entry's column among them.
        variables, columns = np.unique(arrays.rows, return_inverse=True)
        matrix = coo_array(
            (arrays.data, (arrays.constraint, columns)),
            shape=(len(arrays.lower), len(variables)),
        ).tocsr()
        listed = variables.tolist()
        was_hidden = np.array([hidden[i] for i in listed], dtype=bool)
        result = milp(
            self._weights(raters)[variables],
            constraints=LinearConstraint(matrix, arrays.lower, np.inf),
            integrality=np.ones(len(variables)),
            bounds=Bounds(was_hidden.astype(float), np.ones(len(variables))),
            options={"time_limit": SOLVE_SECONDS, "presolve": True},
        )
        if (
            result.x is not None
            and result.status in (0, 1)
            and _satisfied(matrix, arrays.lower, result.x > 0.5)
        ):
            newly = variables[(result.x > 0.5) & ~was_hidden].tolist()
            for i in newly:
                hidden[i] = True
            return newly
        constraints = self._constraints(ks, raters, n)
        constraints += [({i: 1 for i in cut}, 1) for cut in cuts]
        _greedy_repair(constraints, hidden, weights_of=lambda i: self._weight(i, raters))
        return [i for i, was in zip(listed, was_hidden, strict=True) if hidden[i] and not was]

    def _weights(self, raters: list[int]) -> np.ndarray:
        """`_weight` of every row, once per settle."""
        if self._row_weights is None:
            self._row_weights = np.array(
                [self._weight(i, raters) for i in range(len(self.rows))], dtype=float
            )
        return self._row_weights


class ChainMeasure(NamedTuple):
    """What a known sum of hidden figures and leftovers is worth to the chain audit: each
    hidden row's share (`room`), each equation's leftover's (`rest`), and the least a known
    sum holding a small figure must reach."""

    room: Callable[[int], float]
    rest: Callable[[int], float]
    limit: float
    # Whether the least known sum, given its members {("row", row) or ("rest", equation):
    # coefficient}, gives the figure away besides being under the limit.
    beyond: Callable[[dict], bool] | None = None
    # Whether a known sum holding small figure h can give it away at all (None: always).
    asks: Callable[[int], bool] | None = None


class ConstraintArrays(NamedTuple):
    """Constraints (sum of coefficient × hidden row >= lower) as a sparse matrix's entries:
    per entry its constraint, row and coefficient; per constraint its lower bound."""

    constraint: np.ndarray
    rows: np.ndarray
    data: np.ndarray
    lower: np.ndarray

    @classmethod
    def of(cls, constraints: list[tuple[dict, float]]) -> ConstraintArrays:
        sizes = [len(coefficients) for coefficients, _lb in constraints]
        return cls(
            np.repeat(np.arange(len(constraints)), sizes),
            np.fromiter((i for c, _lb in constraints for i in c), dtype=np.int64),
            np.fromiter((a for c, _lb in constraints for a in c.values()), dtype=float),
            np.array([lb for _c, lb in constraints], dtype=float),
        )

    @classmethod
    def join(cls, parts: list[ConstraintArrays]) -> ConstraintArrays:
        """The constraints of every part, numbered one after another."""
        if not parts:
            return cls.of([])
        offsets = np.cumsum([0] + [len(part.lower) for part in parts[:-1]])
        return cls(
            np.concatenate(
                [part.constraint + offset for part, offset in zip(parts, offsets, strict=True)]
            ),
            np.concatenate([part.rows for part in parts]),
            np.concatenate([part.data for part in parts]),
            np.concatenate([part.lower for part in parts]),
        )


class ActiveEquations:
    """The equations that reach the solver, tied by shared rows into components. Equations only
    join (`Suppression._settle_flags`), so the components are kept as they do, not found again
    over every active equation at each step."""

    def __init__(self, equations: list[Equation]):
        self.equations = equations
        self.keys: set[int] = set()
        self._parent: dict[int, int] = {}
        self._members: dict[int, list[int]] = {}  # a component's root row: its equations

    def __contains__(self, k: int) -> bool:
        return k in self.keys

    def _find(self, row: int) -> int:
        parent = self._parent
        parent.setdefault(row, row)
        while parent[row] != row:
            parent[row] = parent[parent[row]]
            row = parent[row]
        return row

    def add(self, ks: set[int]) -> None:
        members = self._members
        for k in ks - self.keys:
            self.keys.add(k)
            eq = self.equations[k]
            root = self._find(eq.total)
            for p in eq.parts:
                other = self._find(p)
                if other == root:
                    continue
                if len(members.get(root, ())) < len(members.get(other, ())):
                    root, other = other, root
                self._parent[other] = root
                moved = members.pop(other, None)
                if moved:
                    members.setdefault(root, []).extend(moved)
            members.setdefault(root, []).append(k)

    def holding(self, fresh: set[int]) -> list[list[int]]:
        """The components holding a fresh equation, each in order, by their first equation."""
        roots = {self._find(self.equations[k].total) for k in fresh}
        return sorted((sorted(self._members[root]) for root in roots), key=lambda ks: ks[0])


def _satisfied(matrix, lower: np.ndarray, hidden: np.ndarray) -> bool:
    """Every constraint holds for the hidden flags (a solver's answer, checked exactly)."""
    return bool(np.all(matrix @ hidden.astype(float) >= lower))


def _greedy_repair(constraints, hidden: list[bool], *, weights_of) -> None:
    """Hide the lightest row that helps a broken constraint until none is broken."""
    changed = True
    while changed:
        changed = False
        for coefficients, lb in constraints:
            value = sum(a for i, a in coefficients.items() if hidden[i])
            if value >= lb:
                continue
            helping = [i for i, a in coefficients.items() if a > 0 and not hidden[i]]
            if not helping:
                continue  # cannot be repaired by hiding more: the rows are hidden already
            hidden[min(helping, key=lambda i: (weights_of(i), i))] = True
            changed = True


class Flags(NamedTuple):
    """What the suppression decides for rows, in the rows' order."""

    hidden: list[bool]
    only_type: list[int]  # positions of only-type rows
    protecting: list[int]  # positions hidden to protect another figure
    distribution_hidden: list[bool]  # shown or not, the score distribution is not printed


def suppression_flags(
    rows: list[tuple],
    min_raters: int,
    children: dict[int, list[int]] | None = None,
    distribution_min_raters: int | None = None,
) -> Flags:
    """The `Flags` of rows of ROW_FIELDS in any order."""
    order = sorted(range(len(rows)), key=lambda i: order_key(rows[i]))
    suppression = Suppression(min_raters, children, distribution_min_raters)
    suppression.add([rows[i] for i in order])
    settled = suppression.settle()
    hidden = [False] * len(rows)
    unprinted = [False] * len(rows)
    for position, i in enumerate(order):
        hidden[i] = settled[position]
        unprinted[i] = suppression.distribution_hidden[position]
    return Flags(
        hidden,
        sorted(order[p] for p in suppression.only_type),
        sorted(order[p] for p in suppression.protecting),
        unprinted,
    )
