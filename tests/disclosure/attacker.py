"""An attacker that solves everything a role can see of a closed cycle as one integer program.

A hidden figure is safe only if no combination of the published figures pins it (DOMAIN.md,
"Anonymity is disclosure control, judged by an attacker"). This module plays that attacker:

- `Published`: the figures as a role reads them on the pages and in the export
  (`figures_from_rollups`, with the rounding and the shapes a publication rule prints);
- `Background`: what the role knows besides (`background_from_db`): the relationships, so
  the finest answer groups and their request counts, and for HR who answered;
- `Truth`: the answers themselves (`truth_from_db`), used only to choose the targets, to
  report true values and to check that the model is right (the truth must satisfy it);
- `attack(published, background, truth)`: one integer program over every finest group's
  raters, "not received" count and per-criterion score distribution, with a constraint for
  each figure the role sees (and for each published figure that is absent: zero), solved with
  HiGHS (`scipy.optimize.milp`) per connected part. It returns a `Report`.

A finest group is (provider department, provider employee or None, type, customer
department): every answer lands in exactly one. A target is a hidden published figure, or a
finest group, with 1 to N-1 raters (N = ICR_MIN_RATERS). It is PINNED when the integer program
confines the sum of its scores on some criterion to an interval of width < 2 (max - min <= 1:
one rater's score known to within a point), or, for a role that does not know who answered, its
rater count to one value. A pin that a single shown figure containing the target gives on its
own (say, four raters all scoring 5) is the group's own published result, a documented residual
risk: reported as `unanimous`, not as a suppression failure. A solve that runs out of time is
`undecided`: never counted as safe.

Not modelled (yet): earlier and later cycles, comments, a rater's knowledge of their own
answers, the response rates per department alone.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

SCORES = (1, 2, 3, 4, 5)
TASK = "rank_task"
RANK_KINDS = (TASK, "rank_condition")
SELF, TREE, PERSON = "self", "tree", "person"
# A printed figure stands for an interval: a little more, for floating point.
EPSILON = 1e-9
PRESOLVE = True

# --- What a role sees -------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """A figure's place: like a `Rollup` row's dimensions (None: all criteria / customers)."""

    scope: str
    department_id: int
    employee_id: int | None
    kind: str
    criterion_id: int | None
    customer_department_id: int | None


@dataclass(frozen=True)
class Figure:
    """One published figure as a role reads it.

    Hidden: no numbers, perhaps a `reason` ("few": fewer than N raters, as the page says;
    "protect": hidden to protect a smaller group, so at least N raters; "": not said).
    Shown: raters and not_received exact, mean and favourable_percent as printed (rounded to
    the `Published` decimals), distribution (n1..n5) when printed, else None.
    """

    scope: str
    department_id: int
    employee_id: int | None
    kind: str
    criterion_id: int | None
    customer_department_id: int | None
    hidden: bool
    reason: str = ""
    raters: int | None = None
    mean: float | None = None
    favourable_percent: float | None = None
    distribution: tuple[int, ...] | None = None
    not_received: int | None = None
    mean_decimals: int | None = None  # printed coarser than `Published.mean_decimals`

    @property
    def key(self) -> Key:
        return Key(
            self.scope,
            self.department_id,
            self.employee_id,
            self.kind,
            self.criterion_id,
            self.customer_department_id,
        )


@dataclass(frozen=True)
class RateFigure:
    """A department's response rate with its subtree, as its page shows it."""

    department_id: int
    requests: int
    answered: int  # answered or "did not receive"


def export_shape(key) -> bool:
    """Today's publication: every row the export writes (all but a person's rank task)."""
    return not (key.scope == PERSON and key.kind == TASK)


def proposed_shape(key) -> bool:
    """What ICR publishes (`reviews.close.suppression.is_published`); an only-type row comes
    here as its all-types copy."""
    from reviews.close.suppression import is_published

    return is_published(
        key.scope, key.kind, key.criterion_id, key.customer_department_id, only_type=False
    )


# Publication rules as keyword arguments of `figures_from_rollups`.
TODAY = {
    "shown_shape": export_shape,
    "mean_decimals": 2,
    "favourable_decimals": 1,
    "distribution_min_raters": 0,
}
PROPOSED = {
    "shown_shape": proposed_shape,
    "mean_decimals": 1,
    "favourable_decimals": 0,
    "distribution_min_raters": None,  # as the close flagged them (`Rollup.distribution_shown`)
}


@dataclass(frozen=True)
class Role:
    """Who reads: HR (`departments` None: everything) or a head (their subtree)."""

    name: str
    departments: frozenset[int] | None = None
    knows_answered: bool = False

    def sees(self, key) -> bool:
        if self.departments is None:
            return True
        if key.department_id in self.departments:
            return True
        return key.scope == SELF and key.customer_department_id in self.departments

    def sees_rate(self, department_id: int) -> bool:
        return self.departments is None or department_id in self.departments


def hr() -> Role:
    return Role("hr", None, knows_answered=True)


def head(department, *, subtree: Iterable[int] | None = None) -> Role:
    """The head of `department`: the figures of its subtree (a head sees their department as
    it is today; the figures are those of the tree the cycle closed with)."""
    if subtree is None:
        from relations.models import subtree_ids

        subtree = subtree_ids([department.pk])[department.pk]
    return Role(f"head of {getattr(department, 'code', department.pk)}", frozenset(subtree))


@dataclass
class Published:
    """The figures of one cycle as published, and how they are printed."""

    figures: list[Figure]
    shown_shape: Callable[[Key], bool] = export_shape
    mean_decimals: int = 2
    favourable_decimals: int = 1
    rates: list[RateFigure] = field(default_factory=list)

    def seen_by(self, role: Role) -> Published:
        return replace(
            self,
            figures=[f for f in self.figures if role.sees(f)],
            rates=[r for r in self.rates if role.sees_rate(r.department_id)],
        )


# --- What a role knows besides, and what is true ----------------------------------------------


@dataclass(frozen=True)
class Group:
    """A finest group: every answer lands in exactly one."""

    department_id: int
    employee_id: int | None
    kind: str
    customer_department_id: int | None

    def __str__(self) -> str:
        who = f"d{self.department_id}" + (f"/e{self.employee_id}" if self.employee_id else "")
        return f"{who} {self.kind} → d{self.customer_department_id}"


@dataclass(frozen=True)
class GroupFacts:
    requests: int  # raters + not_received <= requests
    criteria: tuple[int, ...]  # every applicable criterion gets a score from every rater
    answered: int | None = None  # known to HR: exactly the raters
    declined: int | None = None  # known to HR: exactly the "not received"


@dataclass
class Background:
    groups: dict[Group, GroupFacts]
    parents: dict[int, int | None]  # the department tree
    min_raters: int
    knows_answered: bool = False

    def subtree(self, department_id: int) -> set[int]:
        children: dict[int | None, list[int]] = defaultdict(list)
        for d, p in self.parents.items():
            children[p].append(d)
        out, todo = set(), [department_id]
        while todo:
            d = todo.pop()
            if d not in out:
                out.add(d)
                todo.extend(children.get(d, []))
        return out

    def ancestors(self, department_id: int) -> list[int]:
        out, d = [], department_id
        while d is not None and d not in out:
            out.append(d)
            d = self.parents.get(d)
        return out


@dataclass
class Truth:
    raters: dict[Group, int]
    not_received: dict[Group, int]
    counts: dict[tuple[Group, int], tuple[int, ...]]  # (group, criterion) -> n1..n5


# --- From the database ------------------------------------------------------------------------


# The columns that name a finest group, on requests and on answers alike.
GROUP_COLUMNS = (
    "edge_type",
    "rank_kind",
    "provider_department_id",
    "provider_employee_id",
    "customer_department_id",
)


def _kind(edge_type: str, rank_kind: str) -> str:
    return f"rank_{rank_kind}" if edge_type == "rank" else edge_type


def figures_from_rollups(
    cycle,
    *,
    shown_shape: Callable[[Key], bool] = export_shape,
    hidden: Callable | None = None,
    reason: Callable | None = None,
    mean_decimals: int = 2,
    favourable_decimals: int = 1,
    distribution_min_raters: int | None = 0,
    response_rates: bool = True,
    coarse: bool = True,
) -> Published:
    """The cycle's `Rollup` rows as published: each all-types figure per customer also where one
    type's row stands for it (`only_type`), each department with its subtree also where its
    department-alone row does (`with_subtree`), as the pages and the export read them.

    `hidden(row)`: hidden or not (default `row.suppressed`); `reason(row)`: what a hidden
    figure's page says ("few", "protect" or ""; default ""); `shown_shape(key)`: whether a
    figure of that shape is published at all; the rest: how figures are printed (`coarse`
    False: the figures flagged `Rollup.coarse` printed like any other). The pages'
    response rates (department with subtree) come too unless `response_rates` is False.
    """
    from reviews.models import ResponseRate, Rollup, RollupScope, subtree_rows, with_subtree
    from reviews.results import FINE_SCORES

    hidden = hidden or (lambda row: row.suppressed)
    reason = reason or (lambda row: "")
    rows = list(Rollup.objects.filter(cycle=cycle).exclude(scope=RollupScope.TREE))
    lines: list = []
    for row in rows:
        lines.append((row, row.scope, row.kind))
        if row.only_type and row.scope == "self":  # a person's: a copy of their overall
            lines.append((row, row.scope, ""))
    for row in subtree_rows(Rollup.objects.filter(with_subtree(), cycle=cycle)):
        lines.append((row, TREE, row.kind))
    figures = []
    for row, scope, kind in lines:
        key = Key(
            scope,
            row.department_id,
            row.employee_id,
            kind,
            row.criterion_id,
            row.customer_department_id,
        )
        if not shown_shape(key):
            continue
        if hidden(row):
            figures.append(Figure(**vars(key), hidden=True, reason=reason(row)))
            continue
        if coarse and row.coarse:  # the mean alone, under FINE_SCORES to a whole point
            decimals = 0 if sum(row.distribution) < FINE_SCORES else mean_decimals
            figures.append(
                Figure(
                    **vars(key),
                    hidden=False,
                    raters=row.raters,
                    not_received=row.not_received,
                    mean=None if row.mean is None else round(row.mean, decimals),
                    mean_decimals=decimals,
                )
            )
            continue
        # Today's export prints every favourable share; ICR prints it with the distribution.
        printed = (
            row.distribution_shown
            if distribution_min_raters is None
            else row.raters >= distribution_min_raters
        )
        figures.append(
            Figure(
                **vars(key),
                hidden=False,
                raters=row.raters,
                not_received=row.not_received,
                mean=None if row.mean is None else round(row.mean, mean_decimals),
                favourable_percent=None
                if row.favourable is None or not printed
                else round(100 * row.favourable, favourable_decimals),
                distribution=tuple(row.distribution) if printed else None,
            )
        )
    rates = []
    if response_rates:
        rates = [
            RateFigure(r.department_id, r.requests, r.answered)
            for r in ResponseRate.objects.filter(cycle=cycle, scope=RollupScope.TREE)
        ]
    return Published(
        figures,
        shown_shape=shown_shape,
        mean_decimals=mean_decimals,
        favourable_decimals=favourable_decimals,
        rates=rates,
    )


def background_from_db(cycle, role: Role, *, min_raters: int | None = None) -> Background:
    """The finest groups from the cycle's requests (the relationship graph), with their request
    counts; for a role that knows who answered (HR), how many answered and declined."""
    from django.conf import settings
    from django.db.models import Count, Q

    from relations.models import Department
    from reviews.models import RequestStatus, ReviewRequest
    from reviews.services import applicable_criteria

    rows = (
        ReviewRequest.objects.filter(cycle=cycle, provider_department__isnull=False)
        .values(*GROUP_COLUMNS)
        .annotate(
            n=Count("id"),
            answered=Count("id", filter=Q(status=RequestStatus.ANSWERED)),
            declined=Count("id", filter=Q(status=RequestStatus.DECLINED)),
        )
        .order_by()
    )
    criteria: dict[tuple[str, str], tuple[int, ...]] = {}
    groups: dict[Group, GroupFacts] = {}
    for r in rows:
        et = (r["edge_type"], r["rank_kind"])  # a rank direction may have criteria of its own
        if et not in criteria:
            criteria[et] = tuple(c.pk for c in applicable_criteria(cycle, *et))
        g = Group(
            r["provider_department_id"],
            r["provider_employee_id"],
            _kind(*et),
            r["customer_department_id"],
        )
        knows = role.knows_answered
        groups[g] = GroupFacts(
            requests=r["n"],
            criteria=criteria[et],
            answered=r["answered"] if knows else None,
            declined=r["declined"] if knows else None,
        )
    # The tree the cycle closed with: its subtree figures were summed over it.
    from reviews.models import CycleDepartment

    parents = dict(
        CycleDepartment.objects.filter(cycle=cycle).values_list("department_id", "parent_id")
    ) or dict(Department.objects.values_list("id", "parent_id"))
    n = settings.ICR_MIN_RATERS if min_raters is None else min_raters
    return Background(groups, parents, n, knows_answered=role.knows_answered)


def truth_from_db(cycle) -> Truth:
    """What was answered, per finest group (the attacker uses it only to judge)."""
    from django.db.models import Count, Q

    from reviews.models import Answer, AnswerScore

    raters: dict[Group, int] = defaultdict(int)
    not_received: dict[Group, int] = defaultdict(int)
    answers = (
        Answer.objects.filter(cycle=cycle, submitted=True, provider_department__isnull=False)
        .values(*GROUP_COLUMNS)
        .annotate(
            nr=Count("id", filter=Q(not_received=True)), r=Count("id", filter=Q(not_received=False))
        )
        .order_by()
    )
    for a in answers:
        g = Group(
            a["provider_department_id"],
            a["provider_employee_id"],
            _kind(a["edge_type"], a["rank_kind"]),
            a["customer_department_id"],
        )
        raters[g] += a["r"]
        not_received[g] += a["nr"]
    counts: dict[tuple[Group, int], list[int]] = defaultdict(lambda: [0] * 5)
    scores = (
        AnswerScore.objects.filter(
            answer__cycle=cycle,
            answer__submitted=True,
            answer__not_received=False,
            answer__provider_department__isnull=False,
        )
        .values(
            "answer__edge_type",
            "answer__rank_kind",
            "answer__provider_department_id",
            "answer__provider_employee_id",
            "answer__customer_department_id",
            "criterion_id",
            "score",
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    for s in scores:
        g = Group(
            s["answer__provider_department_id"],
            s["answer__provider_employee_id"],
            _kind(s["answer__edge_type"], s["answer__rank_kind"]),
            s["answer__customer_department_id"],
        )
        counts[(g, s["criterion_id"])][s["score"] - 1] += s["n"]
    return Truth(dict(raters), dict(not_received), {k: tuple(v) for k, v in counts.items()})


# --- The integer program ----------------------------------------------------------------------


class _Model:
    """Variables per finest group (raters, not received, n[criterion][score]) and rows
    (coefficients, lower, upper, label)."""

    def __init__(self, background: Background):
        self.bg = background
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.r: dict[Group, int] = {}
        self.nr: dict[Group, int] = {}
        self.x: dict[tuple[Group, int, int], int] = {}
        self.rows: list[tuple[dict[int, float], float, float, str]] = []
        for g, facts in sorted(background.groups.items(), key=lambda i: str(i[0])):
            req = facts.requests
            if background.knows_answered and facts.answered is not None:
                self.r[g] = self._var(facts.answered, facts.answered)
                self.nr[g] = self._var(facts.declined, facts.declined)
            else:
                self.r[g] = self._var(0, req)
                self.nr[g] = self._var(0, req)
                self.add({self.r[g]: 1, self.nr[g]: 1}, 0, req, f"requests of {g}")
            most = self.ub[self.r[g]]
            for c in facts.criteria:
                coefs = {self.r[g]: -1.0}
                for s in SCORES:
                    self.x[(g, c, s)] = v = self._var(0, most)
                    coefs[v] = 1.0
                self.add(coefs, 0, 0, f"every rater of {g} scores criterion {c}")
        self.structural = len(self.rows)  # the groups' own rules; figures' rows come after
        self._index()

    def _var(self, lb: float, ub: float) -> int:
        self.lb.append(lb)
        self.ub.append(ub)
        return len(self.lb) - 1

    def add(self, coefs: dict[int, float], lb: float, ub: float, label: str) -> None:
        coefs = {v: c for v, c in coefs.items() if c}
        if coefs:
            self.rows.append((coefs, lb, ub, label))
        elif not lb <= 0 <= ub:
            raise AssertionError(f"{label}: no group can give it")

    def _index(self) -> None:
        self.by_department: dict[int, list[Group]] = defaultdict(list)
        self.by_person: dict[tuple[int, int], list[Group]] = defaultdict(list)
        self.by_employee: dict[int, list[Group]] = defaultdict(list)
        for g in self.r:
            if g.customer_department_id is not None:
                self.by_department[g.department_id].append(g)
            if g.employee_id is not None and g.kind != TASK:
                self.by_person[(g.department_id, g.employee_id)].append(g)
                self.by_employee[g.employee_id].append(g)
        self._subtrees: dict[int, set[int]] = {}

    def subtree(self, d: int) -> set[int]:
        if d not in self._subtrees:
            self._subtrees[d] = self.bg.subtree(d)
        return self._subtrees[d]

    # Which groups a figure sums.
    def members(self, key) -> list[Group]:
        if key.scope == PERSON:
            groups = self.by_person.get((key.department_id, key.employee_id), [])
        elif key.scope == TREE:
            groups = [g for d in self.subtree(key.department_id) for g in self.by_department[d]]
        else:
            groups = self.by_department.get(key.department_id, [])
            if key.customer_department_id is not None:
                groups = [
                    g for g in groups if g.customer_department_id == key.customer_department_id
                ]
                if not key.kind:  # a department's figure per customer leaves rank out
                    groups = [g for g in groups if g.kind not in RANK_KINDS]
        if key.kind:
            groups = [g for g in groups if g.kind == key.kind]
        if key.criterion_id is not None:
            groups = [g for g in groups if key.criterion_id in self.bg.groups[g].criteria]
        return groups

    # Linear expressions of a figure's numbers over its groups.
    def raters(self, groups: list[Group]) -> dict[int, float]:
        return {self.r[g]: 1.0 for g in groups}

    def answered(self, groups: list[Group]) -> dict[int, float]:
        return {self.r[g]: 1.0 for g in groups} | {self.nr[g]: 1.0 for g in groups}

    def not_received(self, groups: list[Group]) -> dict[int, float]:
        return {self.nr[g]: 1.0 for g in groups}

    def scores(self, groups: list[Group], criterion: int | None) -> dict[int, dict[int, float]]:
        """n_s for s in 1..5, each an expression."""
        out: dict[int, dict[int, float]] = {s: {} for s in SCORES}
        for g in groups:
            crits = self.bg.groups[g].criteria if criterion is None else (criterion,)
            for c in crits:
                for s in SCORES:
                    out[s][self.x[(g, c, s)]] = 1.0
        return out

    def score_sum(self, groups: list[Group], criterion: int) -> dict[int, float]:
        return {
            self.x[(g, criterion, s)]: float(s)
            for g in groups
            if criterion in self.bg.groups[g].criteria
            for s in SCORES
        }

    # Constraints of one figure.
    def figure(self, f: Figure, published: Published, n: int) -> None:
        groups = self.members(f)
        label = f"{'hidden' if f.hidden else 'shown'} {f.key}"
        # A figure exists when an answer (a score, for one criterion) lands in it.
        count = self.answered(groups) if f.criterion_id is None else self.raters(groups)
        raters = self.raters(groups)
        if f.hidden:
            self.add(count, 1, np.inf, f"{label} exists")
            if f.reason == "few":
                self.add(raters, 0, n - 1, f"{label}: fewer than N")
            elif f.reason == "protect":
                self.add(raters, n, np.inf, f"{label}: hidden to protect another")
            return
        self.add(raters, f.raters, f.raters, f"{label} raters")
        if f.criterion_id is None:
            nr = f.not_received or 0
            self.add(self.not_received(groups), nr, nr, f"{label} not received")
        ns = self.scores(groups, f.criterion_id)
        total = {}
        for s in SCORES:
            for v, c in ns[s].items():
                total[v] = total.get(v, 0) + c
        if f.distribution is not None:
            for s, value in zip(SCORES, f.distribution, strict=True):
                self.add(ns[s], value, value, f"{label} n{s}")
        if f.distribution is not None:
            return  # the mean and the favourable share follow from it
        if f.mean is not None:
            decimals = published.mean_decimals if f.mean_decimals is None else f.mean_decimals
            half = 0.5 * 10.0 ** (-decimals) + EPSILON
            weighted = {v: float(s) for s in SCORES for v in ns[s]}
            self._ratio(weighted, total, f.mean - half, f.mean + half, f"{label} mean")
        if f.favourable_percent is not None:
            half = 0.5 * 10.0 ** (-published.favourable_decimals) + EPSILON
            top = {v: 100.0 for s in (4, 5) for v in ns[s]}
            low, high = f.favourable_percent - half, f.favourable_percent + half
            self._ratio(top, total, low, high, f"{label} favourable")

    def _ratio(self, num: dict, den: dict, low: float, high: float, label: str) -> None:
        """low <= num / den <= high, as two linear rows."""
        upper = dict(num)
        for v, c in den.items():
            upper[v] = upper.get(v, 0) - high * c
        self.add(upper, -np.inf, 0, f"{label} at most {high:.4f}")
        lower = dict(num)
        for v, c in den.items():
            lower[v] = lower.get(v, 0) - low * c
        self.add(lower, 0, np.inf, f"{label} at least {low:.4f}")

    def truth_vector(self, truth: Truth) -> np.ndarray:
        x = np.zeros(len(self.lb))
        for g, v in self.r.items():
            x[v] = truth.raters.get(g, 0)
            x[self.nr[g]] = truth.not_received.get(g, 0)
        for (g, c, s), v in self.x.items():
            x[v] = truth.counts.get((g, c), (0,) * 5)[s - 1]
        return x


def candidate_keys(model: _Model) -> set[Key]:
    """Every figure key some finest group would land in (all shapes, before publication)."""
    keys: set[Key] = set()
    bg = model.bg
    for g, facts in bg.groups.items():
        crits = (None, *facts.criteria)
        if g.customer_department_id is not None:
            for kind in ("", g.kind):
                for c in crits:
                    for cust in (None, g.customer_department_id):
                        if cust is not None and not kind and g.kind in RANK_KINDS:
                            continue  # rank is left out of the figures per customer
                        keys.add(Key(SELF, g.department_id, None, kind, c, cust))
                    for a in bg.ancestors(g.department_id):
                        keys.add(Key(TREE, a, None, kind, c, None))
        if g.employee_id is not None and g.kind != TASK:
            for kind in ("", g.kind):
                for c in crits:
                    keys.add(Key(PERSON, g.department_id, g.employee_id, kind, c, None))
    return keys


def build_model(published: Published, background: Background, role: Role) -> _Model:
    """The program: the groups' own rules, each seen figure, each absent published one."""
    model = _Model(background)
    n = background.min_raters
    seen = published.seen_by(role)
    present = {f.key for f in seen.figures}
    for f in seen.figures:
        model.figure(f, published, n)
    for rate in seen.rates:
        groups = [
            g for d in model.subtree(rate.department_id) for g in model.r if g.department_id == d
        ]
        model.add(model.answered(groups), rate.answered, rate.answered, f"rate of {rate}")
    # People: a figure of one's own with N answers outside the rank task rating, not without.
    eligible = {k.employee_id for k in present if k.scope == PERSON}
    for key in sorted(candidate_keys(model), key=str):
        if key in present or not role.sees(key) or not published.shown_shape(key):
            continue
        if key.scope == PERSON and key.employee_id not in eligible:
            continue
        groups = model.members(key)
        count = model.answered(groups) if key.criterion_id is None else model.raters(groups)
        model.add(count, 0, 0, f"absent {key}")
    people = {
        k.employee_id
        for k in candidate_keys(model)
        if k.scope == PERSON and role.sees(k) and published.shown_shape(k)
    }
    for e in sorted(people):
        answered = model.answered(model.by_employee[e])
        if e in eligible:
            model.add(answered, n, np.inf, f"person {e} has a figure")
        else:
            model.add(answered, 0, n - 1, f"person {e} has no figure")
    return model


# --- Targets and the verdict ------------------------------------------------------------------


@dataclass
class Finding:
    """One target's one measure: a criterion's score sum, or (criterion None) its raters."""

    target: str
    groups: tuple[Group, ...]
    criterion_id: int | None
    true_value: int
    low: int | None = None  # exact bounds when pinned; else the range seen so far
    high: int | None = None
    status: str = "safe"  # pinned, unanimous, undecided, safe
    by_figure: Key | None = None  # for unanimous: the shown figure that pins it alone

    def __str__(self) -> str:
        what = "raters" if self.criterion_id is None else f"criterion {self.criterion_id} sum"
        by = f" by {self.by_figure}" if self.by_figure else ""
        return (
            f"{self.status}: {self.target}, {what} = {self.true_value} "
            f"in [{self.low}, {self.high}]{by}"
        )


@dataclass
class Report:
    role: str
    targets: int = 0  # targets checked
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    solve_seconds: float = 0.0  # of which solving the whole program
    solves: int = 0

    def _targets(self, status: str) -> list[str]:
        return sorted({f.target for f in self.findings if f.status == status})

    @property
    def pinned(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "pinned"]

    @property
    def unanimous(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "unanimous"]

    @property
    def undecided(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "undecided"]

    @property
    def pinned_targets(self) -> list[str]:
        return self._targets("pinned")

    @property
    def undecided_targets(self) -> list[str]:
        return sorted(set(self._targets("undecided")) - set(self.pinned_targets))

    @property
    def unanimous_targets(self) -> list[str]:
        others = set(self.pinned_targets) | set(self.undecided_targets)
        return sorted(set(self._targets("unanimous")) - others)

    @property
    def groups(self) -> int:
        """Finest groups among the targets (1 to N-1 raters, in some figure the role sees)."""
        return len({f.target for f in self.findings if f.target.startswith("group ")})

    @property
    def pinned_groups(self) -> list[str]:
        return [t for t in self.pinned_targets if t.startswith("group ")]

    @property
    def safe(self) -> bool:
        return not self.pinned and not self.undecided

    @property
    def pinned_scores(self) -> list[Finding]:
        """Pins of a score sum: what ICR protects (docs/disclosure.md)."""
        return [f for f in self.pinned if f.criterion_id is not None]

    @property
    def participation(self) -> list[Finding]:
        """Pins of a rater count: that someone answered, not what (not protected from heads,
        who see response rates; HR sees every request's status)."""
        return [f for f in self.pinned if f.criterion_id is None]

    @property
    def scores_safe(self) -> bool:
        return not self.pinned_scores and not self.undecided

    def summary(self) -> str:
        lines = [
            f"{self.role}: {len(self.pinned_targets)} of {self.targets} targets pinned, "
            f"{len({f.target for f in self.pinned_scores})} on a score "
            f"({len(self.pinned_groups)} of {self.groups} small groups), "
            f"{len(self.unanimous_targets)} only by their own figure (unanimous), "
            f"{len(self.undecided_targets)} undecided; {self.solves} solves, "
            f"{self.seconds:.1f} s ({self.solve_seconds:.1f} s for the whole program)"
        ]
        lines += [f"  {f}" for f in self.pinned + self.undecided]
        return "\n".join(lines)


@dataclass
class _Target:
    name: str
    groups: tuple[Group, ...]
    criteria: tuple[int, ...]


def _targets(published: Published, model: _Model, truth: Truth, role: Role) -> list[_Target]:
    n = model.bg.min_raters
    out: dict[tuple, _Target] = {}

    def raters(groups, c=None) -> int:
        return sum(
            truth.raters.get(g, 0) for g in groups if c is None or c in model.bg.groups[g].criteria
        )

    # A superior's rating of a direct report has one rater by nature and is labelled "not
    # anonymous" where it is asked (HR may show it to the report, named): not a target, alone
    # or with other superiors' ratings (docs/disclosure.md), and neither is a figure whose
    # only raters are those (its other groups have no raters).
    def anonymous(groups) -> bool:
        return any(g.kind != TASK and truth.raters.get(g, 0) > 0 for g in groups)

    for f in published.seen_by(role).figures:
        if not f.hidden:
            continue
        groups = tuple(model.members(f))
        if not anonymous(groups):
            continue
        crits = (
            (f.criterion_id,)
            if f.criterion_id is not None
            else tuple(sorted({c for g in groups for c in model.bg.groups[g].criteria}))
        )
        # A criterion aimed at the task customers (a rank direction's own) is scored by
        # superiors only: their ratings on it are no target either.
        crits = tuple(
            c
            for c in crits
            if 1 <= raters(groups, c) < n
            and anonymous([g for g in groups if c in model.bg.groups[g].criteria])
        )
        if crits and raters(groups, f.criterion_id) < n:
            key = ("hidden", frozenset(groups), crits)  # one per set of groups: the same secret
            out.setdefault(key, _Target(f"hidden {f.key}", groups, crits))
    # A group that no figure the role sees sums is not a target: nothing is known of it.
    mentioned = {v for coefs, *_ in model.rows[model.structural :] for v in coefs}
    for g in model.r:
        if 1 <= truth.raters.get(g, 0) < n and model.r[g] in mentioned and anonymous((g,)):
            crits = model.bg.groups[g].criteria
            out[("group", g)] = _Target(f"group {g}", (g,), crits)
    return list(out.values())


class _Component:
    """The rows of a connected part of the program, as HiGHS takes them; variables whose
    bounds fix them are substituted (for HR, every group's raters), which leaves HiGHS a
    smaller program to presolve on every solve."""

    def __init__(self, model: _Model, variables: list[int], rows: list[int]):
        self.variables = variables
        self.fixed = np.array([model.lb[v] for v in variables], dtype=float)
        free = [v for v in variables if model.lb[v] != model.ub[v]]
        self.free_positions = np.array(
            [i for i, v in enumerate(variables) if model.lb[v] != model.ub[v]], dtype=int
        )
        self.index = {v: i for i, v in enumerate(variables)}
        column = {v: i for i, v in enumerate(free)}
        data, ri, ci, lo, hi = [], [], [], [], []
        for row in rows:
            coefs, low, high, label = model.rows[row]
            shift = 0.0
            entries = []
            for v, c in coefs.items():
                if v in column:
                    entries.append((column[v], c))
                else:
                    shift += c * model.lb[v]
            if not entries:
                if not low - 1e-6 <= shift <= high + 1e-6:
                    raise AssertionError(f"{label} cannot hold")
                continue
            k = len(lo)
            for j, c in entries:
                data.append(c)
                ri.append(k)
                ci.append(j)
            lo.append(low - shift)
            hi.append(high - shift)
        A = sparse.csr_array((data, (ri, ci)), shape=(len(lo), len(free)))
        self.constraint = LinearConstraint(A, np.array(lo), np.array(hi)) if lo else None
        self.integrality = np.ones(len(free))
        self.bounds = Bounds([model.lb[v] for v in free], [model.ub[v] for v in free])

    def vector(self, coefs: dict[int, float]) -> np.ndarray:
        out = np.zeros(len(self.variables))
        for v, c in coefs.items():
            out[self.index[v]] = c
        return out

    def extreme(self, objective: np.ndarray, sense: int, time_limit: float):
        """The integer solution that maximises (sense 1) or minimises (-1) objective @ x, or
        "timeout" (the truth is a solution, so there always is one)."""
        x = self.fixed.copy()
        if not len(self.free_positions):
            return x
        res = milp(
            c=-sense * objective[self.free_positions],
            constraints=self.constraint,
            integrality=self.integrality,
            bounds=self.bounds,
            options={"time_limit": time_limit, "presolve": PRESOLVE},
        )
        if res.status == 0 and res.x is not None:
            x[self.free_positions] = np.round(res.x)
            return x
        if res.status == 2:
            raise AssertionError("no integer solution, though the truth is one")
        return "timeout"


def _components(model: _Model, extra: list[dict[int, float]]) -> list[tuple[list[int], list[int]]]:
    parent = list(range(len(model.lb)))

    def find(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for coefs in [row[0] for row in model.rows] + extra:
        it = iter(coefs)
        first = find(next(it))
        for v in it:
            root = find(v)
            if root != first:
                parent[root] = first
    variables: dict[int, list[int]] = defaultdict(list)
    for v in range(len(parent)):
        variables[find(v)].append(v)
    rows: dict[int, list[int]] = defaultdict(list)
    for k, (coefs, *_rest) in enumerate(model.rows):
        rows[find(next(iter(coefs)))].append(k)
    return [(variables[root], rows[root]) for root in variables]


@dataclass
class _Measure:
    finding: Finding
    coefs: dict[int, float]
    width: int  # pinned when max - min < width


class _Solver:
    def __init__(self, comp: _Component, measures: list[_Measure], truth: np.ndarray, limit):
        self.comp, self.measures, self.limit = comp, measures, limit
        self.T = np.array([comp.vector(m.coefs) for m in measures]).reshape(len(measures), -1)
        values = self.T @ truth
        self.true = np.round(values)
        self.lo, self.hi = self.true.copy(), self.true.copy()
        self.solves = 0

    def _extreme(self, i: int, sense: int):
        self.solves += 1
        got = self.comp.extreme(self.T[i], sense, self.limit())
        if isinstance(got, np.ndarray):
            values = np.round(self.T @ got)
            self.lo = np.minimum(self.lo, values)
            self.hi = np.maximum(self.hi, values)
            return True
        return False

    def decide(self, i: int) -> None:
        """Safe once two solutions differ by the measure's width (any solution found for
        another measure counts); else its exact maximum and minimum decide."""
        m = self.measures[i]
        f = m.finding
        f.true_value = int(self.true[i])
        exact = True
        for sense in (1, -1):
            if self.hi[i] - self.lo[i] >= m.width:
                break
            exact = self._extreme(i, sense) and exact
        f.low, f.high = int(self.lo[i]), int(self.hi[i])
        if self.hi[i] - self.lo[i] >= m.width:
            f.status = "safe"
        else:
            f.status = "pinned" if exact else "undecided"


def _pinned_alone(
    finding: Finding,
    published: Published,
    background: Background,
    truth: Truth,
    shown: dict[Figure, frozenset[Group]],
) -> Key | None:
    """A shown figure that holds the target and pins it with nothing else but who answered
    (HR's background, the most any role knows besides figures) and the shown figures of the
    groups that hold it: then the pin is the group's own published result (`unanimous`),
    whoever reads it. No subtraction is in it: a figure of a larger group says about the
    smaller one only what it says about all its members (say, a printed distribution whose
    bar for 3 is empty: nobody scored 3), and with a three-rater mean of 4.3 that is each of
    the three within a point."""
    c = finding.criterion_id
    # The groups whose scores on the criterion are pinned: those that score it (a figure of one
    # criterion holds only those).
    targets = {g for g in finding.groups if c is None or c in background.groups[g].criteria}
    relevant = [(f, m) for f, m in shown.items() if f.criterion_id in (None, c)]
    for f, members in sorted(relevant, key=lambda item: len(item[1])):
        if not targets <= members:
            continue
        holding = [g for g, m in relevant if g != f and members <= m]
        alone = replace(
            background,
            knows_answered=True,
            groups={
                g: replace(
                    background.groups[g],
                    answered=truth.raters.get(g, 0),
                    declined=truth.not_received.get(g, 0),
                )
                for g in members.union(*(shown[h] for h in holding))
            },
        )
        model = _Model(alone)
        for figure in (f, *holding):
            model.figure(figure, published, background.min_raters)
        measure = _Measure(replace(finding), model.score_sum(list(finding.groups), c), 2)
        # A group that scores the criterion (a rank direction's criteria are its own).
        anchor = next(g for g in finding.groups if (g, c, 1) in model.x)
        (variables, rows), *_others = (
            part
            for part in _components(model, [measure.coefs])
            if model.x[(anchor, c, 1)] in part[0]
        )
        x = model.truth_vector(truth)[variables]
        solver = _Solver(_Component(model, variables, rows), [measure], x, lambda: 5.0)
        solver.decide(0)
        if measure.finding.status == "pinned":
            return f.key
    return None


def _pinned_with_its_group(
    finding: Finding,
    model: _Model,
    x_true: np.ndarray,
    truth: Truth,
    shown: dict[Figure, frozenset[Group]],
) -> Key | None:
    """A shown figure of N anonymous raters or more that holds the target, every rater of
    which the program confines to one score or two neighbouring ones (say, all nine gave 4 or
    5): the target's pin is then no more than that group's own near unanimity, the residual
    risk of any published group (`unanimous`). Only where the pin is no tighter than what the
    group's confinement gives the target. Returns the figure, or None."""
    c = finding.criterion_id
    targets = set(finding.groups)
    target_scores = sum(sum(truth.counts.get((g, c), ())) for g in targets)
    for f, members in sorted(shown.items(), key=lambda item: len(item[1])):
        if f.criterion_id not in (None, c) or not targets <= members:
            continue
        groups = [g for g in members if c in model.bg.groups[g].criteria]
        anonymous = sum(truth.raters.get(g, 0) for g in groups if g.kind != TASK)
        given = {
            score
            for g in groups
            for score, count in zip(SCORES, truth.counts.get((g, c), ()), strict=False)
            if count
        }
        if anonymous < model.bg.min_raters or not given or max(given) - min(given) > 1:
            continue
        low, high = min(given), max(given)
        if finding.high - finding.low < target_scores * (high - low):
            continue  # pinned tighter than the group's confinement gives it
        # Nobody in the group scored outside [low, high]: the count's maximum is 0.
        outside = {
            model.x[(g, c, score)]: 1.0
            for g in groups
            for score in SCORES
            if not low <= score <= high
        }
        confined = True
        for variables, rows in _components(model, [outside]):
            part = {v: 1.0 for v in variables if v in outside}
            if not part:
                continue
            measure = _Measure(Finding("group", tuple(groups), c, 0), part, 1)
            solver = _Solver(
                _Component(model, variables, rows), [measure], x_true[variables], lambda: 5.0
            )
            solver.decide(0)
            if measure.finding.status != "pinned":
                confined = False
                break
        if confined:
            return f.key
    return None


def attack(
    published: Published,
    background: Background,
    truth: Truth,
    role: Role,
    *,
    seconds: float = 60.0,
    solve_seconds: float = 10.0,
) -> Report:
    """Every target's pinned measures as the role can work them out; see the module text.

    `seconds`: the whole run's budget (solves after it count as undecided); `solve_seconds`:
    one solve's limit."""
    started = time.monotonic()
    report = Report(role.name)
    model = build_model(published, background, role)
    x_true = model.truth_vector(truth)
    _check_truth(model, x_true)
    targets = _targets(published, model, truth, role)
    report.targets = len(targets)
    measures: list[_Measure] = []
    same: dict[tuple, _Measure] = {}  # one solve per (groups, criterion); findings share it
    shared: list[tuple[Finding, _Measure]] = []
    for t in targets:
        wanted = [(c, 2) for c in t.criteria]
        if not background.knows_answered:
            wanted.append((None, 1))
        for c, width in wanted:
            finding = Finding(t.name, t.groups, c, 0)
            key = (frozenset(t.groups), c)
            if key in same:
                shared.append((finding, same[key]))
                continue
            coefs = model.score_sum(list(t.groups), c) if c else model.raters(list(t.groups))
            same[key] = _Measure(finding, coefs, width)
            measures.append(same[key])
    by_root: dict[int, list[int]] = defaultdict(list)
    comps = _components(model, [m.coefs for m in measures])
    where = {}
    for k, (variables, _rows) in enumerate(comps):
        for v in variables:
            where[v] = k
    for i, m in enumerate(measures):
        by_root[where[next(iter(m.coefs))]].append(i)

    def limit() -> float:
        left = seconds - (time.monotonic() - started)
        return max(0.01, min(solve_seconds, left))

    for k, indexes in by_root.items():
        variables, rows = comps[k]
        comp = _Component(model, variables, rows)
        solver = _Solver(comp, [measures[i] for i in indexes], x_true[variables], limit)
        for i in range(len(indexes)):
            solver.decide(i)
        report.solves += solver.solves
    report.solve_seconds = time.monotonic() - started
    shown = {
        f: frozenset(model.members(f)) for f in published.seen_by(role).figures if not f.hidden
    }
    for m in measures:
        f = m.finding
        if f.status == "pinned" and f.criterion_id is not None:
            key = _pinned_alone(f, published, background, truth, shown) or (
                _pinned_with_its_group(f, model, x_true, truth, shown)
            )
            if key is not None:
                f.status, f.by_figure = "unanimous", key
        report.findings.append(f)
    for f, m in shared:
        f.true_value, f.low, f.high = m.finding.true_value, m.finding.low, m.finding.high
        f.status, f.by_figure = m.finding.status, m.finding.by_figure
        report.findings.append(f)
    report.seconds = time.monotonic() - started
    return report


def _check_truth(model: _Model, x: np.ndarray) -> None:
    """The true answers satisfy every row, or the model misreads a figure."""
    for v, (lb, ub) in enumerate(zip(model.lb, model.ub, strict=True)):
        if not lb - 1e-9 <= x[v] <= ub + 1e-9:
            raise AssertionError(f"variable {v} = {x[v]} outside [{lb}, {ub}]")
    for coefs, lb, ub, label in model.rows:
        value = sum(c * x[v] for v, c in coefs.items())
        if not lb - 1e-6 <= value <= ub + 1e-6:
            raise AssertionError(f"the truth breaks {label}: {value} not in [{lb}, {ub}]")
