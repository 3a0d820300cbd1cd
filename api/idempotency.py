"""Writes that a client may safely send again: the response kept under its Idempotency-Key.

The record is inserted first, in the write's own transaction: a second request with the same
key waits on the unique index (api_idempotencyrecord_once) until the first commits, then reads
its stored response; if the first failed and rolled back, the second runs as if it were first.
A key sent with another method, path or body is refused (422). Errors are stored too: the same
request again gets the same error.
"""

from __future__ import annotations

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils.translation import gettext as _

from .models import IdempotencyRecord
from .problems import CONTENT_TYPE, Problem


def _fingerprint(request) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.get_full_path().encode(), request.body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def respond(status: int, body) -> JsonResponse:
    return JsonResponse(
        body,
        status=status,
        safe=False,
        content_type=CONTENT_TYPE if status >= 400 else "application/json",
        json_dumps_params={"ensure_ascii": False},
    )


def _stored(record: IdempotencyRecord) -> JsonResponse:
    response = respond(record.status, record.body)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(request, run, *, required: bool = True):
    """Run `run()` (returning (status, body)) once per Idempotency-Key of this token."""
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        if required:
            raise Problem(
                400, _("Idempotency-Key required"), _("Send a key of 1 to 200 characters.")
            )
        return respond(*run())
    if len(key) > 200:
        raise Problem(400, _("Idempotency-Key too long"), _("At most 200 characters."))
    token = request.auth
    fingerprint = _fingerprint(request)
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    token=token,
                    key=key,
                    method=request.method,
                    path=request.path[:300],
                    fingerprint=fingerprint,
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.get(token=token, key=key)
            if record.fingerprint != fingerprint:
                raise Problem(
                    422,
                    _("Idempotency-Key reused"),
                    _("This key was sent before with a different request."),
                ) from None
            return _stored(record)
        try:
            with transaction.atomic():
                status, body = run()
        except Problem as problem:
            status, body = problem.status, problem.body(request.path)
        body = json.loads(json.dumps(body, cls=DjangoJSONEncoder))
        record.status, record.body = status, body
        record.save(update_fields=["status", "body"])
    return respond(status, body)
