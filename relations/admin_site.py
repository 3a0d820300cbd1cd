"""The admin is HR's: staff in the HR group, or superusers. Nobody else gets in.

Installed in place of django.contrib.admin (see INSTALLED_APPS), so `admin.site` is this site
and `admin.site.urls` in icr/urls.py serves it, including the import pages.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from .roles import is_hr

# Apps whose tables only the scheduler reads: kept out of HR's admin home.
TECHNICAL_APPS = {"django_celery_beat"}


class HRAuthenticationForm(AdminAuthenticationForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # relations.auth signs people in by employee id (the username) or e-mail.
        self.fields["username"].label = _("Employee ID or e-mail")


class HRAdminSite(admin.AdminSite):
    login_form = HRAuthenticationForm
    site_header = _("ICR administration")
    site_title = _("ICR administration")
    index_title = _("Organisation and relationships")

    def has_permission(self, request) -> bool:
        user = request.user
        if not (user.is_active and user.is_authenticated):
            return False
        return user.is_superuser or (user.is_staff and is_hr(user))

    def login(self, request, extra_context=None):
        """With the company's OpenID provider on, the admin's sign-in is ICR's sign-in page,
        which offers it (and the break-glass form): the admin's own knows only passwords."""
        if (
            settings.ICR_OIDC_ENABLED
            and request.method == "GET"
            and not request.user.is_authenticated
        ):
            return redirect_to_login(request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index"))
        return super().login(request, extra_context)

    def get_app_list(self, request, app_label=None):
        """HR's work, without the scheduler's own tables (periodic tasks, crontabs, intervals):
        a cycle schedule keeps its periodic task in step by itself. Superusers still see them,
        under their app, to repair a schedule by hand."""
        apps = super().get_app_list(request, app_label)
        if request.user.is_superuser:
            return apps
        return [app for app in apps if app["app_label"] not in TECHNICAL_APPS]

    def get_urls(self):
        from . import admin_views

        urls = [
            path("import/", self.admin_view(admin_views.import_upload), name="import_org"),
            path(
                "import/confirm/",
                self.admin_view(admin_views.import_confirm),
                name="import_org_confirm",
            ),
            path(
                "import/done/",
                self.admin_view(admin_views.import_done),
                name="import_org_done",
            ),
            path(
                "import/template/<str:kind>.<str:fmt>",
                self.admin_view(admin_views.org_template),
                name="import_org_template",
            ),
            path(
                "import/current/<str:kind>.csv",
                self.admin_view(admin_views.org_current_file),
                name="import_org_current",
            ),
            path("org-as-of/", self.admin_view(admin_views.org_as_of), name="org_as_of"),
            path(
                "org-as-of/<str:kind>.csv",
                self.admin_view(admin_views.org_as_of_file),
                name="org_as_of_file",
            ),
        ]
        return urls + super().get_urls()
