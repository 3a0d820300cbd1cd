from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.sites.shortcuts import get_current_site
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import translation

from . import selectors, signin, tasks
from .forms import FirstPasswordResetForm
from .roles import request_roles


@login_required
def home(request):
    """HR lands on its home (cycles, imports, what to do next), everyone else on their
    relationships."""
    if request_roles(request).is_hr:
        return redirect("reviews:hr_home")
    return redirect("relations:my_relationships")


@login_required
def my_relationships(request):
    context = selectors.my_relationships(request.user)
    return render(request, "relations/my_relationships.html", context)


class LoginView(auth_views.LoginView):
    """Django's sign-in page, told which ways of signing in this company has switched on."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["sign_in"] = {
            "oidc": settings.ICR_OIDC_ENABLED,
            "oidc_name": settings.ICR_OIDC_PROVIDER_NAME,
            "ldap": settings.ICR_LDAP_ENABLED,
            "passwords_for_all": signin.passwords_for_everyone(),
        }
        return context


class PasswordResetView(auth_views.PasswordResetView):
    """Django's "forgot / first password" page, with the mail left to the Celery worker.

    Looking the address up and sending the mail here made a known address answer measurably
    slower than an unknown one, which told anyone whether an address has a login. The page now
    queues the same task with the address either way, touches no table, and answers."""

    form_class = FirstPasswordResetForm  # reaches logins that have no password yet, too

    def form_valid(self, form):
        tasks.send_password_reset.delay(
            form.cleaned_data["email"],
            domain=get_current_site(self.request).domain,
            use_https=self.request.is_secure(),
            language=translation.get_language(),
        )
        return HttpResponseRedirect(self.get_success_url())
