from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RelationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "relations"
    verbose_name = _("Organisation and relationships")

    def ready(self):
        from celery.signals import beat_embedded_init, beat_init
        from django.db.models.signals import post_migrate

        from .permissions import ensure_hr_group
        from .tasks import register_periodic_tasks

        post_migrate.connect(ensure_hr_group, sender=self, dispatch_uid="relations_hr_group")
        for beat_start in (beat_init, beat_embedded_init):
            beat_start.connect(register_periodic_tasks, dispatch_uid=f"relations_{beat_start.name}")
