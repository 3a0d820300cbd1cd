from django.contrib import admin
from django.urls import include, path

from api.views import api
from relations import oidc
from relations.views import LoginView, PasswordResetView

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    # Imported logins start without a password: the reset form must reach them too. The mail
    # leaves from the Celery worker, so known and unknown addresses get the same answer.
    path("accounts/password_reset/", PasswordResetView.as_view(), name="password_reset"),
    # The sign-in page says how people sign in here: the company's identity first, if any.
    path("accounts/login/", LoginView.as_view(), name="login"),
    # The company's OpenID provider: the callback is the address registered with it.
    path("accounts/oidc/login/", oidc.login, name="oidc_login"),
    path("accounts/oidc/callback/", oidc.callback, name="oidc_callback"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("reviews/", include("reviews.urls")),
    path("results/", include("reviews.results_urls")),
    path("needs/", include("needs.urls")),
    path("", include("relations.urls")),
]
