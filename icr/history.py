"""The audit trail: which row of HR's models changed, when, by whom, and what it then held.

Each audited model has a historical table (django-simple-history, `audited()` below): one row
per change holding a copy of every column, `history_date`, `history_type` (+ created, ~ changed,
- deleted) and `history_user_id`. A `save()` or `delete()` records itself through the library's
signals, the user taken from the request by its middleware. Writes that bypass `save()`
(`QuerySet.update`, `bulk_create`, the importer's bulk SQL) call `record`, which copies the rows
as they are after the write with one `INSERT ... SELECT`, in the same transaction: a history
row never disagrees with what the table held, and a write of 100,000 rows records them in one
statement.

The state of a model at a moment is, per id, its latest history row up to then (`state_as_of`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

CREATED, CHANGED, DELETED = "+", "~", "-"


def audited(**options) -> HistoricalRecords:
    """The historical table of an audited model.

    The acting user is kept as a plain id, not a foreign key: no per-row key check when an
    import records 300,000 rows, and deleting a login rewrites no audit row. `no_db_index`
    names the copied foreign keys and unique fields: the history is read by id and date only,
    and every index more slows the set-based inserts.
    """
    return HistoricalRecords(
        history_id_field=models.BigAutoField(primary_key=True),
        history_user_id_field=models.IntegerField(null=True, blank=True),
        **options,
    )


def current_user_id() -> int | None:
    """The signed-in user of the request being served, as the library's middleware saw it."""
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user.pk
    return None


_FROM_CONTEXT = object()
_attribution: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "icr_history_attribution", default=None
)


@contextlib.contextmanager
def attributed(*, user_id: int | None, **columns) -> Iterator[None]:
    """Inside the block, `record` writes this user and these history columns (where the
    model's history has them): the services an operation calls are attributed to it."""
    token = _attribution.set({"history_user_id": user_id, **columns})
    try:
        yield
    finally:
        _attribution.reset(token)


def record(
    queryset: models.QuerySet,
    history_type: str = CHANGED,
    *,
    at: datetime | None = None,
    user_id=_FROM_CONTEXT,
    extra: dict | None = None,
) -> None:
    """Copy the rows `queryset` selects into the model's history, as they are now."""
    ids = queryset.order_by().values("pk")
    try:
        sql, params = ids.query.sql_with_params()
    except EmptyResultSet:  # `id__in=[]`: no row to record
        return
    model = queryset.model
    qn = connection.ops.quote_name
    column = f"{qn(model._meta.db_table)}.{qn(model._meta.pk.column)}"
    record_where(
        model,
        f"{column} IN ({sql})",
        list(params),
        history_type,
        at=at,
        user_id=user_id,
        extra=extra,
    )


def record_where(
    model: type[models.Model],
    where: str,
    params: list,
    history_type: str = CHANGED,
    *,
    at: datetime | None = None,
    user_id=_FROM_CONTEXT,
    extra: dict | None = None,
) -> None:
    """As `record`, for the rows of `model`'s table that the SQL condition `where` selects.

    `extra` sets further columns of the history table (by field name) to one value for all.
    """
    history = model.history.model
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    tracked = [f.column for f in history.tracked_fields]
    context = _attribution.get()
    if user_id is _FROM_CONTEXT:
        user_id = context["history_user_id"] if context is not None else current_user_id()
    names = {f.name for f in history._meta.concrete_fields} - {"history_user_id"}
    values = {
        "history_date": at or timezone.now(),
        "history_type": history_type,
        "history_user_id": user_id,
        "history_change_reason": None,
        **{name: value for name, value in (context or {}).items() if name in names},
        **(extra or {}),
    }
    fields = [history._meta.get_field(name) for name in values]
    constants = [
        f.get_db_prep_save(value, connection)
        for f, value in zip(fields, values.values(), strict=True)
    ]
    columns = ", ".join(qn(c) for c in [*tracked, *(f.column for f in fields)])
    selected = ", ".join([*(f"{table}.{qn(c)}" for c in tracked), *(["%s"] * len(fields))])
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {qn(history._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT {selected} FROM {table} WHERE {where}",
            [*constants, *params],
        )


def state_as_of(model: type[models.Model], at: datetime) -> models.QuerySet:
    """The history rows that held `model`'s state at `at`: per id, the latest one up to then.

    An id whose latest row up to `at` records its deletion, or that had no row yet, is left
    out. Rows of one moment are ordered by their history id, the order they were written in.
    """
    history = model.history.model
    rows = history._default_manager.filter(history_date__lte=at)
    later = rows.filter(id=OuterRef("id")).filter(
        Q(history_date__gt=OuterRef("history_date"))
        | Q(history_date=OuterRef("history_date"), history_id__gt=OuterRef("history_id"))
    )
    return rows.exclude(history_type=DELETED).filter(~Exists(later))
