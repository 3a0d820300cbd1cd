"""A small but real OpenID Connect provider for the tests, on a loopback port in a thread.

It serves what a company's provider serves ICR (discovery, its public keys, the authorization
and token endpoints) and checks what a real one checks: the client's id and secret, the
registered callback address, a code that works once, and the code's PKCE verifier (S256 only).
ID tokens are signed with its own RSA key (RS256) and ICR verifies them against the published
keys. The person signed in at the provider is whoever the test sets in `person`, as after a
real provider's login form. `tamper` spoils the next ID token, as an attacker between the two
would: "payload" rewrites a claim after signing, "foreign_key" signs with a key not published.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "icr-test"
CLIENT_SECRET = "icr-test-secret"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Provider:
    def __init__(self, redirect_uris: list[str]):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "icr-test-1", "use": "sig"})
        # Same key id, other key: what an attacker who cannot sign as the provider has.
        self.foreign_key = RSAKey.generate_key(2048, parameters={"kid": "icr-test-1"})
        self.redirect_uris = list(redirect_uris)
        self.person: dict | None = None
        self.tamper: str | None = None
        # Claims the provider leaves out of the ID token and gives at its userinfo endpoint
        # only (as Azure AD and some Keycloak mappers do).
        self.userinfo_only: set[str] = set()
        self.access_tokens: dict[str, dict] = {}
        self.codes: dict[str, dict] = {}
        self.authorize_requests: list[dict] = []
        self.token_requests: list[dict] = []
        self.issuer = ""

    # --- What the endpoints do --------------------------------------------------------------

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    def jwks(self) -> dict:
        return {"keys": [self.key.as_dict(private=False)]}

    def authorize(self, query: dict) -> tuple[int, dict, str]:
        """(status, headers, body): a redirect back to the client with a code, or an error."""
        self.authorize_requests.append(query)
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID or redirect_uri not in self.redirect_uris:
            return 400, {}, "unknown client or callback address"
        back = {"state": query.get("state", "")}
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            back["error"] = "unsupported_response_type"
        elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            back["error"] = "invalid_request"  # this provider insists on PKCE
        elif self.person is None:
            back["error"] = "login_required"
        else:
            code = secrets.token_urlsafe(24)
            self.codes[code] = {
                "person": dict(self.person),
                "nonce": query.get("nonce"),
                "challenge": query["code_challenge"],
                "redirect_uri": redirect_uri,
            }
            back["code"] = code
        sep = "&" if "?" in redirect_uri else "?"
        return 302, {"Location": redirect_uri + sep + urllib.parse.urlencode(back)}, ""

    def token(self, form: dict, authorization: str | None) -> tuple[int, dict]:
        self.token_requests.append(dict(form))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            client_id, secret = urllib.parse.unquote(client_id), urllib.parse.unquote(secret)
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if form.get("grant_type") != "authorization_code" or grant is None:
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier"}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "auth_time": now,
            **({"nonce": grant["nonce"]} if grant["nonce"] else {}),
            **{k: v for k, v in grant["person"].items() if k not in self.userinfo_only},
        }
        id_token = self._sign(claims)
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = grant["person"]
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    def userinfo(self, authorization: str | None) -> tuple[int, dict]:
        token = (authorization or "").removeprefix("Bearer ")
        person = self.access_tokens.get(token)
        if person is None:
            return 401, {"error": "invalid_token"}
        return 200, person

    def _sign(self, claims: dict) -> str:
        tamper, self.tamper = self.tamper, None
        key = self.foreign_key if tamper == "foreign_key" else self.key
        token = jwt.encode({"alg": "RS256", "kid": "icr-test-1"}, claims, key)
        if tamper == "payload":
            header, _payload, signature = token.split(".")
            forged = {**claims, "email": "li@example.com", "employee_id": "E002"}
            token = ".".join([header, _b64url(json.dumps(forged).encode()), signature])
        return token


def _handler(provider: Provider):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, body, headers: dict | None = None):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if not (headers or {}).get("Location"):
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            if url.path == "/.well-known/openid-configuration":
                self._send(200, provider.discovery())
            elif url.path == "/jwks":
                self._send(200, provider.jwks())
            elif url.path == "/userinfo":
                status, body = provider.userinfo(self.headers.get("Authorization"))
                self._send(status, body)
            elif url.path == "/authorize":
                status, headers, text = provider.authorize(query)
                self._send(status, text.encode(), headers)
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            if self.path == "/token":
                status, body = provider.token(form, self.headers.get("Authorization"))
                self._send(status, body, {"Cache-Control": "no-store"})
            else:
                self._send(404, {"error": "not_found"})

    return Handler


@contextlib.contextmanager
def running_provider(redirect_uris: list[str]) -> Iterator[Provider]:
    """The provider on 127.0.0.1 at a free port, for as long as the block runs."""
    provider = Provider(redirect_uris)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.issuer = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def configure(settings, provider: Provider) -> None:
    """Point ICR (pytest-django's `settings`) at the provider, matching people by e-mail and
    making the group "icr-hr" HR; the provider starts with nobody signed in."""
    from relations import oidc

    settings.ICR_OIDC_ENABLED = True
    settings.ICR_OIDC_ISSUER = provider.issuer
    settings.ICR_OIDC_DISCOVERY_URL = f"{provider.issuer}/.well-known/openid-configuration"
    settings.ICR_OIDC_CLIENT_ID = CLIENT_ID
    settings.ICR_OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.ICR_OIDC_MATCH_CLAIM = "email"
    settings.ICR_OIDC_MATCH_FIELD = "email"
    settings.ICR_OIDC_GROUPS_CLAIM = "groups"
    settings.ICR_OIDC_HR_GROUP = "icr-hr"
    provider.person, provider.tamper, provider.userinfo_only = None, None, set()
    provider.authorize_requests.clear()
    provider.token_requests.clear()
    oidc._client_for.cache_clear()  # discovery read again, from this provider
