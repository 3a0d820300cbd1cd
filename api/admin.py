"""HR's integrations: create a token (its secret shown once), set scopes, revoke."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .auth import forget_tokens
from .models import ApiToken, Scope


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = ApiToken
        fields = ["name", "scopes", "employee", "rate_per_minute"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ["name", "prefix", "scope_list", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    autocomplete_fields = ["employee"]
    actions = ["revoke"]

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: ApiToken) -> str:
        labels = dict(Scope.choices)
        return ", ".join(str(labels.get(s, s)) for s in obj.scopes or [])

    def save_model(self, request, obj: ApiToken, form, change):
        if not change:
            obj.created_by = request.user
            secret = obj.new_secret()
            super().save_model(request, obj, form, change)
            messages.warning(
                request,
                _(
                    "The token of %(name)s is %(secret)s — copy it now: it is shown only once "
                    "and ICR keeps only its hash."
                )
                % {"name": obj.name, "secret": secret},
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        forget_tokens()
        self.message_user(request, _("%(n)d tokens revoked.") % {"n": count})

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, not deleted: the hand-offs it sent name it
