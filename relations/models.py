"""Org structure and the internal-customer relationship graph.

The graph is stored as *pairs*: a `RelationPair` row stands for one mutual relationship and owns
exactly two directed `Edge` rows (unique on pair + direction), so "every edge has exactly one
reverse" and "the reverse of the reverse is the edge" hold by the schema. The forward edge is the
one HR described (or, for rank, the task edge subordinate → superior); the reverse edge swaps the
ends (and for rank is the condition edge superior → subordinate).

Edges are never deleted: retiring sets `valid_to` on the pair and both its edges, so evaluations
keep pointing at the relationship as it was.

Every model here is audited (`icr.history`): its historical table keeps each version of each
row with who wrote it and when, and the rows an import wrote point at its `OrgImport`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from icr.history import audited


class EdgeType(models.TextChoices):
    RANK = "rank", _("Rank")
    FUNCTION = "function", _("Function")
    PROCESS = "process", _("Process")
    WORKFLOW = "workflow", _("Workflow")


class RankKind(models.TextChoices):
    NONE = "", _("—")
    TASK = "task", _("Task customer")
    CONDITION = "condition", _("Condition customer")


class Direction(models.TextChoices):
    FORWARD = "forward", _("Forward")
    REVERSE = "reverse", _("Reverse")


class ImportedHistory(models.Model):
    """What the historical tables of this app add: the import that wrote the version, if any."""

    history_import = models.ForeignKey(
        "relations.OrgImport",
        verbose_name=_("import"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta:
        abstract = True


def _audited(*no_db_index: str):
    return audited(bases=[ImportedHistory], no_db_index=list(no_db_index))


class LineKind(models.TextChoices):
    """Where a department stands (the source documents' "机关和生产一线的鸿沟"): on the front
    line (production, sales, service: 一线) or in the functions that support it (机关/职能)."""

    UNSET = "", _("Not set")
    FRONT = "front", _("Front line")
    FUNCTIONAL = "functional", _("Functional")


def effective_lines(parents: dict[int, int | None], lines: dict[int, str]) -> dict[int, str]:
    """Each department's line: its own, else the nearest department above it that has one,
    else "" (not set). The one place that says a sub-department takes its parent's line."""
    out: dict[int, str] = {}
    for department in parents:
        path: list[int] = []
        current = department
        while (
            current is not None
            and current not in out
            and not lines.get(current)
            and current not in path
        ):
            path.append(current)
            current = parents.get(current)
        if current is None or current in path:  # the root, or a loop in a broken tree
            found = ""
        elif current in out:
            found = out[current]
        else:
            found = out[current] = lines[current]
        for visited in path:
            out[visited] = found
    return out


class DepartmentQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Department(models.Model):
    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    head = models.ForeignKey(
        "Employee",
        verbose_name=_("head"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )
    active = models.BooleanField(_("active"), default=True)
    line = models.CharField(
        _("front line or functional"),
        max_length=16,
        choices=LineKind.choices,
        blank=True,
        default="",
        help_text=_(
            "Front line (一线) or functional (机关/职能); a department left unset takes the "
            "line of the nearest department above it that has one."
        ),
    )

    objects = DepartmentQuerySet.as_manager()
    history = _audited("code", "parent", "head")

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(parent=F("id")), name="relations_department_not_own_parent"
            ),
            models.CheckConstraint(
                condition=Q(line__in=LineKind.values), name="relations_department_line_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def ancestor_ids(self) -> list[int]:
        """Ids from the parent up to the root; stops on a cycle instead of looping forever."""
        seen: list[int] = []
        parents = dict(Department.objects.values_list("id", "parent_id"))
        current = parents.get(self.pk) if self.pk else self.parent_id
        while current is not None and current not in seen:
            seen.append(current)
            current = parents.get(current)
        return seen

    def subtree_ids(self) -> list[int]:
        """This department and everything below it (one query)."""
        return subtree_ids([self.pk])[self.pk]


class DepartmentTree:
    """Every department's parent, name and code, read in one query and walked in Python.

    The department tree is small (thousands of rows at most); a page that needs both who may
    see what and the names of a subtree reads it once (`load`) and passes it on.
    """

    def __init__(self, rows: list[tuple[int, int | None, str, str]]):
        self.names: dict[int, str] = {}
        self._children: dict[int | None, list[tuple[str, int]]] = {}
        for pk, parent_id, name, code in rows:
            self.names[pk] = name
            self._children.setdefault(parent_id, []).append((code, pk))

    @classmethod
    def load(cls, *, names: bool = True) -> DepartmentTree:
        """`names=False`: the shape only (names and codes left empty), a lighter read."""
        if names:
            return cls(list(Department.objects.values_list("id", "parent_id", "name", "code")))
        return cls(
            [
                (pk, parent, "", "")
                for pk, parent in Department.objects.values_list("id", "parent_id")
            ]
        )

    def subtree(self, root: int) -> list[int]:
        """The department and all its descendants (a loop in the tree is walked once)."""
        out, stack, seen = [], [root], set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            out.append(node)
            stack.extend(pk for _code, pk in self._children.get(node, []))
        return out

    def children(self, root: int) -> list[tuple[int, str]]:
        """The direct sub-departments as (id, name), by code."""
        return [(pk, self.names[pk]) for _code, pk in sorted(self._children.get(root, []))]


def subtree_ids(root_ids: list[int], tree: DepartmentTree | None = None) -> dict[int, list[int]]:
    """For each root id, the ids of that department and all its descendants.

    One read of the department table unless the caller has the tree already (`tree`); this
    keeps the rule "a department's members are its subtree's members" in one place.
    """
    tree = tree or DepartmentTree.load(names=False)
    return {root: tree.subtree(root) for root in root_ids}


class EmployeeQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class Employee(models.Model):
    employee_id = models.CharField(_("employee ID"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        related_name="employees",
    )
    manager = models.ForeignKey(
        "self",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    # The person's user ID on the company's messaging platform (WeCom / DingTalk userid,
    # Feishu user_id), from the import's optional `im_user_id` column.
    im_user_id = models.CharField(
        _("messaging ID"),
        max_length=64,
        blank=True,
        help_text=_("User ID on WeCom, DingTalk or Feishu; empty: e-mail (Feishu: by e-mail)."),
    )
    active = models.BooleanField(_("active"), default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="employee",
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans"
    )

    objects = EmployeeQuerySet.as_manager()
    history = _audited("employee_id", "department", "manager", "user")

    class Meta:
        verbose_name = _("employee")
        verbose_name_plural = _("employees")
        ordering = ["employee_id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(manager=F("id")), name="relations_employee_not_own_manager"
            ),
        ]
        indexes = [models.Index(fields=["email"], name="relations_employee_email")]

    def __str__(self) -> str:
        return f"{self.name} ({self.employee_id})"

    def manager_chain_ids(self) -> list[int]:
        """Ids from the manager up to the top of the reporting line; stops on a cycle."""
        managers = dict(Employee.objects.values_list("id", "manager_id"))
        seen: list[int] = []
        current = managers.get(self.pk) if self.pk else self.manager_id
        while current is not None and current not in seen:
            seen.append(current)
            current = managers.get(current)
        return seen


def one_end(prefix: str) -> Q:
    """Exactly one of `{prefix}department` and `{prefix}employee` is set: a relationship's
    end (or a step's owner) is a department or a person, never both or neither."""
    return Q(**{f"{prefix}department__isnull": False, f"{prefix}employee__isnull": True}) | Q(
        **{f"{prefix}department__isnull": True, f"{prefix}employee__isnull": False}
    )


def relationship_end_constraints(name_prefix: str) -> list[models.CheckConstraint]:
    """A relationship's two ends (`provider_…`, `customer_…`), each a department or a person
    (`one_end`), and never the same department or person at both."""
    return [
        models.CheckConstraint(
            condition=one_end("provider_"), name=f"{name_prefix}_provider_one_end"
        ),
        models.CheckConstraint(
            condition=one_end("customer_"), name=f"{name_prefix}_customer_one_end"
        ),
        models.CheckConstraint(
            condition=~Q(provider_department=F("customer_department"))
            & ~Q(provider_employee=F("customer_employee")),
            name=f"{name_prefix}_not_self",
        ),
    ]


class Workflow(models.Model):
    """A business workflow (流程) with ordered steps; consecutive steps give process edges."""

    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    history = _audited("code")

    class Meta:
        verbose_name = _("workflow")
        verbose_name_plural = _("workflows")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class WorkflowStep(models.Model):
    workflow = models.ForeignKey(
        Workflow, verbose_name=_("workflow"), on_delete=models.CASCADE, related_name="steps"
    )
    position = models.PositiveIntegerField(_("position"))
    name = models.CharField(_("name"), max_length=200)
    owner_department = models.ForeignKey(
        Department,
        verbose_name=_("owner department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    owner_employee = models.ForeignKey(
        Employee,
        verbose_name=_("owner employee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    history = _audited("workflow", "owner_department", "owner_employee")

    class Meta:
        verbose_name = _("workflow step")
        verbose_name_plural = _("workflow steps")
        ordering = ["workflow", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=one_end("owner_"), name="relations_workflowstep_one_owner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow.name} #{self.position} {self.name}"

    @property
    def owner(self):
        return self.owner_department or self.owner_employee


class RelationPairQuerySet(models.QuerySet):
    def active(self):
        return self.filter(valid_to__isnull=True)


class RelationPair(models.Model):
    """One mutual relationship: owns exactly the forward and the reverse edge."""

    type = models.CharField(_("type"), max_length=16, choices=EdgeType.choices)
    workflow = models.ForeignKey(
        Workflow,
        verbose_name=_("from workflow"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="process_pairs",
        help_text=_("For process relationships: the workflow whose steps produced it."),
    )
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)

    objects = RelationPairQuerySet.as_manager()
    history = _audited("workflow")

    class Meta:
        verbose_name = _("relationship pair")
        verbose_name_plural = _("relationship pairs")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="relations_relationpair_valid_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.valid_to is None


class EdgeQuerySet(models.QuerySet):
    def active(self):
        return self.filter(valid_to__isnull=True)

    def of_type(self, edge_type: str):
        return self.filter(type=edge_type)

    def for_provider(self, end):
        return self.filter(**_end_filter("provider", end))

    def for_customer(self, end):
        return self.filter(**_end_filter("customer", end))

    def touching_employee(self, employee_id: int):
        return self.filter(
            Q(provider_employee_id=employee_id) | Q(customer_employee_id=employee_id)
        )

    def with_ends(self):
        return self.select_related(
            "provider_department", "provider_employee", "customer_department", "customer_employee"
        )


def _end_filter(side: str, end) -> dict:
    if isinstance(end, Department):
        return {f"{side}_department": end}
    if isinstance(end, Employee):
        return {f"{side}_employee": end}
    raise TypeError(f"An edge end is a Department or an Employee, not {type(end).__name__}")


# Service texts ICR writes itself (rank pairs follow the reporting line) are stored as their
# English source, which is their key, whatever the language of the process that wrote them,
# and shown in the reader's language (`service_text`). What HR wrote is shown as written.
RANK_TASK_SERVICE = "Work results on assigned tasks"
RANK_CONDITION_SERVICE = "Resources, opportunities and support"
GENERATED_SERVICES = {
    RANK_TASK_SERVICE: _("Work results on assigned tasks"),
    RANK_CONDITION_SERVICE: _("Resources, opportunities and support"),
}


def service_text(service: str, *, provider: str, customer: str) -> str:
    """A relationship's service as the reader reads it: a text ICR generated in the reader's
    language, HR's text as written, and without one, what the relationship is."""
    generated = GENERATED_SERVICES.get(service)
    if generated is not None:
        return str(generated)
    if service:
        return service
    return str(
        _("The service %(provider)s provides to %(customer)s")
        % {"provider": provider, "customer": customer}
    )


class Edge(models.Model):
    """A directed relationship provider → customer: the customer receives the service."""

    # No single-column indexes on the FKs: the (pair, direction) and (end, type) indexes below
    # cover them, and each extra index slows every bulk insert of edges.
    pair = models.ForeignKey(
        RelationPair,
        verbose_name=_("pair"),
        on_delete=models.PROTECT,
        related_name="edges",
        db_index=False,
    )
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    type = models.CharField(_("type"), max_length=16, choices=EdgeType.choices)
    rank_kind = models.CharField(
        _("rank kind"), max_length=16, choices=RankKind.choices, blank=True, default=""
    )
    provider_department = models.ForeignKey(
        Department,
        verbose_name=_("provider department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="edges_as_provider",
        db_index=False,
    )
    provider_employee = models.ForeignKey(
        Employee,
        verbose_name=_("provider employee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="edges_as_provider",
        db_index=False,
    )
    customer_department = models.ForeignKey(
        Department,
        verbose_name=_("customer department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="edges_as_customer",
        db_index=False,
    )
    customer_employee = models.ForeignKey(
        Employee,
        verbose_name=_("customer employee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="edges_as_customer",
        db_index=False,
    )
    service = models.TextField(_("service"), blank=True)
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)

    objects = EdgeQuerySet.as_manager()
    history = _audited(
        "pair",
        "provider_department",
        "provider_employee",
        "customer_department",
        "customer_employee",
    )

    class Meta:
        verbose_name = _("relationship")
        verbose_name_plural = _("relationships")
        ordering = ["type", "pair_id", "direction"]
        constraints = [
            models.UniqueConstraint(
                fields=["pair", "direction"], name="relations_edge_one_per_direction"
            ),
            *relationship_end_constraints("relations_edge"),
            models.CheckConstraint(
                condition=Q(type=EdgeType.RANK, direction=Direction.FORWARD, rank_kind="task")
                | Q(type=EdgeType.RANK, direction=Direction.REVERSE, rank_kind="condition")
                | (~Q(type=EdgeType.RANK) & Q(rank_kind="")),
                name="relations_edge_rank_kind_matches",
            ),
            models.CheckConstraint(
                condition=~Q(type=EdgeType.RANK)
                | Q(provider_employee__isnull=False, customer_employee__isnull=False),
                name="relations_edge_rank_between_people",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="relations_edge_valid_period",
            ),
            # NULL ends are folded to 0 so the index treats "no department" as a value.
            models.UniqueConstraint(
                "type",
                "rank_kind",
                Coalesce("provider_department", 0),
                Coalesce("provider_employee", 0),
                Coalesce("customer_department", 0),
                Coalesce("customer_employee", 0),
                condition=Q(valid_to__isnull=True),
                name="relations_edge_one_active_per_ends",
            ),
        ]
        # Partial: each edge has one provider and one customer end, so it sits in two of these
        # four indexes, not in all four with NULLs (an import writes 200,000 edges at once).
        indexes = [
            models.Index(
                fields=["provider_employee", "type"],
                name="relations_edge_prov_emp",
                condition=Q(provider_employee__isnull=False),
            ),
            models.Index(
                fields=["customer_employee", "type"],
                name="relations_edge_cust_emp",
                condition=Q(customer_employee__isnull=False),
            ),
            models.Index(
                fields=["provider_department", "type"],
                name="relations_edge_prov_dep",
                condition=Q(provider_department__isnull=False),
            ),
            models.Index(
                fields=["customer_department", "type"],
                name="relations_edge_cust_dep",
                condition=Q(customer_department__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} → {self.customer} ({self.get_type_display()})"

    @property
    def provider(self):
        return self.provider_department or self.provider_employee

    @property
    def customer(self):
        return self.customer_department or self.customer_employee

    @property
    def is_active(self) -> bool:
        return self.valid_to is None

    @property
    def reverse(self) -> Edge:
        other = Direction.REVERSE if self.direction == Direction.FORWARD else Direction.FORWARD
        return Edge.objects.get(pair_id=self.pair_id, direction=other)

    def type_label(self) -> str:
        if self.type == EdgeType.RANK:
            return f"{self.get_type_display()} · {self.get_rank_kind_display()}"
        return str(self.get_type_display())


class ImportVia(models.TextChoices):
    ADMIN = "admin", _("Admin upload")
    COMMAND = "command", _("import_org command")
    API = "api", _("REST API (org sync)")


class OrgImport(models.Model):
    """One applied import of HR's files: the audit event the rows it wrote point at.

    Written in the import's own transaction, so an import that rolled back left no record and
    every record stands for data that was committed.
    """

    at = models.DateTimeField(_("at"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("run by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,  # the record is append-only: its user stays
        related_name="+",
    )
    via = models.CharField(_("via"), max_length=16, choices=ImportVia.choices)
    system_user = models.CharField(
        _("system account"),
        max_length=150,
        blank=True,
        help_text=_("For the import_org command: the operating-system account that ran it."),
    )
    # [{"kind": "departments", "name": "departments.csv", "sha256": "…", "bytes": 1234}, …]
    files = models.JSONField(_("files"), default=list)
    changes = models.JSONField(_("changes"), default=dict)  # ImportChanges.as_dict()
    summary = models.JSONField(_("summary after the import"), default=dict)  # ImportSummary

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {timezone.localtime(self.at):%Y-%m-%d %H:%M}"
