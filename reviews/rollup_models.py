"""Results of a cycle, stored: rollup rows, response rates, kept comments, actions and replies.

Closing a cycle writes these rows (`reviews.close`); the result pages and exports read only
them, never the answers, so a page costs the same for 60 people or 100,000, and suppression is
decided once, when the rows are written (the `suppressed` flag), not in each template.

Imported at the end of `reviews.models` so Django registers them with the reviews app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RollupScope(models.TextChoices):
    SELF = "self", _("Department alone")
    TREE = "tree", _("Department with sub-departments")
    PERSON = "person", _("Person")


class RollupKind(models.TextChoices):
    """A relationship type, with rank split into its two directions; "" is all of them."""

    ALL = "", _("All types")
    RANK_TASK = "rank_task", _("Rank · task customer")
    RANK_CONDITION = "rank_condition", _("Rank · condition customer")
    FUNCTION = "function", _("Function")
    PROCESS = "process", _("Process")
    WORKFLOW = "workflow", _("Workflow")


PART_KINDS = [k for k in RollupKind.values if k]


def cells_of_kind(kind: str) -> Q:
    """The department-alone rows per customer that hold this type's figures; for all types
    (""), the all-types rows and, where a department serves a customer through one type
    only, that type's row, which stands for the all-types one (`Rollup.only_type`)."""
    return Q(kind=kind) | Q(only_type=True) if kind == RollupKind.ALL else Q(kind=kind)


def with_subtree() -> Q:
    """The rows that hold departments' figures with their subtrees, to pass to `subtree_rows`:
    the subtree rows, and the department-alone rows of all customers, which are those figures
    for a department that had no sub-departments when the cycle closed (it has no subtree
    rows: they would be copies)."""
    return Q(scope=RollupScope.TREE) | Q(scope=RollupScope.SELF, customer_department__isnull=True)


def subtree_rows(rows) -> list:
    """Of rows read with `with_subtree()`, each department's figure with its subtree per
    cycle, type and criterion: the subtree row where there is one, else the department-alone
    row (where a department has a department-alone row and sub-departments, it has a subtree
    row too)."""
    chosen: dict[tuple, object] = {}
    for row in rows:
        key = (row.cycle_id, row.department_id, row.kind, row.criterion_id)
        if row.scope == RollupScope.TREE or key not in chosen:
            chosen[key] = row
    return list(chosen.values())


def _plain_fk(model: str, verbose_name, *, null: bool = True, db_index: bool = True):
    # Plain ids (no constraint): rollups are bulk-written history, joinable but never cascading.
    return models.ForeignKey(
        model,
        verbose_name=verbose_name,
        null=null,
        blank=null,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=db_index,
        related_name="+",
    )


def _results_cycle():
    # No constraint checked per row at commit: a closing cycle writes half a million rollup
    # rows and some 50,000 comments (the comments' check alone took 0.15 s, make bench) while
    # the cycle is locked; Django's CASCADE still removes them if the cycle goes.
    return models.ForeignKey(
        "reviews.Cycle",
        verbose_name=_("cycle"),
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )


class Rollup(models.Model):
    """Aggregate figures for one provider × type × criterion × customer department in a cycle.

    `kind` "" means all types, `criterion` NULL all criteria (every score counted), and
    `customer_department` NULL all customers; a department's figure for one customer over all
    types leaves rank out, and is the one type's row where there is only one other
    (`only_type`, `cells_of_kind`), and
    the figure of a department without sub-departments with its subtree is its department-alone
    row of all customers (`with_subtree`, `subtree_rows`).
    `raters` counts distinct answers with scores (an answer key stands for one rater of one
    relationship); `not_received` counts "I did not receive this service" answers. For
    `scope=person` the all-types row leaves out the rank task rating (a superior's rating of a
    direct report), which has one rater by nature.
    """

    # A cycle that has rollups has requests, and PostgreSQL refuses deleting those (reviews
    # 0004).
    cycle = _results_cycle()
    # No single-column indexes: the composite indexes below serve every read, and each index
    # is paid for by every row a closing cycle writes (make bench, section results).
    scope = models.CharField(_("scope"), max_length=8, choices=RollupScope.choices)
    department = _plain_fk(
        "relations.Department", _("provider department"), null=False, db_index=False
    )
    employee = _plain_fk("relations.Employee", _("provider employee"), db_index=False)
    kind = models.CharField(
        _("type"), max_length=16, choices=RollupKind.choices, blank=True, default=""
    )
    criterion = _plain_fk("reviews.Criterion", _("criterion"), db_index=False)
    customer_department = _plain_fk(
        "relations.Department", _("customer department"), db_index=False
    )
    raters = models.PositiveIntegerField(_("raters"), default=0)
    not_received = models.PositiveIntegerField(_("did not receive the service"), default=0)
    n1 = models.PositiveIntegerField(default=0)
    n2 = models.PositiveIntegerField(default=0)
    n3 = models.PositiveIntegerField(default=0)
    n4 = models.PositiveIntegerField(default=0)
    n5 = models.PositiveIntegerField(default=0)
    score_sum = models.PositiveIntegerField(_("sum of scores"), default=0)
    mean = models.FloatField(_("mean"), null=True, blank=True)
    favourable = models.FloatField(_("favourable share (4–5)"), null=True, blank=True)
    # A department that serves a customer through one type only has no "all types" row for
    # that customer (and criterion): this row is that figure too. On a person's row: their
    # only type, the same figure as their overall row (not published apart). About 30% of a large
    # cycle's rows would be such copies, each written, indexed and suppressed.
    only_type = models.BooleanField(
        _("the only type between the two departments"), default=False, db_default=False
    )
    suppressed = models.BooleanField(_("not enough responses"), default=True)
    # Whether the score distribution (n1..n5) is printed: for D anonymous raters or more, and
    # not where printed ones would give a smaller group's by subtraction
    # (`reviews.close.suppression`). Rows closed before this flag: not printed.
    distribution_shown = models.BooleanField(
        _("score distribution shown"), default=False, db_default=False
    )
    # Printed coarse (the mean to a whole point, no favourable share, no distribution): the
    # same figure of an earlier closed cycle was shown with 1 to N-1 raters more or fewer, so
    # the two cycles' difference would be the few raters who joined or left
    # (`reviews.close.compute.mark_coarse`).
    coarse = models.BooleanField(_("rounded to a whole point"), default=False, db_default=False)

    class Meta:
        verbose_name = _("result figure")
        verbose_name_plural = _("result figures")
        constraints = [
            # Each figure once; NULL dimensions mean "all" and count as equal (PostgreSQL's
            # NULLS NOT DISTINCT; on SQLite migration 0007 adds the same with NULLs folded to
            # 0). Led by cycle and department, it is also the pages' index, and a closing
            # cycle writes its rows in its order, at its end.
            models.UniqueConstraint(
                fields=[
                    "cycle",
                    "department",
                    "scope",
                    "kind",
                    "employee",
                    "criterion",
                    "customer_department",
                ],
                nulls_distinct=False,
                name="reviews_rollup_one_per_figure",
            ),
            models.CheckConstraint(
                condition=Q(scope=RollupScope.PERSON, employee__isnull=False)
                | (~Q(scope=RollupScope.PERSON) & Q(employee__isnull=True)),
                name="reviews_rollup_person_scope_has_employee",
            ),
        ]
        indexes = [
            models.Index(
                fields=["employee", "kind"],
                condition=Q(scope=RollupScope.PERSON),
                name="reviews_rollup_person",
            ),
            # The dashboard's reciprocity gaps read the cells where the department is the
            # customer: without this, a scan of those cells in every stored cycle.
            models.Index(
                fields=["cycle", "customer_department", "kind", "criterion"],
                condition=Q(scope=RollupScope.SELF),
                name="reviews_rollup_customer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cycle_id} · {self.scope} · {self.department_id} · {self.kind or '*'}"

    @property
    def count(self) -> int:
        return self.n1 + self.n2 + self.n3 + self.n4 + self.n5

    @property
    def distribution(self) -> list[int]:
        return [self.n1, self.n2, self.n3, self.n4, self.n5]


class PeriodFigure(models.Model):
    """A department's figure (with its subtree, all criteria) for one hand-off period, per
    type ("" all): the `Rollup` row the close of that period wrote, suppression flags and all,
    copied once it closed (`reviews.close.store_period_figures`) into a table read by
    department and period, so a year of weekly periods is one index range, not a lookup in
    each period's rollup partition."""

    cycle = _results_cycle()
    period_start = models.DateField(_("period start"))
    department = _plain_fk("relations.Department", _("department"), null=False, db_index=False)
    kind = models.CharField(
        _("type"), max_length=16, choices=RollupKind.choices, blank=True, default=""
    )
    raters = models.PositiveIntegerField(_("raters"), default=0)
    not_received = models.PositiveIntegerField(_("did not receive the service"), default=0)
    n1 = models.PositiveIntegerField(default=0)
    n2 = models.PositiveIntegerField(default=0)
    n3 = models.PositiveIntegerField(default=0)
    n4 = models.PositiveIntegerField(default=0)
    n5 = models.PositiveIntegerField(default=0)
    mean = models.FloatField(_("mean"), null=True, blank=True)
    favourable = models.FloatField(_("favourable share (4–5)"), null=True, blank=True)
    suppressed = models.BooleanField(_("not enough responses"), default=True)
    distribution_shown = models.BooleanField(_("score distribution shown"), default=False)
    coarse = models.BooleanField(_("rounded to a whole point"), default=False)

    class Meta:
        verbose_name = _("hand-off period figure")
        verbose_name_plural = _("hand-off period figures")
        constraints = [
            models.UniqueConstraint(
                fields=["department", "period_start", "kind"],
                name="reviews_periodfigure_one_per_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period_start} · {self.department_id} · {self.kind or '*'}"

    @property
    def distribution(self) -> list[int]:
        return [self.n1, self.n2, self.n3, self.n4, self.n5]


class ResponseRate(models.Model):
    """Requests about a provider department's service, and how many were answered."""

    cycle = models.ForeignKey(
        "reviews.Cycle", verbose_name=_("cycle"), on_delete=models.CASCADE, related_name="+"
    )
    scope = models.CharField(_("scope"), max_length=8, choices=RollupScope.choices)
    department = _plain_fk("relations.Department", _("provider department"), null=False)
    requests = models.PositiveIntegerField(_("requests"), default=0)
    answered = models.PositiveIntegerField(_("answered"), default=0)

    class Meta:
        verbose_name = _("response rate")
        verbose_name_plural = _("response rates")
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "scope", "department"], name="reviews_responserate_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cycle_id} · {self.department_id}: {self.answered}/{self.requests}"

    @property
    def share(self) -> float | None:
        return self.answered / self.requests if self.requests else None


class ResultComment(models.Model):
    """A comment copied from an answer when its group had enough raters; no link back to it.

    Kept per provider department (the department alone) or per provider person; stored in
    text order, so neither the id nor the order says anything about the answer it came from.
    """

    # Every read is by cycle: the (cycle, department) index serves it, so neither column has
    # an index of its own to write.
    cycle = _results_cycle()
    department = _plain_fk(
        "relations.Department", _("provider department"), null=False, db_index=False
    )
    employee = _plain_fk("relations.Employee", _("provider employee"))
    text = models.TextField(_("comment"))

    class Meta:
        verbose_name = _("anonymous comment")
        verbose_name_plural = _("anonymous comments")
        ordering = ["cycle", "department", "text"]
        indexes = [models.Index(fields=["cycle", "department"], name="reviews_resultcomment_dept")]

    def __str__(self) -> str:
        return self.text[:60]


class CommentReply(models.Model):
    """A department's answer to an anonymous comment ("you said, we did"); raters see it."""

    comment = models.OneToOneField(
        ResultComment, verbose_name=_("comment"), on_delete=models.CASCADE, related_name="reply"
    )
    text = models.TextField(_("our answer"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("written by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("answer to a comment")
        verbose_name_plural = _("answers to comments")

    def __str__(self) -> str:
        return self.text[:60]


class CycleDepartment(models.Model):
    """The department tree as a closed cycle closed with it: one row per department then.

    Written once, the first time the cycle's results are computed after it closed
    (`reviews.snapshot.freeze_tree`), never rewritten: recomputing the cycle later rolls its
    figures up, suppresses them and exports them with this tree, not today's, so moving or
    renaming departments afterwards changes none of its figures (a moved part's figures
    differed by exactly its raters' answers).
    """

    cycle = _results_cycle()
    department = _plain_fk("relations.Department", _("department"), null=False, db_index=False)
    parent = _plain_fk("relations.Department", _("parent department"), db_index=False)
    code = models.CharField(_("code"), max_length=64)
    name = models.CharField(_("name"), max_length=200)

    class Meta:
        verbose_name = _("department as the cycle closed")
        verbose_name_plural = _("departments as the cycle closed")
        constraints = [
            # Also the index every read goes through: a cycle's rows, by department.
            models.UniqueConstraint(
                fields=["cycle", "department"], name="reviews_cycledepartment_once"
            )
        ]
        indexes = [
            # The recursive closure joins a department's children by parent, within the cycle.
            models.Index(fields=["cycle", "parent"], name="reviews_cycledepartment_parent")
        ]

    def __str__(self) -> str:
        return f"{self.cycle_id} · {self.name} ({self.code})"


class ActionStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    DROPPED = "dropped", _("Dropped")


class ImprovementAction(models.Model):
    """What a department does about a weak relationship found in a cycle."""

    cycle = models.ForeignKey(
        "reviews.Cycle",
        verbose_name=_("found in cycle"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    provider_department = models.ForeignKey(
        "relations.Department",
        verbose_name=_("provider department"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    customer_department = models.ForeignKey(
        "relations.Department",
        verbose_name=_("customer department"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField(
        _("type"), max_length=16, choices=RollupKind.choices, blank=True, default=""
    )
    what = models.TextField(_("what we will do"))
    owner = models.CharField(_("who"), max_length=200)
    due = models.DateField(_("by when"))
    status = models.CharField(
        _("status"), max_length=16, choices=ActionStatus.choices, default=ActionStatus.PLANNED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("improvement action")
        verbose_name_plural = _("improvement actions")
        ordering = ["due", "id"]

    def __str__(self) -> str:
        return self.what[:60]


class RankTaskVisibility(models.TextChoices):
    HIDDEN = "hidden", _("Not shown to the report (counted in department figures)")
    NAMED = "named", _("Shown to the report, named, like a manager's review")


class CycleResultSettings(models.Model):
    """HR's per-cycle choices about results (kept here so the cycle model stays the cycles')."""

    cycle = models.OneToOneField(
        "reviews.Cycle",
        verbose_name=_("cycle"),
        on_delete=models.CASCADE,
        related_name="result_settings",
    )
    rank_task_visibility = models.CharField(
        _("a superior's rating of a direct report"),
        max_length=8,
        choices=RankTaskVisibility.choices,
        default=RankTaskVisibility.HIDDEN,
    )

    class Meta:
        verbose_name = _("result settings")
        verbose_name_plural = _("result settings")

    def __str__(self) -> str:
        return str(self.cycle_id)


__all__ = [
    "PART_KINDS",
    "ActionStatus",
    "CommentReply",
    "CycleDepartment",
    "CycleResultSettings",
    "ImprovementAction",
    "PeriodFigure",
    "RankTaskVisibility",
    "ResponseRate",
    "ResultComment",
    "Rollup",
    "RollupKind",
    "RollupScope",
    "cells_of_kind",
    "subtree_rows",
    "with_subtree",
]
