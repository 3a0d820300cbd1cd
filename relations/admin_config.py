"""django.contrib.admin with ICR's own site (kept apart: loaded before the models are)."""

from django.contrib.admin.apps import AdminConfig


class HRAdminConfig(AdminConfig):
    default_site = "relations.admin_site.HRAdminSite"
