"""Django settings for ICR. Everything a deployment changes comes from the environment."""

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .env import env_bool, env_int, env_list, env_str


def _env_or(name: str, default: str) -> str:
    """The variable, or the default when it is unset or empty."""
    return env_str(name) or default


BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ICR_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
# ICR_DEV: local development and tests (make run, make test): a fixed dev SECRET_KEY and no
# HTTPS-only cookies or redirects. Never set in production.
DEV = DEBUG or env_bool("ICR_DEV", False)

_DEV_SECRET = "insecure-dev-key-only-for-make-run-and-tests"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", _DEV_SECRET if DEV else "")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE) in the environment, "
        "or DEBUG=1 for local development."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # django.contrib.admin with ICR's site: only HR gets in, and it serves the import pages.
    "relations.admin_config.HRAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_celery_beat",
    # The audit trail: historical tables of HR's models, their history pages in the admin.
    "simple_history",
    "relations",
    "reviews",
    # Needs and complaints between cycles, relationships proposed by employees.
    "needs",
    "api",
    "ninja",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: history rows written during a request name the signed-in user.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a refused sign-in into relations.lockout's page.
    "axes.middleware.AxesMiddleware",
]

# The REST API (/api/, but its HTML docs) is served by a handler of its own (icr/wsgi.py)
# with these only: it authenticates bearer tokens and answers JSON, so it needs no sessions,
# CSRF, messages, sign-in lockout or page headers (CSP, frame options).
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "icr.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "relations.context_processors.navigation",
                "reviews.context_processors.inbox",
            ],
        },
    },
]

WSGI_APPLICATION = "icr.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        # An empty DATABASE_URL counts as unset (compose files and CI often export it blank).
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'icr.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
# The busiest statements are prepared once per PostgreSQL connection (icr.db.execute_prepared).
# Off behind a pooler in transaction mode (PgBouncer), which would lose them between clients.
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite under a web server and a Celery worker at once: wait for the lock instead of failing.
    # WAL lets readers (pages, the test that polls) go on while the worker writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The test database is a file, not shared memory, so a Celery worker in another thread or
    # process sees the same data with SQLite's ordinary locking. One per test process.
    DATABASES["default"]["TEST"] = {
        "NAME": str(VAR_DIR / f"test-icr-{os.getpid()}.sqlite3"),
    }
    # SQLite lacks NULLS NOT DISTINCT (reviews.Rollup's unique figure): reviews migration 0007
    # creates the same rule there as an expression index instead.
    SILENCED_SYSTEM_CHECKS = ["models.W047"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out sign-in before any password is checked. It needs the request,
    # which Django's login views (the app's and the admin's) pass to authenticate().
    "axes.backends.AxesStandaloneBackend",
    "relations.auth.EmployeeIdOrEmailBackend",
    # The company's directory (LDAP / Active Directory), through the same form: does nothing
    # unless ICR_LDAP_ENABLED. Then the OpenID provider's, used by its callback view only.
    "relations.ldap_auth.DirectoryBackend",
    "relations.oidc.OIDCBackend",
]
# Argon2id at OWASP's minimum parameters (icr/hashers.py says why and what it trades);
# PBKDF2 only to verify older hashes, which are rehashed at the next sign-in.
PASSWORD_HASHERS = [
    "icr.hashers.OwaspArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "relations:home"
LOGOUT_REDIRECT_URL = "login"

# Sign-in with the company's identity (relations/signin.py): an OpenID Connect provider
# (relations/oidc.py, Authlib) and/or an LDAP / Active Directory server (relations/ldap_auth.py,
# ldap3). Either way the person is matched to an existing employee, never created.
# An empty variable counts as unset (docker-compose passes them all, blank when not given).
# OIDC: discovery from the issuer, or (when both are set) the authorization and token endpoints
# and the JWKS address one by one, for a provider without discovery.
ICR_OIDC_ISSUER = env_str("ICR_OIDC_ISSUER").rstrip("/")
ICR_OIDC_DISCOVERY_URL = _env_or(
    "ICR_OIDC_DISCOVERY_URL",
    f"{ICR_OIDC_ISSUER}/.well-known/openid-configuration" if ICR_OIDC_ISSUER else "",
)
ICR_OIDC_AUTHORIZATION_ENDPOINT = env_str("ICR_OIDC_AUTHORIZATION_ENDPOINT")
ICR_OIDC_TOKEN_ENDPOINT = env_str("ICR_OIDC_TOKEN_ENDPOINT")
ICR_OIDC_JWKS_URI = env_str("ICR_OIDC_JWKS_URI")
ICR_OIDC_ENABLED = bool(
    ICR_OIDC_ISSUER or (ICR_OIDC_AUTHORIZATION_ENDPOINT and ICR_OIDC_TOKEN_ENDPOINT)
)
ICR_OIDC_CLIENT_ID = env_str("ICR_OIDC_CLIENT_ID")
ICR_OIDC_CLIENT_SECRET = env_str("ICR_OIDC_CLIENT_SECRET")
ICR_OIDC_SCOPES = _env_or("ICR_OIDC_SCOPES", "openid email profile")
# The claim that names the person, and what it is compared with: the employee ID or e-mail.
ICR_OIDC_MATCH_CLAIM = _env_or("ICR_OIDC_MATCH_CLAIM", "email")
ICR_OIDC_MATCH_FIELD = _env_or("ICR_OIDC_MATCH_FIELD", "email")
# A claim listing the person's groups, and the group in it that makes them HR ("" = none: HR
# is then given in ICR's admin only).
ICR_OIDC_GROUPS_CLAIM = _env_or("ICR_OIDC_GROUPS_CLAIM", "groups")
ICR_OIDC_HR_GROUP = env_str("ICR_OIDC_HR_GROUP")
# What the sign-in page's button says: "Sign in with <name>".
ICR_OIDC_PROVIDER_NAME = env_str("ICR_OIDC_PROVIDER_NAME")
ICR_OIDC_TIMEOUT_SECONDS = env_int("ICR_OIDC_TIMEOUT_SECONDS", 10)
if ICR_OIDC_ENABLED:
    if not ICR_OIDC_CLIENT_ID:
        raise ImproperlyConfigured("ICR_OIDC_CLIENT_ID is required with ICR_OIDC_ISSUER.")
    if not ICR_OIDC_ISSUER and not ICR_OIDC_JWKS_URI:
        raise ImproperlyConfigured(
            "ICR_OIDC_JWKS_URI is required when the OIDC endpoints are set one by one."
        )
    if "openid" not in ICR_OIDC_SCOPES.split():
        raise ImproperlyConfigured("ICR_OIDC_SCOPES must include openid.")
# LDAP / Active Directory: a service account searches the person by what they typed in the
# sign-in form, then ICR binds as them with their password.
ICR_LDAP_SERVER_URI = env_str("ICR_LDAP_SERVER_URI")
ICR_LDAP_ENABLED = bool(ICR_LDAP_SERVER_URI)
ICR_LDAP_BIND_DN = env_str("ICR_LDAP_BIND_DN")
ICR_LDAP_BIND_PASSWORD = env_str("ICR_LDAP_BIND_PASSWORD")
ICR_LDAP_START_TLS = env_bool("ICR_LDAP_START_TLS", False)
ICR_LDAP_USER_BASE = env_str("ICR_LDAP_USER_BASE")
ICR_LDAP_USER_FILTER = _env_or(
    "ICR_LDAP_USER_FILTER", "(|(employeeNumber=%(user)s)(mail=%(user)s))"
)
# The person's attribute that names their employee, and what it is compared with.
ICR_LDAP_MATCH_ATTR = _env_or("ICR_LDAP_MATCH_ATTR", "employeeNumber")
ICR_LDAP_MATCH_FIELD = _env_or("ICR_LDAP_MATCH_FIELD", "employee_id")
ICR_LDAP_GROUP_BASE = env_str("ICR_LDAP_GROUP_BASE")
ICR_LDAP_GROUP_TYPE = _env_or("ICR_LDAP_GROUP_TYPE", "groupOfNames")
ICR_LDAP_HR_GROUP_DN = env_str("ICR_LDAP_HR_GROUP_DN")
ICR_LDAP_TIMEOUT_SECONDS = env_int("ICR_LDAP_TIMEOUT_SECONDS", 10)
for _name, _field in (
    ("ICR_OIDC_MATCH_FIELD", ICR_OIDC_MATCH_FIELD),
    ("ICR_LDAP_MATCH_FIELD", ICR_LDAP_MATCH_FIELD),
):
    if _field not in ("employee_id", "email"):
        raise ImproperlyConfigured(f"{_name} must be employee_id or email, not {_field!r}")
if ICR_LDAP_ENABLED:
    if not ICR_LDAP_USER_BASE:
        raise ImproperlyConfigured("ICR_LDAP_USER_BASE is required with ICR_LDAP_SERVER_URI.")
    if ICR_LDAP_HR_GROUP_DN and not ICR_LDAP_GROUP_BASE:
        raise ImproperlyConfigured("ICR_LDAP_HR_GROUP_DN needs ICR_LDAP_GROUP_BASE.")
    if ICR_LDAP_GROUP_TYPE not in ("groupOfNames", "groupOfUniqueNames", "activeDirectory"):
        raise ImproperlyConfigured(
            "ICR_LDAP_GROUP_TYPE must be groupOfNames, groupOfUniqueNames or activeDirectory, "
            f"not {ICR_LDAP_GROUP_TYPE!r}"
        )
# "all": ICR's own passwords sign anyone in; "superuser_only": only a superuser's (the
# break-glass account for when the provider or directory is down), everyone else signs in
# with the company's identity. Needs OIDC or LDAP on.
_SUPERUSER_ONLY = "superuser_only"
ICR_PASSWORD_LOGIN = _env_or("ICR_PASSWORD_LOGIN", "all")
if ICR_PASSWORD_LOGIN not in ("all", _SUPERUSER_ONLY):
    raise ImproperlyConfigured(
        f"ICR_PASSWORD_LOGIN must be all or superuser_only, not {ICR_PASSWORD_LOGIN!r}"
    )
if ICR_PASSWORD_LOGIN == _SUPERUSER_ONLY and not (ICR_OIDC_ENABLED or ICR_LDAP_ENABLED):
    raise ImproperlyConfigured(
        "ICR_PASSWORD_LOGIN=superuser_only needs ICR_OIDC_ISSUER or ICR_LDAP_SERVER_URI: "
        "nobody but a superuser could sign in."
    )

# Sign-in lockout (django-axes, hooks in relations/lockout.py). Two separate counters; failures
# count until AXES_COOLOFF_MINUTES pass without a new one:
# - per login (["username"], whatever the address): AXES_FAILURE_LIMIT failures lock that login,
#   which stops guessing one person's password from many addresses;
# - per client address (["ip_address"], whatever the login): ICR_LOCKOUT_ADDRESS_FAILURE_LIMIT
#   failures lock every sign-in from that address, which stops trying one password on many
#   logins. Higher than the login's, because a company's people often reach ICR through one
#   office address: a few colleagues' typos must not lock them all out.
# Not the combination [["username", "ip_address"]]: that only locks a login from one address,
# and an attacker with a few addresses would guess on. A successful sign-in clears the failures
# against that login (not its address's), and a lockout ends AXES_COOLOFF_MINUTES after the
# failure that caused it: retrying while locked does not extend it. HR can lift it sooner
# (the employee admin's "Unlock sign-in", or "Access attempts" in the admin).
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
ICR_LOCKOUT_ADDRESS_FAILURE_LIMIT = env_int("ICR_LOCKOUT_ADDRESS_FAILURE_LIMIT", 20)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HANDLER = "relations.lockout.LockoutHandler"
AXES_USERNAME_CALLABLE = "relations.lockout.login_name"
AXES_CLIENT_IP_CALLABLE = "relations.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "relations.lockout.lockout_response"
# Only failures are needed to lock; a row per successful sign-in (who was on when) is not kept.
AXES_DISABLE_ACCESS_LOG = True

# Browsers asking for Chinese get zh-hans (LocaleMiddleware); everyone else English.
LANGUAGE_CODE = "en"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEV
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Uploads: the importer enforces its own limits with a clear message; Django's own cap stays
# above them so the importer, not a bare 400, answers an oversized file.
ICR_IMPORT_MAX_BYTES = env_int("ICR_IMPORT_MAX_BYTES", 64 * 1024 * 1024)
ICR_IMPORT_MAX_ROWS = env_int("ICR_IMPORT_MAX_ROWS", 500_000)
ICR_XLSX_MAX_UNCOMPRESSED_BYTES = env_int("ICR_XLSX_MAX_UNCOMPRESSED_BYTES", 256 * 1024 * 1024)
# A part that openpyxl reads whole (all but the worksheets). An employees file of the most rows
# accepted, as Excel saves it, has 47 MB of shared strings; reading it took longer and more
# memory (83 s, +436 MB) than a file with the most shared strings of this limit (51 s, +360 MB).
ICR_XLSX_MAX_PART_BYTES = env_int("ICR_XLSX_MAX_PART_BYTES", 64 * 1024 * 1024)
ICR_XLSX_MAX_ENTRIES = env_int("ICR_XLSX_MAX_ENTRIES", 1000)
# The audit trail (icr/history.py): history is read, never restored. Restoring an old version
# would write the row around the services that keep the graph whole (the reverse edge, the
# rank pairs of the reporting line); HR makes the change again through the admin instead.
SIMPLE_HISTORY_REVERT_DISABLED = True
# Versions are looked up by row id (indexed), not by date alone: a date index would only slow
# the set-based inserts of an import.
SIMPLE_HISTORY_DATE_INDEX = False

DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# E-mail
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_HOST")
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ICR <icr@localhost>")
ICR_BASE_URL = env_str("ICR_BASE_URL", "http://127.0.0.1:8000")

# Celery: Redis when REDIS_URL is set, otherwise kombu's filesystem transport under var/ so
# `make run` needs no other server and schedules really fire (no eager mode).
REDIS_URL = env_str("REDIS_URL")
CELERY_FS_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://"
    # Kombu's, with messages written whole before they appear (icr/broker.py).
    CELERY_BROKER_TRANSPORT = "icr.broker:Transport"
    # The transport neither creates its folders nor reports their absence clearly.
    for _folder in ("queue", "processed", "control"):
        (CELERY_FS_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FS_DIR / "queue"),
        "data_folder_out": str(CELERY_FS_DIR / "queue"),
        "processed_folder": str(CELERY_FS_DIR / "processed"),
        "control_folder": str(CELERY_FS_DIR / "control"),
        "store_processed": False,
    }
# With Redis, it is also the cache, and sessions are read from it (written to both it and the
# database, so a restarted Redis logs nobody out): every page view saves a database query.
# Without Redis, sessions stay in the database alone; a per-process memory cache would let a
# session deleted at logout live on in the other worker processes.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "icr.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "icr"),
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A run of the notification batch task holds the rows it claimed for this long, renewing the
# claim as it sends; rows a killed worker held are given back once it ran out (reviews.emails).
# Longer than one SMTP exchange can take (EMAIL_TIMEOUT is per network operation), or a slow
# but live send could be taken over and sent twice.
ICR_NOTIFICATION_LEASE_SECONDS = env_int("ICR_NOTIFICATION_LEASE_SECONDS", 60)
_RECOVERY_SECONDS = env_int("ICR_NOTIFICATION_RECOVERY_SECONDS", 30)
# The reviews sweep: opens due cycles, queues reminders, closes cycles past their deadline and
# re-queues notifications a killed worker lost. Beside it, often, a small task that only sends
# again what a killed worker held: lease plus its interval after a crash (90 s by default).
# Installed into django-celery-beat's tables.
CELERY_BEAT_SCHEDULE = {
    "reviews-sweep": {
        "task": "reviews.tasks.sweep",
        "schedule": env_int("ICR_REVIEWS_SWEEP_SECONDS", 300),
    },
    "reviews-resend-stalled-notifications": {
        "task": "reviews.tasks.resend_stalled_notifications",
        "schedule": _RECOVERY_SECONDS,
        # Queued while no worker ran, they would all run at its start: one is enough.
        "options": {"expire_seconds": _RECOVERY_SECONDS},
    },
    # Hand-offs reported through the API become rating requests in batches.
    "reviews-process-handoffs": {
        "task": "reviews.tasks.process_handoffs",
        "schedule": env_int("ICR_HANDOFF_PROCESS_SECONDS", 10),
        "options": {"expire_seconds": 60},
    },
    # Response rates of open cycles for the results pages (figures wait for the close).
    "results-response-rates": {
        "task": "reviews.tasks.refresh_response_rates",
        "schedule": env_int("ICR_RESULTS_REFRESH_SECONDS", 900),
    },
}

# Reviews: the secret behind answer keys (HMAC of the request id). Defaults to SECRET_KEY;
# set it separately to keep answers unlinkable even for someone who learns SECRET_KEY.
ICR_ANSWER_KEY_SECRET = env_str("ICR_ANSWER_KEY_SECRET")
ICR_NOTIFICATION_BATCH = env_int("ICR_NOTIFICATION_BATCH", 200)
# A rater's reminders (scheduled or HR's) wait at least this long after their invitation went.
ICR_REMINDER_MIN_GAP_HOURS = env_int("ICR_REMINDER_MIN_GAP_HOURS", 12)
# HR's "send a reminder now" goes out at most once in this many minutes per cycle: a second
# click (or a colleague's) within it is refused and says when the last one went.
ICR_MANUAL_REMINDER_WINDOW_MINUTES = env_int("ICR_MANUAL_REMINDER_WINDOW_MINUTES", 60)
# Messaging platforms (reviews/channels.py): HR picks the channel in the admin ("Channels and
# sign-in"); the credentials come only from here, each also as NAME_FILE. A platform is usable
# once all its values are set. *_API is the platform's address (tests play it on loopback).
ICR_WECOM_CORP_ID = env_str("ICR_WECOM_CORP_ID")
ICR_WECOM_AGENT_ID = env_str("ICR_WECOM_AGENT_ID")
ICR_WECOM_SECRET = env_str("ICR_WECOM_SECRET")
ICR_WECOM_API = env_str("ICR_WECOM_API", "https://qyapi.weixin.qq.com")
# WeCom: one API may be called 10,000 times a minute per company.
ICR_WECOM_RATE_PER_MINUTE = env_int("ICR_WECOM_RATE_PER_MINUTE", 10_000)
ICR_DINGTALK_APP_KEY = env_str("ICR_DINGTALK_APP_KEY")
ICR_DINGTALK_APP_SECRET = env_str("ICR_DINGTALK_APP_SECRET")
ICR_DINGTALK_AGENT_ID = env_str("ICR_DINGTALK_AGENT_ID")
ICR_DINGTALK_API = env_str("ICR_DINGTALK_API", "https://oapi.dingtalk.com")
# DingTalk: 20 calls a second per API on the standard edition (40 professional, 60 dedicated).
ICR_DINGTALK_RATE_PER_SECOND = env_int("ICR_DINGTALK_RATE_PER_SECOND", 20)
ICR_FEISHU_APP_ID = env_str("ICR_FEISHU_APP_ID")
ICR_FEISHU_APP_SECRET = env_str("ICR_FEISHU_APP_SECRET")
ICR_FEISHU_API = env_str("ICR_FEISHU_API", "https://open.feishu.cn")
# Feishu: im/v1/messages takes 1,000 calls a minute and 50 a second per app.
ICR_FEISHU_RATE_PER_MINUTE = env_int("ICR_FEISHU_RATE_PER_MINUTE", 1_000)
# A message a platform kept failing (down, misconfigured) goes by e-mail from this claim on.
ICR_MESSAGING_MAX_ATTEMPTS = env_int("ICR_MESSAGING_MAX_ATTEMPTS", 4)
# At most this many requests per person in a cycle (0: no cap); a cycle can set its own. When it
# binds, the requests kept are those that let the most result groups reach ICR_MIN_RATERS.
ICR_REQUEST_CAP = env_int("ICR_REQUEST_CAP", 0) or None
# Results: a figure needs this many distinct raters, comments this many (else "not enough").
ICR_MIN_RATERS = env_int("ICR_MIN_RATERS", 3)
# Hand-off ratings roll up per period, "week" (Monday to Sunday) or "month"; raters may answer
# until this many days after the period ended, when its figures are computed.
ICR_HANDOFF_PERIOD = env_str("ICR_HANDOFF_PERIOD", "week")
if ICR_HANDOFF_PERIOD not in ("week", "month"):
    raise ImproperlyConfigured("ICR_HANDOFF_PERIOD must be week or month")
ICR_HANDOFF_ANSWER_DAYS = env_int("ICR_HANDOFF_ANSWER_DAYS", 7)
# The REST API (api/): requests per minute per token unless the token sets its own.
ICR_API_RATE_PER_MINUTE = env_int("ICR_API_RATE_PER_MINUTE", 600)
# A worker keeps a token it looked up this many seconds: a revoked token stops working within
# this time in every worker (at once in the one that revoked it).
ICR_API_TOKEN_CACHE_SECONDS = env_int("ICR_API_TOKEN_CACHE_SECONDS", 5)
ICR_MIN_COMMENT_RATERS = env_int("ICR_MIN_COMMENT_RATERS", 5)
# A shown figure prints its score distribution only with this many raters (docs/disclosure.md).
ICR_MIN_DISTRIBUTION_RATERS = env_int("ICR_MIN_DISTRIBUTION_RATERS", 10)
# HR's review list: relationship groups that at least this many raters of a cycle said they
# did not receive (their reasons show only where M raters gave them, docs/disclosure.md).
ICR_NOT_RECEIVED_MIN_RATERS = env_int("ICR_NOT_RECEIVED_MIN_RATERS", 2)

# Production hardening: on unless DEBUG. `manage.py check --deploy` reports nothing with
# DEBUG off and a real SECRET_KEY.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEV)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEV)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEV)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEV else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEV)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEV)
ICR_BEHIND_TLS_PROXY = env_bool("ICR_BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if ICR_BEHIND_TLS_PROXY else None
# Proxies in front of ICR that append the client's address to X-Forwarded-For: the sign-in
# lockout counts by that address instead of the proxy's (relations.lockout.client_address).
ICR_PROXY_COUNT = env_int("ICR_PROXY_COUNT", 1 if ICR_BEHIND_TLS_PROXY else 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy on every page (django-csp), ICR's and the admin's alike: script and
# style only from ICR's own origin, never inline, so markup that reaches a page through data (a
# department's name, say) cannot run. Templates hand data to scripts in json_script blocks
# (type="application/json": data, not script) and bind events in static/icr/*.js.
# style-src without 'unsafe-inline', which would let style attributes and <style> blocks in:
# templates style through classes, and scripts through the CSSOM (element.style), which CSP does
# not govern; Bootstrap's and the admin's scripts style only that way. ECharts' own tooltip HTML
# carries style attributes, so dashboard.js builds its tooltips as DOM nodes.
# script-src without 'unsafe-eval': ECharts' one `new Function` parses GeoJSON given as a string,
# which ICR never does. img-src data: is for the icons Bootstrap's CSS draws as data: SVG.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
