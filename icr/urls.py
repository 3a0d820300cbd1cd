from django.contrib import admin
from django.urls import include, path

from api.views import api
from relations.views import PasswordResetView

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    # Imported logins start without a password: the reset form must reach them too. The mail
    # leaves from the Celery worker, so known and unknown addresses get the same answer.
    path("accounts/password_reset/", PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("reviews/", include("reviews.urls")),
    path("results/", include("reviews.results_urls")),
    path("", include("relations.urls")),
]
