"""HR's admin for the org chart and the relationship graph, and the record of imports.

Every write goes through relations.services, so the admin cannot break the graph: adding an
edge creates its reverse, changing one changes its pair, "deleting" retires the pair (rows
stay for history), a new manager replaces the rank edges, and saving a workflow re-syncs the
process edges. Each model's "History" page shows every version of a row with who wrote it
(`icr.history`); "Imports" lists the applied imports.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, IntegerField, OuterRef, Prefetch, Q, Subquery, Value, When
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from icr import history
from icr.history_admin import AuditedAdmin

from . import services
from .forms import (
    DepartmentAdminForm,
    EdgeAdminForm,
    EmployeeAdminForm,
    WorkflowStepInlineForm,
    send_password_set_link,
)
from .importing import ImportChanges, ImportSummary
from .lockout import unlock_logins
from .models import (
    GENERATED_SERVICES,
    Department,
    Direction,
    Edge,
    EdgeType,
    Employee,
    OrgImport,
    RelationPair,
    Workflow,
    WorkflowStep,
)


class ActiveFilter(admin.SimpleListFilter):
    """Active means not retired (valid_to is empty)."""

    title = _("active")
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", _("Active")), ("no", _("Retired"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(valid_to__isnull=True)
        if self.value() == "no":
            return queryset.filter(valid_to__isnull=False)
        return queryset


# --- Departments ----------------------------------------------------------------------------


def department_tree() -> list[tuple[int, int]]:
    """(id, depth) of every department in tree order: parents first, siblings by code.

    One query; the tree is small enough to walk in Python. A department caught in a cycle
    (the database cannot rule it out on SQLite) is listed once, at the top level.
    """
    rows = list(Department.objects.order_by("code").values_list("id", "parent_id"))
    ids = {pk for pk, _parent in rows}
    children: dict[int | None, list[int]] = {}
    for pk, parent in rows:
        children.setdefault(parent if parent in ids else None, []).append(pk)
    order: list[tuple[int, int]] = []
    seen: set[int] = set()

    def walk(roots: list[int]) -> None:
        stack = [(pk, 0) for pk in reversed(roots)]
        while stack:
            pk, depth = stack.pop()
            if pk in seen:
                continue
            seen.add(pk)
            order.append((pk, depth))
            stack.extend((child, depth + 1) for child in reversed(children.get(pk, [])))

    walk(children.get(None, []))
    walk([pk for pk, _parent in rows if pk not in seen])  # cycles: not reachable from a root
    return order


def _is_changelist(request, model) -> bool:
    match = getattr(request, "resolver_match", None)
    opts = model._meta
    return bool(match) and match.url_name == f"{opts.app_label}_{opts.model_name}_changelist"


class DepartmentChangeList(ChangeList):
    def _get_default_ordering(self):
        # Tree order unless HR sorts by a column (the annotation is in get_queryset).
        return ["tree_position"]


@admin.register(Department)
class DepartmentAdmin(AuditedAdmin):
    form = DepartmentAdminForm
    list_display = ["tree_name", "code", "parent", "head", "line", "active"]
    list_display_links = ["tree_name"]
    list_filter = ["active", "line", ("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent", "head"]
    list_select_related = ["parent", "head"]
    list_per_page = 200

    class Media:
        # Indents tree_name by its data-depth: the CSP refuses style attributes.
        js = ["icr/admin_tree.js"]

    def get_queryset(self, request):
        qs = self.model._default_manager.get_queryset()
        if not _is_changelist(request, self.model):
            return qs
        # The changelist is ordered as a tree and indented by depth: both computed from one
        # read of the tree and handed to the database as CASE expressions (depth grouped by
        # level, so that one stays small).
        # The changelist asks twice (its root queryset and its filters' one): read it once.
        tree = getattr(request, "_icr_department_tree", None)
        if tree is None:
            tree = request._icr_department_tree = department_tree()
        by_depth: dict[int, list[int]] = {}
        for pk, depth in tree:
            by_depth.setdefault(depth, []).append(pk)
        position = Case(
            *[When(pk=pk, then=Value(i)) for i, (pk, _depth) in enumerate(tree)],
            default=Value(len(tree)),
            output_field=IntegerField(),
        )
        depth = Case(
            *[When(pk__in=pks, then=Value(d)) for d, pks in by_depth.items()],
            default=Value(0),
            output_field=IntegerField(),
        )
        return qs.annotate(tree_position=position, tree_depth=depth)

    def get_changelist(self, request, **kwargs):
        return DepartmentChangeList

    @admin.display(description=_("name"), ordering="tree_position")
    def tree_name(self, obj: Department):
        depth = getattr(obj, "tree_depth", 0)
        return format_html(
            '<span class="icr-tree-node" data-depth="{}">{}{}</span>',
            depth,
            "└ " if depth else "",
            obj.name,
        )

    def save_model(self, request, obj, form, change):
        if change and "parent" in form.changed_data:
            new_parent = obj.parent
            obj.parent_id = form.initial.get("parent")
            super().save_model(request, obj, form, change)
            # The service re-checks the tree inside its transaction.
            services.set_department_parent(obj, new_parent)
        else:
            super().save_model(request, obj, form, change)
        if change and "active" in form.changed_data and not obj.active:
            # A closed department has no relationships left (its history stays).
            services.retire_edges_of_departments([obj.pk])
            services.sync_process_edges()


# --- Employees ------------------------------------------------------------------------------


class HasManagerFilter(admin.SimpleListFilter):
    title = _("has manager")
    parameter_name = "has_manager"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(manager__isnull=False)
        if self.value() == "no":
            return queryset.filter(manager__isnull=True)
        return queryset


@admin.register(Employee)
class EmployeeAdmin(AuditedAdmin):
    form = EmployeeAdminForm
    list_display = ["employee_id", "name", "email", "department", "manager", "title", "active"]
    list_filter = ["active", HasManagerFilter, ("department", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["employee_id", "name", "email"]
    autocomplete_fields = ["department", "manager"]
    list_select_related = ["department", "manager"]
    actions = ["send_password_set_links", "unlock_sign_in", "deactivate_selected"]

    def get_readonly_fields(self, request, obj=None):
        # The employee id is the login name; changing it would change how the person signs in.
        return ["employee_id", "login"] if obj else []

    def get_fields(self, request, obj=None):
        fields = [
            "employee_id",
            "name",
            "email",
            "department",
            "manager",
            "title",
            "language",
            "active",
        ]
        return [*fields, "login"] if obj else fields

    def has_delete_permission(self, request, obj=None):
        # People leave; they are not deleted. Their edges stay in the history.
        return False

    @admin.display(description=_("login"))
    def login(self, obj: Employee):
        if obj.user_id is None:
            return _("none")
        user = obj.user
        if not user.is_active:
            return _("%(username)s (disabled)") % {"username": user.username}
        if not user.has_usable_password():
            return _("%(username)s (no password set yet)") % {"username": user.username}
        return user.username

    def save_model(self, request, obj, form, change):
        if not change:
            employee = services.hire_employee(
                employee_id=obj.employee_id,
                name=obj.name,
                department=obj.department,
                email=obj.email,
                manager=obj.manager,
                title=obj.title,
                language=obj.language,
            )
            obj.pk, obj.user_id = employee.pk, employee.user_id
            if not obj.active:
                services.deactivate_employees([obj.pk])
            return
        special = {"manager", "active", "department"}
        plain = [name for name in form.changed_data if name not in special]
        if plain:
            # The instance already holds the new manager, department and active flag, which
            # the services below write: its version is recorded from the table instead.
            obj.skip_history_when_saving = True
            obj.save(update_fields=plain)
            del obj.skip_history_when_saving
            history.record(Employee.objects.filter(pk=obj.pk))
        if "email" in plain and obj.user_id:
            get_user_model().objects.filter(pk=obj.user_id).update(email=obj.email)
        if "department" in form.changed_data:
            services.move_employee(obj, obj.department)
        if "manager" in form.changed_data:
            services.change_manager(obj, obj.manager)  # retires the old rank pair, makes the new
        if "active" in form.changed_data:
            if obj.active:
                services.reactivate_employee(obj)
            else:
                services.deactivate_employees([obj.pk])

    @admin.action(permissions=["change"], description=_("Send a password-set link by e-mail"))
    def send_password_set_links(self, request, queryset):
        sent, skipped = 0, []
        for employee in queryset.filter(active=True).select_related("user"):
            if not employee.email:
                skipped.append(employee.name)
                continue
            user = employee.user or services.create_login(employee)
            if user.email != employee.email:
                get_user_model().objects.filter(pk=user.pk).update(email=employee.email)
                user.email = employee.email
            with translation.override(employee.language):
                send_password_set_link(user, request)
            sent += 1
        if sent:
            self.message_user(
                request,
                ngettext(
                    "Sent a password-set link to %(count)d person.",
                    "Sent password-set links to %(count)d people.",
                    sent,
                )
                % {"count": sent},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                _("No e-mail address, no link sent: %(names)s") % {"names": ", ".join(skipped)},
                messages.WARNING,
            )

    @admin.action(permissions=["change"], description=_("Unlock sign-in after too many failures"))
    def unlock_sign_in(self, request, queryset):
        employees = list(queryset.filter(user__isnull=False).select_related("user"))
        unlocked = unlock_logins(employee.user.get_username() for employee in employees)
        for employee in employees:
            if employee.user.get_username() in unlocked:
                self.log_change(request, employee, gettext("Unlocked sign-in"))
        count = len(unlocked)
        if count:
            self.message_user(
                request,
                ngettext(
                    "Unlocked the sign-in of %(count)d person.",
                    "Unlocked the sign-in of %(count)d people.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request, _("None of them was locked out by failed sign-ins."), messages.INFO
            )

    @admin.action(
        permissions=["change"],
        description=_("Deactivate selected employees (they left; their relationships retire)"),
    )
    def deactivate_selected(self, request, queryset):
        count = services.deactivate_employees(list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("Deactivated %(count)d employee.", "Deactivated %(count)d employees.", count)
            % {"count": count},
            messages.SUCCESS,
        )


# --- Relationships --------------------------------------------------------------------------

END_FIELDS = [
    "provider_department",
    "provider_employee",
    "customer_department",
    "customer_employee",
]


def hr_can_edit_ends(edge: Edge) -> bool:
    """Rank edges follow the reporting line and a workflow's process edges its steps."""
    if edge.type == EdgeType.PROCESS:
        return edge.pair.workflow_id is None
    return edge.type in (EdgeType.FUNCTION, EdgeType.WORKFLOW)


# The same rule as a filter: what HR may retire or re-point.
HR_SET = Q(type__in=[EdgeType.FUNCTION, EdgeType.WORKFLOW]) | Q(
    type=EdgeType.PROCESS, pair__workflow__isnull=True
)


@admin.register(Edge)
class EdgeAdmin(AuditedAdmin):
    form = EdgeAdminForm
    list_display = [
        "id",
        "type_display",
        "provider",
        "customer",
        "service_short",
        "reverse_display",
        "valid_from",
        "valid_to",
    ]
    list_filter = [
        "type",
        "rank_kind",
        ActiveFilter,
        ("provider_department", admin.RelatedOnlyFieldListFilter),
        ("customer_department", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = [
        "provider_employee__employee_id",
        "provider_employee__name",
        "customer_employee__employee_id",
        "customer_employee__name",
        "provider_department__code",
        "provider_department__name",
        "customer_department__code",
        "customer_department__name",
    ]
    list_select_related = [
        "provider_department",
        "provider_employee",
        "customer_department",
        "customer_employee",
    ]
    autocomplete_fields = END_FIELDS
    actions = ["retire_selected"]

    def get_queryset(self, request):
        # The reverse of each edge, for the changelist column, in the same query.
        other = Edge.objects.filter(pair_id=OuterRef("pair_id")).exclude(pk=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                reverse_id=Subquery(other.values("id")[:1]),
                reverse_service=Subquery(other.values("service")[:1]),
            )
        )

    # Columns

    @admin.display(description=_("type"), ordering="type")
    def type_display(self, obj: Edge):
        return obj.type_label()

    @admin.display(description=_("service"))
    def service_short(self, obj: Edge):
        # A text ICR generated in HR's language; what HR wrote as written.
        return Truncator(GENERATED_SERVICES.get(obj.service, obj.service)).chars(60)

    @admin.display(description=_("reverse"))
    def reverse_display(self, obj: Edge):
        url = reverse("admin:relations_edge_change", args=[obj.reverse_id])
        return format_html(
            '<a href="{}">#{}</a> {}',
            url,
            obj.reverse_id,
            Truncator(GENERATED_SERVICES.get(obj.reverse_service, obj.reverse_service or "")).chars(
                60
            ),
        )

    @admin.display(description=_("reverse"))
    def reverse_link(self, obj: Edge):
        edge = obj.reverse
        url = reverse("admin:relations_edge_change", args=[edge.pk])
        return format_html('<a href="{}">#{} {}</a><br>{}', url, edge.pk, edge, edge.service)

    # Form

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["type", *END_FIELDS, "service", "reverse_service"]
        fields = ["type", "rank_kind", "direction", "pair", *END_FIELDS, "service"]
        if self.has_change_permission(request, obj):
            fields.append("reverse_service")
        return [*fields, "reverse_link", "valid_from", "valid_to"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = [
            "type",
            "rank_kind",
            "direction",
            "pair",
            "reverse_link",
            "valid_from",
            "valid_to",
        ]
        if not hr_can_edit_ends(obj):
            readonly += END_FIELDS
        return readonly

    def has_change_permission(self, request, obj=None):
        # Retired edges are history; rank edges follow the reporting line.
        if obj is not None and (not obj.is_active or obj.type == EdgeType.RANK):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and (not obj.is_active or not hr_can_edit_ends(obj)):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            forward = services.create_pair(
                data["type"],
                data["provider_department"] or data["provider_employee"],
                data["customer_department"] or data["customer_employee"],
                service=data.get("service", ""),
                reverse_service=data.get("reverse_service", ""),
            )
            obj.pk, obj.pair_id, obj.valid_from = forward.pk, forward.pair_id, forward.valid_from
            return
        original = Edge.objects.get(pk=obj.pk)
        kwargs = {
            "service": data.get("service", original.service),
            "reverse_service": data.get("reverse_service"),
        }
        if "provider_department" in form.fields:
            kwargs["provider"] = data["provider_department"] or data["provider_employee"]
            kwargs["customer"] = data["customer_department"] or data["customer_employee"]
        # New ends make a new pair (the old one retires); the admin then shows the new edge.
        changed = services.change_edge(original, **kwargs)
        obj.pk, obj.pair_id, obj.valid_from = changed.pk, changed.pair_id, changed.valid_from

    # Deleting is retiring: the pair and both its edges get valid_to; no row is deleted.

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_deleted_objects(self, objs, request):
        edges = list(objs)
        shown = []
        for edge in edges:
            shown.append(str(edge))
            shown.append(str(edge.reverse))
        return shown, {Edge._meta.verbose_name_plural: len(shown)}, set(), []

    def delete_view(self, request, object_id, extra_context=None):
        extra = {"title": _("Retire relationship"), **(extra_context or {})}
        return super().delete_view(request, object_id, extra)

    def log_deletions(self, request, queryset):
        return LogEntry.objects.log_actions(
            user_id=request.user.pk,
            queryset=queryset,
            action_flag=CHANGE,
            change_message=gettext("Retired, with its reverse."),
            single_object=len(queryset) == 1,
        )

    def delete_model(self, request, obj):
        services.retire_edge(obj)

    def delete_queryset(self, request, queryset):
        retirable = queryset.filter(HR_SET, valid_to__isnull=True)
        rows = set(retirable.values_list("pair_id", "type"))
        with transaction.atomic():
            count = services.retire_pairs(sorted(pair_id for pair_id, _type in rows))
            if any(edge_type == EdgeType.PROCESS for _pair, edge_type in rows):
                # As retire_edge does: workflow steps may still link these ends.
                services.sync_process_edges()
        return count

    def response_delete(self, request, obj_display, obj_id):
        self.message_user(
            request,
            _("The relationship “%(obj)s” and its reverse were retired.") % {"obj": obj_display},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:relations_edge_changelist"))

    @admin.action(
        permissions=["delete"],
        description=_("Retire selected relationships (with their reverses)"),
    )
    def retire_selected(self, request, queryset):
        retirable = queryset.filter(HR_SET, valid_to__isnull=True).with_ends()
        if request.POST.get("post") == "yes":
            count = self.delete_queryset(request, retirable)
            self.message_user(
                request,
                ngettext(
                    "Retired %(count)d relationship with its reverse.",
                    "Retired %(count)d relationships with their reverses.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Retire relationships"),
            "opts": self.opts,
            "edges": list(retirable),
            "skipped": queryset.count() - retirable.count(),
            "queryset": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/relations/edge/retire_selected_confirmation.html", context
        )


class PairEdgeInline(admin.TabularInline):
    model = Edge
    fields = [
        "direction",
        "type",
        "rank_kind",
        "provider",
        "customer",
        "service",
        "valid_from",
        "valid_to",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).with_ends()

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RelationPair)
class RelationPairAdmin(AuditedAdmin):
    """Read-only: pairs are made and retired through their edges."""

    list_display = ["id", "between", "type", "workflow", "valid_from", "valid_to"]
    list_filter = ["type", ActiveFilter]
    list_select_related = ["workflow"]
    inlines = [PairEdgeInline]

    def get_queryset(self, request):
        # The forward edge with its two ends, for every pair of the page in one more query.
        forward = Edge.objects.filter(direction=Direction.FORWARD).with_ends()
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("edges", queryset=forward, to_attr="forward_edges"))
        )

    @admin.display(description=_("Between (provider → customer)"))
    def between(self, obj):
        edge = next(iter(getattr(obj, "forward_edges", [])), None)
        if edge is None:
            return "—"
        return f"{edge.provider} → {edge.customer}"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Workflows ------------------------------------------------------------------------------


class WorkflowStepInline(admin.TabularInline):
    model = WorkflowStep
    form = WorkflowStepInlineForm
    fields = ["position", "name", "owner_department", "owner_employee"]
    autocomplete_fields = ["owner_department", "owner_employee"]
    ordering = ["position", "id"]
    extra = 1


@admin.register(Workflow)
class WorkflowAdmin(AuditedAdmin):
    list_display = ["code", "name", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    inlines = [WorkflowStepInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Process edges follow consecutive steps: bring them in line with what was saved.
        services.sync_process_edges()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        services.sync_process_edges()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        services.sync_process_edges()


# --- The audit trail of imports ---------------------------------------------------------------


@admin.register(OrgImport)
class OrgImportAdmin(admin.ModelAdmin):
    """Read-only: an import record is written by the import itself, once."""

    list_display = ["id", "at", "run_by", "via", "file_hashes", "changes_short"]
    list_filter = ["via"]
    list_select_related = ["user"]
    date_hierarchy = "at"
    fields = ["at", "run_by", "via", "file_table", "change_lines", "summary_lines"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("run by"), ordering="user__username")
    def run_by(self, obj: OrgImport):
        if obj.user_id is not None:
            return obj.user.get_username()
        if obj.system_user:
            return gettext("%(account)s (system account)") % {"account": obj.system_user}
        return "—"

    @admin.display(description=_("files (SHA-256)"))
    def file_hashes(self, obj: OrgImport):
        return format_html_join(
            mark_safe("<br>"),
            "{}: <code>{}</code>",
            ((f.get("name", ""), f.get("sha256", "")) for f in obj.files),
        )

    @admin.display(description=_("files"))
    def file_table(self, obj: OrgImport):
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            gettext("kind"),
            gettext("name"),
            gettext("bytes"),
            "SHA-256",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                (
                    (f.get("kind", ""), f.get("name", ""), f.get("bytes", ""), f.get("sha256", ""))
                    for f in obj.files
                ),
            ),
        )

    @admin.display(description=_("changes"))
    def changes_short(self, obj: OrgImport):
        lines = ImportChanges.from_dict(obj.changes).lines()
        return Truncator("; ".join(lines) or gettext("Nothing changed.")).chars(120)

    @admin.display(description=_("changes"))
    def change_lines(self, obj: OrgImport):
        lines = ImportChanges.from_dict(obj.changes).lines() or [gettext("Nothing changed.")]
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))

    @admin.display(description=_("summary after the import"))
    def summary_lines(self, obj: OrgImport):
        lines = ImportSummary.from_dict(obj.summary).lines()
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))
