from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from relations.forms import FirstPasswordResetForm

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # Imported logins start without a password: the reset form must reach them too.
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=FirstPasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("reviews/", include("reviews.urls")),
    path("results/", include("reviews.results_urls")),
    path("", include("relations.urls")),
]
