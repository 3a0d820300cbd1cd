"""HR's admin: proposed relationships to accept or decline, needs to follow (read-only), and
the relationships raters of a cycle said they did not receive."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from reviews.models import Cycle, CycleStatus

from . import selectors, services
from .models import Need, ProposalStatus, RelationshipProposal


@admin.register(RelationshipProposal)
class RelationshipProposalAdmin(admin.ModelAdmin):
    list_display = (
        "provider",
        "customer",
        "type",
        "service",
        "proposer",
        "created_at",
        "status",
        "pair_link",
    )
    list_filter = ("status", "type")
    search_fields = ("service", "proposer__name", "proposer__employee_id")
    list_select_related = (
        "proposer",
        "provider_department",
        "provider_employee",
        "customer_department",
        "customer_employee",
    )
    readonly_fields = (
        "proposer",
        "type",
        "provider_department",
        "provider_employee",
        "customer_department",
        "customer_employee",
        "service",
        "reverse_service",
        "note",
        "created_at",
        "status",
        "decided_by",
        "decided_at",
        "pair",
    )
    fields = (*readonly_fields, "decision_note")
    actions = ["accept_selected", "decline_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("relationship created"))
    def pair_link(self, obj: RelationshipProposal):
        if obj.pair_id is None:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>',
            reverse("admin:relations_relationpair_change", args=[obj.pair_id]),
            obj.pair_id,
        )

    def save_model(self, request, obj, form, change):
        # Only HR's note is editable here; deciding goes through the actions.
        RelationshipProposal.objects.filter(pk=obj.pk).update(decision_note=obj.decision_note)

    @admin.action(description=_("Accept: create the relationship and its reverse"))
    def accept_selected(self, request, queryset):
        self._decide(request, queryset, services.accept_proposal, _("%(n)d accepted."))

    @admin.action(description=_("Decline the selected proposals"))
    def decline_selected(self, request, queryset):
        self._decide(request, queryset, services.decline_proposal, _("%(n)d declined."))

    def _decide(self, request, queryset, operation, done_text):
        done = 0
        for proposal in queryset.filter(status=ProposalStatus.PENDING):
            try:
                operation(proposal, user=request.user, note=proposal.decision_note)
            except services.NeedError as exc:
                self.message_user(request, f"{proposal}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_text % {"n": done}, messages.SUCCESS)

    def get_urls(self):
        urls = [
            path(
                "not-received/",
                self.admin_site.admin_view(self.not_received_view),
                name="needs_not_received",
            )
        ]
        return urls + super().get_urls()

    def not_received_view(self, request):
        """Relationship groups raters of a closed cycle did not receive, for HR to review."""
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        cycles = Cycle.objects.filter(status=CycleStatus.CLOSED).order_by("-deadline", "-id")
        cycle_id = request.GET.get("cycle", "")
        if cycle_id.isdigit():
            cycle = get_object_or_404(cycles, pk=int(cycle_id))
        else:
            cycle = cycles.first()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Relationships raters did not receive"),
            "opts": self.model._meta,
            "cycles": cycles,
            "cycle": cycle,
            "groups": selectors.not_received_groups(cycle) if cycle else [],
            "min_comment": settings.ICR_MIN_COMMENT_RATERS,
        }
        return TemplateResponse(request, "admin/needs/not_received.html", context)


@admin.register(Need)
class NeedAdmin(admin.ModelAdmin):
    """Read-only: a need is the customer's and the provider's head's; HR follows them. The
    raiser shows only where they gave their name; the key that recognises them does not."""

    list_display = (
        "raised_on",
        "kind",
        "edge_type",
        "provider_department",
        "provider_employee",
        "customer_department",
        "status",
        "answered_on",
        "raised_by",
    )
    list_filter = ("status", "kind", "edge_type")
    list_select_related = (
        "provider_department",
        "provider_employee",
        "customer_department",
        "raiser",
    )
    exclude = ("raiser_key",)
    show_full_result_count = False

    @admin.display(description=_("raised by"))
    def raised_by(self, obj: Need):
        return obj.raiser if obj.named else _("anonymous")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
