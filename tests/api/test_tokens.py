"""Tokens: per integration, hashed, scoped, revocable, last use shown, rate limited."""

import hashlib

from django.utils import timezone

from api.models import ApiToken, Scope

from .conftest import Api, make_token


def test_a_request_without_a_token_gets_a_401_problem(client, db):
    response = client.get("/api/v1/departments/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_only_the_hash_of_a_token_is_stored(db):
    token, secret = make_token(Scope.READ_ORG)
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.filter(pk=token.pk).values().get())


def test_a_revoked_token_no_longer_works(client, company):
    token, secret = make_token(Scope.READ_ORG)
    assert Api(client, secret).get("/departments/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert Api(client, secret).get("/departments/").status_code == 401


def test_a_token_without_the_scope_is_refused(client, company):
    _token, secret = make_token(Scope.READ_RESULTS)
    response = Api(client, secret).get("/departments/")
    assert response.status_code == 403
    assert "read_org" in response.json()["detail"]


def test_last_use_is_recorded(client, company):
    token, secret = make_token(Scope.READ_ORG)
    assert token.last_used_at is None
    Api(client, secret).get("/departments/")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_requests_past_the_tokens_rate_get_429(client, company):
    _token, secret = make_token(Scope.READ_ORG, rate_per_minute=3)
    api = Api(client, secret)
    statuses = [api.get("/departments/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = api.get("/departments/")
    assert refused["Content-Type"] == "application/problem+json"
    assert int(refused["Retry-After"]) <= 60


def test_hr_creates_a_token_in_the_admin_and_sees_its_secret_once(client, hr_user):
    from tests.conftest import PASSWORD, sign_in_request

    client.login(request=sign_in_request(), username="hr", password=PASSWORD)
    response = client.post(
        "/admin/api/apitoken/add/",
        {"name": "ERP", "scopes": [Scope.WRITE_EVENTS], "rate_per_minute": ""},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="ERP")
    shown = [str(m) for m in response.context["messages"]]
    secret = next(w for m in shown for w in m.split() if w.startswith("icr_"))
    assert hashlib.sha256(secret.encode()).hexdigest() == token.token_hash
    assert token.scopes == [Scope.WRITE_EVENTS]
    assert token.created_by == hr_user


def test_the_schema_and_docs_are_served(client, db):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/handoffs/" in spec["paths"]
    assert client.get("/api/v1/docs").status_code == 200


def test_a_worker_keeps_a_token_briefly_and_revoking_in_the_admin_drops_it(
    client, company, settings, django_assert_num_queries
):
    from api.admin import ApiTokenAdmin
    from api.auth import _lookup

    settings.ICR_API_TOKEN_CACHE_SECONDS = 60
    token, _secret = make_token(Scope.READ_ORG)
    assert _lookup(token.token_hash) == token
    with django_assert_num_queries(0):
        assert _lookup(token.token_hash) == token
    admin = ApiTokenAdmin(ApiToken, None)
    admin.message_user = lambda *args, **kwargs: None
    admin.revoke(None, ApiToken.objects.filter(pk=token.pk))
    assert _lookup(token.token_hash) is None


def _wsgi_get(path: str) -> tuple[str, dict, bytes]:
    import io

    from icr import wsgi

    seen = []
    body = b"".join(
        wsgi.application(
            {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": path,
                "SERVER_NAME": "localhost",
                "SERVER_PORT": "80",
                "HTTP_HOST": "localhost",
                "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(b""),
            },
            lambda status, headers: seen.append((status, headers)),
        )
    )
    status, headers = seen[0]
    return status, headers, body


def test_the_api_and_the_pages_are_served_by_their_own_middleware(db, settings):
    full = list(settings.MIDDLEWARE)
    status, headers, body = _wsgi_get("/api/v1/openapi.json")
    assert status.startswith("200") and b"/api/v1/handoffs/" in body
    names = {name for name, _value in headers}
    assert "Set-Cookie" not in names  # no CSRF cookie, no session
    status, headers, _body = _wsgi_get("/accounts/login/")
    assert status.startswith("200")
    assert any(name == "Set-Cookie" and "csrftoken" in value for name, value in headers)
    # The browsable docs are a page: they get the pages' Content-Security-Policy.
    status, headers, _body = _wsgi_get("/api/v1/docs")
    assert status.startswith("200")
    assert "script-src 'self'" in dict(headers)["Content-Security-Policy"]
    assert full == settings.MIDDLEWARE
