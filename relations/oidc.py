"""Sign in with the company's OpenID Connect provider (Keycloak, Authing, Azure AD, …).

The authorization code flow with PKCE (S256) and a nonce, through Authlib: `login` sends the
browser to the provider, `callback` takes the code back, exchanges it (with the PKCE verifier
and the client secret) for an ID token, and verifies the token's signature against the
provider's published keys, its issuer, audience, expiry and nonce. Then relations.signin says
which employee it is; a token for someone ICR does not know, or who left, is refused with a
page that says why, whatever the provider thinks.
"""

from __future__ import annotations

import functools
import logging

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.contrib.auth import login as auth_login
from django.http import Http404
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from joserfc.errors import JoseError

from . import signin
from .auth import EmployeeIdOrEmailBackend

log = logging.getLogger(__name__)

BACKEND = "relations.oidc.OIDCBackend"
_NEXT_KEY = "icr_oidc_next"
# What can go wrong between ICR and the provider: unreachable, an error answer, a bad token.
_PROVIDER_ERRORS = (AuthlibBaseError, JoseError, requests.RequestException, ValueError, KeyError)


class OIDCBackend(EmployeeIdOrEmailBackend):
    """The backend a provider's sign-in is recorded under: it never checks a password (the
    callback view signs the person in), and loads the signed-in user as ICR's own does."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        return None


def _config() -> tuple:
    s = settings
    return (
        s.ICR_OIDC_DISCOVERY_URL,
        s.ICR_OIDC_ISSUER,
        s.ICR_OIDC_AUTHORIZATION_ENDPOINT,
        s.ICR_OIDC_TOKEN_ENDPOINT,
        s.ICR_OIDC_JWKS_URI,
        s.ICR_OIDC_CLIENT_ID,
        s.ICR_OIDC_CLIENT_SECRET,
        s.ICR_OIDC_SCOPES,
        s.ICR_OIDC_TIMEOUT_SECONDS,
    )


@functools.lru_cache(maxsize=4)
def _client_for(config: tuple):
    discovery, issuer, authorize, token, jwks, client_id, secret, scopes, timeout = config
    endpoints = {}
    if authorize and token:
        # A provider without discovery: the endpoints as configured, its keys from the JWKS.
        endpoints = {
            "authorize_url": authorize,
            "access_token_url": token,
            "jwks_uri": jwks,
            "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            **({"issuer": issuer} if issuer else {}),
        }
    else:
        endpoints = {"server_metadata_url": discovery}
    oauth = OAuth()
    return oauth.register(
        "icr",
        client_id=client_id,
        client_secret=secret or None,
        client_kwargs={
            "scope": scopes,
            "code_challenge_method": "S256",
            "default_timeout": timeout,
        },
        **endpoints,
    )


def client():
    """The Authlib client of the configured provider (its discovery document read once)."""
    return _client_for(_config())


def user_for_claims(claims) -> object:
    """The ICR login a verified ID token's claims name; grants or withdraws HR by its groups."""
    field = settings.ICR_OIDC_MATCH_FIELD
    value = claims.get(settings.ICR_OIDC_MATCH_CLAIM)
    if field == "email" and claims.get("email_verified") is False:
        # The provider itself says the address may not be the person's: anyone could have
        # typed a colleague's address into their profile.
        raise signin.SignInRefused("unverified")
    user = signin.login_of_employee(field, value if isinstance(value, str) else None)
    if settings.ICR_OIDC_HR_GROUP:
        groups = claims.get(settings.ICR_OIDC_GROUPS_CLAIM) or []
        if isinstance(groups, str):
            groups = groups.split()
        signin.set_hr(user, settings.ICR_OIDC_HR_GROUP in groups)
    return user


def _claims_of(token: dict) -> dict:
    """The verified ID token's claims, completed from the userinfo endpoint when the claims ICR
    needs are not in the token (some providers put e-mail or groups there only)."""
    claims = token.get("userinfo")
    if not claims:
        raise ValueError("the token answer has no ID token")
    claims = dict(claims)
    wanted = [settings.ICR_OIDC_MATCH_CLAIM]
    if settings.ICR_OIDC_HR_GROUP:
        wanted.append(settings.ICR_OIDC_GROUPS_CLAIM)
    if all(name in claims for name in wanted):
        return claims
    app = client()
    if not app.load_server_metadata().get("userinfo_endpoint"):
        return claims
    extra = app.userinfo(token=token)
    # The userinfo answer is about the token's person only if its sub is the ID token's.
    if extra.get("sub") != claims.get("sub"):
        raise ValueError("userinfo names another subject than the ID token")
    return {**extra, **claims}


def refused(request, exc: signin.SignInRefused, status: int = 403):
    return render(
        request,
        "registration/sign_in_refused.html",
        {"reason": exc.message, "code": exc.code},
        status=status,
    )


@never_cache
@require_GET
def login(request):
    """Start: remember where to go after, send the browser to the provider."""
    if not settings.ICR_OIDC_ENABLED:
        raise Http404
    next_url = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    request.session[_NEXT_KEY] = next_url if safe else ""
    callback_url = request.build_absolute_uri(reverse("oidc_callback"))
    try:
        return client().authorize_redirect(request, callback_url)
    except _PROVIDER_ERRORS as exc:
        log.warning("OIDC: the provider's discovery failed: %r", exc)
        return refused(request, signin.SignInRefused("failed"), status=502)


@never_cache
@require_GET
def callback(request):
    """The provider sends the browser back here with a code: verify, match, sign in."""
    if not settings.ICR_OIDC_ENABLED:
        raise Http404
    if request.GET.get("error"):
        # The provider's own refusal (the person cancelled, or may not use ICR there).
        log.info("OIDC: the provider answered %r", request.GET.get("error"))
        return refused(request, signin.SignInRefused("cancelled"))
    try:
        token = client().authorize_access_token(request)
        claims = _claims_of(token)
    except _PROVIDER_ERRORS as exc:
        log.warning("OIDC: sign-in refused, the provider's answer failed: %r", exc)
        return refused(request, signin.SignInRefused("failed"))
    try:
        user = user_for_claims(claims)
    except signin.SignInRefused as exc:
        log.info("OIDC: sign-in of %r refused: %s", claims.get("sub"), exc.code)
        return refused(request, exc)
    next_url = request.session.pop(_NEXT_KEY, "")
    auth_login(request, user, backend=BACKEND)
    return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
