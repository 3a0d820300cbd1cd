"""Integrations of the REST API: their tokens (stored as a hash only) and stored responses.

HR creates one `ApiToken` per integration in the admin, sees its secret once, gives it scopes
and may revoke it; the admin shows when it was last used. A write sent with an
`Idempotency-Key` keeps its response in an `IdempotencyRecord`, unique per token and key, so
the same request again gets the same answer and changes nothing.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "icr_"  # noqa: S105 - a marker, not a secret


class Scope(models.TextChoices):
    READ_ORG = "read_org", _("Read the organisation")
    WRITE_ORG = "write_org", _("Write the organisation (org sync)")
    WRITE_EVENTS = "write_events", _("Write events (hand-offs, open and close cycles)")
    READ_RESULTS = "read_results", _("Read cycles and results")


def all_scopes() -> list[str]:
    return []


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    name = models.CharField(_("integration"), max_length=200)
    # The SHA-256 of the secret: a database reader cannot call the API with it. A token is
    # 32 random bytes, so a plain hash is enough (no password stretching needed).
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        _("token begins with"), max_length=12, editable=False, help_text=_("To recognise it.")
    )
    scopes = models.JSONField(_("scopes"), default=all_scopes, blank=True)
    employee = models.ForeignKey(
        "relations.Employee",
        verbose_name=_("sees results as"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_(
            "Results are what this person may see (a department head: their departments). "
            "Empty: what HR sees."
        ),
    )
    rate_per_minute = models.PositiveIntegerField(
        _("requests per minute"),
        null=True,
        blank=True,
        help_text=_("Empty: the site's default."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])

    def new_secret(self) -> str:
        """Give the token a fresh secret and return it: shown once, only its hash is kept."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_token(secret)
        self.prefix = secret[:10]
        return secret


class IdempotencyRecord(models.Model):
    """The response to a write sent with an Idempotency-Key, kept to answer a retry."""

    token = models.ForeignKey(
        ApiToken, verbose_name=_("token"), on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(_("key"), max_length=200)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=300)
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)
    body = models.JSONField(_("response"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("stored API response")
        verbose_name_plural = _("stored API responses")
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="api_idempotencyrecord_once"),
            models.CheckConstraint(
                condition=Q(status__isnull=True) | Q(status__gte=100, status__lte=599),
                name="api_idempotencyrecord_status_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.token_id}:{self.key}"
