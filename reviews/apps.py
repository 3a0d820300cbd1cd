from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reviews"
    verbose_name = _("Mutual evaluations")

    def ready(self) -> None:
        # Services send the tasks by name from Celery's registry (they import no task module),
        # so every process that runs them, the web server's too, registers the tasks here.
        from . import tasks  # noqa: F401
