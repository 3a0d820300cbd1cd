"""The admin's side of the audit trail: a history page on every audited model, read-only."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin


class AuditedAdmin(SimpleHistoryAdmin):
    """A ModelAdmin whose "History" page lists every version of the row: when, who, what changed.

    Old versions are shown, never restored: restoring would write around the services that
    keep the graph whole, so the version page refuses a POST (the library only hides the
    button, see SIMPLE_HISTORY_REVERT_DISABLED).
    """

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
