"""The HR group and the model permissions it needs in the admin, kept up to date on migrate.

A post_migrate handler rather than a data migration: permissions only exist once their models
are migrated, and apps added later (reviews) must be granted too. Running it again only adds
what is missing, so it is safe on every migrate (and on the test database's flushes).
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions

from .roles import HR_GROUP

# api: HR creates and revokes the integrations' tokens.
# axes: HR sees sign-in lockouts ("Access attempts") and lifts them by deleting the attempts.
HR_APPS = ("relations", "reviews", "needs", "api", "django_celery_beat", "axes")


def ensure_hr_group(*, using: str = "default", apps=global_apps, verbosity: int = 0, **kwargs):
    try:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:  # auth not migrated (yet) in this state
        return
    # post_migrate runs app by app; create the other apps' permissions now so the order of
    # INSTALLED_APPS does not decide what HR gets.
    for label in HR_APPS:
        try:
            app_config = global_apps.get_app_config(label)
        except LookupError:
            continue
        create_permissions(app_config, verbosity=verbosity, using=using, apps=apps)
    group, _created = Group.objects.using(using).get_or_create(name=HR_GROUP)
    perms = Permission.objects.using(using).filter(content_type__app_label__in=HR_APPS)
    group.permissions.add(*perms)
