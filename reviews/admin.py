"""HR's admin for evaluations. Answers are not in the admin: they are read only as rollups."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from icr.history_admin import AuditedAdmin
from relations.models import EdgeType

from . import channels, services
from .models import (
    Channel,
    Criterion,
    CriterionKind,
    Cycle,
    CycleEvent,
    CycleStatus,
    CycleTemplate,
    DepartmentEvaluator,
    Handoff,
    HandoffPolicy,
    MessagingSettings,
    NotificationLog,
    ReviewRequest,
    ServiceCommitment,
)


class EdgeTypesField(forms.MultipleChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("choices", EdgeType.choices)
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple)
        super().__init__(**kwargs)


class OffsetsField(forms.CharField):
    """Reminder offsets typed as "3, 1" (days before the deadline)."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        try:
            offsets = sorted(
                {int(part) for part in text.replace("，", ",").split(",") if part.strip()}
            )
        except ValueError as exc:
            raise forms.ValidationError(
                _("Enter whole numbers of days, separated by commas.")
            ) from exc
        if any(o < 0 for o in offsets):
            raise forms.ValidationError(_("Offsets are days before the deadline, 0 or more."))
        return list(reversed(offsets))


class CriterionForm(forms.ModelForm):
    edge_types = EdgeTypesField(
        label=_("Relationship types"),
        required=False,
        choices=CriterionKind.choices,
        help_text=_(
            "None ticked means all types. A rank request is asked the criteria ticked for its "
            "direction (task or condition customer) when its cycle has any, else those for "
            "rank or all types."
        ),
    )

    class Meta:
        model = Criterion
        fields = (
            "code",
            "name_zh",
            "name_en",
            "description_zh",
            "description_en",
            "active",
            "order",
            "edge_types",
        )


@admin.register(Criterion)
class CriterionAdmin(AuditedAdmin):
    form = CriterionForm
    list_display = ("name_zh", "name_en", "code", "order", "active", "types")
    list_editable = ("order", "active")
    list_filter = ("active",)

    @admin.display(description=_("Relationship types"))
    def types(self, obj: Criterion) -> str:
        if not obj.edge_types:
            return str(_("All"))
        return ", ".join(
            str(CriterionKind(t).label) for t in obj.edge_types if t in CriterionKind.values
        )


class CycleTemplateForm(forms.ModelForm):
    edge_types = EdgeTypesField(label=_("Relationship types"))
    reminder_offsets = OffsetsField(label=_("Reminder offsets (days before the deadline)"))

    class Meta:
        model = CycleTemplate
        fields = (
            "name",
            "active",
            "cadence",
            "edge_types",
            "criteria",
            "open_days",
            "period_days",
            "reminder_offsets",
            "member_limit",
        )


@admin.register(CycleTemplate)
class CycleTemplateAdmin(AuditedAdmin):
    form = CycleTemplateForm
    list_display = ("name", "cadence", "active", "schedule_link")
    filter_horizontal = ("criteria",)

    @admin.display(description=_("Schedule"))
    def schedule_link(self, obj: CycleTemplate):
        if obj.periodic_task_id is None:
            return "—"
        url = reverse("admin:django_celery_beat_periodictask_change", args=[obj.periodic_task_id])
        return format_html('<a href="{}">{}</a>', url, obj.periodic_task)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The beat schedule follows the template: monthly/quarterly crontab, enabled if active.
        services.sync_template_schedule(form.instance)


class CycleForm(forms.ModelForm):
    edge_types = EdgeTypesField(label=_("Relationship types"))
    reminder_offsets = OffsetsField(label=_("Reminder offsets (days before the deadline)"))

    class Meta:
        model = Cycle
        fields = (
            "name",
            "period_start",
            "period_end",
            "opens_at",
            "deadline",
            "edge_types",
            "criteria",
            "reminder_offsets",
            "member_limit",
            "request_cap",
        )


# How an event's recorded figures read in the admin, instead of its raw JSON.
EVENT_DATA_LABELS = {
    "requests": _("requests"),
    "answered": _("answered"),
    "round": _("reminder round"),
    "raters": _("raters"),
}


class CycleEventInline(admin.TabularInline):
    model = CycleEvent
    extra = 0
    can_delete = False
    fields = ("kind", "at", "actor", "details")
    readonly_fields = fields

    @admin.display(description=_("details"))
    def details(self, obj: CycleEvent) -> str:
        data = obj.data if isinstance(obj.data, dict) else {}
        return " · ".join(
            f"{EVENT_DATA_LABELS.get(key, key)}: {value}" for key, value in data.items()
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Cycle)
class CycleAdmin(AuditedAdmin):
    form = CycleForm
    list_display = ("name", "status", "opens_at", "deadline", "monitor_link")
    list_filter = ("status",)
    filter_horizontal = ("criteria",)
    inlines = [CycleEventInline]
    # Closing is done from the monitoring page, after a confirmation that says what it does.
    actions = ["open_selected"]

    def get_readonly_fields(self, request, obj=None):
        # What a cycle asks is fixed once it opened; only the deadline and reminders may move.
        if obj is not None and obj.status != CycleStatus.DRAFT:
            return (
                "name",
                "period_start",
                "period_end",
                "opens_at",
                "asked_types",
                "criteria",
                "member_limit",
                "request_cap",
            )
        return ()

    @admin.display(description=_("relationship types"))
    def asked_types(self, obj: Cycle) -> str:
        return ", ".join(str(EdgeType(t).label) for t in sorted(obj.asked_types()))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and obj.status != CycleStatus.DRAFT:
            kwargs["fields"] = ("deadline", "reminder_offsets")
        return super().get_form(request, obj, change, **kwargs)

    @admin.display(description=_("Progress"))
    def monitor_link(self, obj: Cycle):
        return format_html(
            '<a href="{}">{}</a>', reverse("reviews:monitor", args=[obj.pk]), _("Monitor")
        )

    @admin.action(description=_("Open the selected cycles"))
    def open_selected(self, request, queryset):
        for cycle in queryset:
            try:
                summary = services.open_cycle(cycle, actor=request.user)
            except services.ReviewError as exc:
                self.message_user(request, f"{cycle}: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(cycle)s: %(total)d requests for %(raters)d raters.")
                    % {"cycle": cycle, "total": summary.total, "raters": summary.raters},
                    messages.SUCCESS,
                )


@admin.register(DepartmentEvaluator)
class DepartmentEvaluatorAdmin(admin.ModelAdmin):
    list_display = ("department", "employee")
    raw_id_fields = ("department", "employee")
    search_fields = ("department__name", "department__code", "employee__name")


@admin.register(ReviewRequest)
class ReviewRequestAdmin(admin.ModelAdmin):
    """Who was asked what, and whether they answered; never what they answered."""

    list_display = ("rater_name", "provider_name", "edge_type", "cycle", "status")
    list_filter = ("status", "edge_type", "cycle")
    search_fields = ("rater_name", "provider_name", "customer_name")
    list_select_related = ("cycle",)
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(NotificationLog)
class NotificationLogAdmin(admin.ModelAdmin):
    list_display = ("cycle", "rater", "kind", "offset", "status", "channel", "sent_at", "attempts")
    list_filter = ("kind", "status", "channel", "cycle")
    list_select_related = ("cycle", "rater")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ChannelForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)


# Sign-in settings, set by the sign-in feature when it is installed: (setting, label, default).
SIGN_IN_SETTINGS = (
    ("ICR_OIDC_ENABLED", _("Sign in with the company's OpenID Connect provider"), False),
    ("ICR_LDAP_ENABLED", _("Sign in with LDAP / Active Directory"), False),
    ("ICR_PASSWORD_LOGIN", _("Sign in with an ICR password"), True),
)


def platform_status() -> list[dict]:
    """Each platform's settings as "set" / "not set": never a value (they are secrets or
    identify the company's app); only the API address is shown."""
    rows = []
    for code, cls in channels.PLATFORMS.items():
        names = [*cls.setting_names]
        rows.append(
            {
                "label": Channel(code).label,
                "configured": all(getattr(settings, n, "") for n in names),
                "values": [(n, bool(getattr(settings, n, ""))) for n in names],
                "api": getattr(settings, f"ICR_{code.upper()}_API", ""),
            }
        )
    return rows


@admin.register(MessagingSettings)
class MessagingSettingsAdmin(admin.ModelAdmin):
    """One page, HR's: the company's channel, each platform's configuration (set or not, from
    the environment), the sign-in methods (read-only), and a test message to oneself."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return redirect("admin:reviews_messagingsettings_changelist")

    def changelist_view(self, request, extra_context=None):
        can_change = self.has_change_permission(request)
        current = MessagingSettings.current_channel()
        form = ChannelForm(request.POST or None, initial={"channel": current})
        if request.method == "POST":
            if not can_change:
                raise PermissionDenied
            if "_test" in request.POST:
                employee = getattr(request.user, "employee", None)
                try:
                    used = services.send_test_message(employee)
                except services.ReviewError as error:
                    messages.error(request, str(error))
                else:
                    messages.success(
                        request,
                        _("A test message went to you by %(channel)s.")
                        % {"channel": Channel(used).label},
                    )
                return redirect("admin:reviews_messagingsettings_changelist")
            if form.is_valid():
                services.set_channel(form.cleaned_data["channel"])
                messages.success(request, _("The channel is saved."))
                return redirect("admin:reviews_messagingsettings_changelist")
        employee = getattr(request.user, "employee", None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Channels and sign-in"),
            "form": form,
            "can_change": can_change,
            "platforms": platform_status(),
            "sign_in": [
                (name, label, bool(getattr(settings, name, default)))
                for name, label, default in SIGN_IN_SETTINGS
            ],
            "employee": employee,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/reviews/messaging_settings.html", context)


@admin.register(HandoffPolicy)
class HandoffPolicyAdmin(AuditedAdmin):
    """Per relationship type: how often a hand-off is asked about, and how far apart."""

    list_display = ("edge_type", "probability", "spacing_days")


@admin.register(Handoff)
class HandoffAdmin(admin.ModelAdmin):
    list_display = ("external_ref", "receiver", "received_at", "outcome")
    list_filter = ("outcome",)
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ServiceCommitment)
class ServiceCommitmentAdmin(AuditedAdmin):
    """HR writes or corrects any relationship's commitments; heads write their departments'
    on their own page (reviews:commitments)."""

    list_display = ("deliverable", "due", "standard", "edge", "criterion", "active")
    list_filter = ("active", "edge__type")
    search_fields = ("deliverable", "due", "standard", "edge__service")
    raw_id_fields = ("edge",)
    list_select_related = (
        "criterion",
        "edge__provider_department",
        "edge__provider_employee",
        "edge__customer_department",
        "edge__customer_employee",
    )
    readonly_fields = ("created_by", "updated_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
