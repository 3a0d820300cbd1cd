from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RelationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "relations"
    verbose_name = _("Organisation and relationships")

    def ready(self):
        from django.db.models.signals import post_migrate

        from .permissions import ensure_hr_group

        post_migrate.connect(ensure_hr_group, sender=self, dispatch_uid="relations_hr_group")
