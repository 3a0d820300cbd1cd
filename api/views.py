"""The REST API, version 1 (`/api/v1/`): django-ninja, its OpenAPI 3 schema at
`/api/v1/openapi.json` and browsable docs at `/api/v1/docs`.

Every operation authenticates a bearer token (`api.auth`) and checks its scope; it calls the
apps' services and selectors and never reaches the database for a rule of its own. Lists are
paged by an opaque cursor (the last id seen). Writes take an `Idempotency-Key` header and keep
their response (`api.idempotency`); hand-offs keep the key in their own row. Errors are RFC 9457
problem details. Results are what the token's role may see, built by the pages' own
selectors (`reviews.results`), so the API prints no figure the pages hide.
"""

from __future__ import annotations

import base64
import datetime as dt

from django.db.models import Q
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import Field

from relations.models import (
    Department,
    DepartmentTree,
    Direction,
    Edge,
    Employee,
    RelationPair,
    Workflow,
)
from relations.roles import Roles
from relations.services import GraphError
from reviews import handoffs, results, services
from reviews.models import Cycle, Handoff

from . import org_sync
from .auth import TokenAuth, require
from .idempotency import idempotent, respond
from .models import Scope
from .problems import Problem, pointer_of, problem_response

api = NinjaAPI(
    title="ICR",
    version="1",
    description=_(
        "Internal-customer relationships: the organisation, cycles, results and hand-offs."
    ),
    urls_namespace="api-v1",
    auth=TokenAuth(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(Problem)
def _problem(request, exc: Problem):
    return problem_response(exc, request.path)


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc: NinjaValidationError):
    errors = [
        {"pointer": pointer_of(e.get("loc", ())), "detail": e.get("msg", "")} for e in exc.errors
    ]
    return problem_response(
        Problem(
            422, _("Invalid request"), _("The request does not match the schema."), errors=errors
        ),
        request.path,
    )


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return problem_response(
        Problem(
            401,
            _("Not authenticated"),
            _("Send a valid, unrevoked token as “Authorization: Bearer …”."),
            headers={"WWW-Authenticate": "Bearer"},
        ),
        request.path,
    )


@api.exception_handler(Http404)
def _not_found(request, exc):
    return problem_response(Problem(404, _("Not found")), request.path)


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return problem_response(Problem(exc.status_code, str(exc)), request.path)


@api.exception_handler(services.ReviewError)
def _review_error(request, exc):
    return problem_response(Problem(409, _("Refused"), str(exc)), request.path)


# --- Paging ---------------------------------------------------------------------------------

MAX_LIMIT = 500


class Page(Schema):
    results: list
    next_cursor: str | None = None


def _cursor_after(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, _("Bad cursor"), _("Use the next_cursor of an earlier page.")) from exc


def page(queryset, cursor: str | None, limit: int, row) -> dict:
    """One page of `queryset` by id after the cursor; `row` turns an object into a dict."""
    limit = max(1, min(limit, MAX_LIMIT))
    items = list(queryset.filter(pk__gt=_cursor_after(cursor)).order_by("pk")[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    next_cursor = base64.urlsafe_b64encode(str(items[-1].pk).encode()).decode() if more else None
    return {"results": [row(i) for i in items], "next_cursor": next_cursor}


# --- Organisation ---------------------------------------------------------------------------


def _department(d: Department) -> dict:
    return {
        "id": d.pk,
        "code": d.code,
        "name": d.name,
        "parent_id": d.parent_id,
        "head_id": d.head_id,
        "active": d.active,
    }


def _employee(e: Employee) -> dict:
    return {
        "id": e.pk,
        "employee_id": e.employee_id,
        "name": e.name,
        "email": e.email,
        "department_id": e.department_id,
        "manager_id": e.manager_id,
        "title": e.title,
        "active": e.active,
    }


def _edge(e: Edge) -> dict:
    return {
        "id": e.pk,
        "direction": e.direction,
        "type": e.type,
        "rank_kind": e.rank_kind,
        "provider_department_id": e.provider_department_id,
        "provider_employee_id": e.provider_employee_id,
        "customer_department_id": e.customer_department_id,
        "customer_employee_id": e.customer_employee_id,
        "service": e.service,
    }


def _pair(p: RelationPair) -> dict:
    edges = {e.direction: _edge(e) for e in p.edges.all()}
    forward, reverse = edges.get(Direction.FORWARD), edges.get(Direction.REVERSE)
    if forward and reverse:
        forward["reverse_id"], reverse["reverse_id"] = reverse["id"], forward["id"]
    return {
        "id": p.pk,
        "type": p.type,
        "workflow_id": p.workflow_id,
        "valid_from": p.valid_from,
        "valid_to": p.valid_to,
        "forward": forward,
        "reverse": reverse,
    }


def _workflow(w: Workflow) -> dict:
    return {
        "id": w.pk,
        "code": w.code,
        "name": w.name,
        "description": w.description,
        "active": w.active,
        "steps": [
            {
                "id": s.pk,
                "position": s.position,
                "name": s.name,
                "owner_department_id": s.owner_department_id,
                "owner_employee_id": s.owner_employee_id,
            }
            for s in w.steps.all()
        ],
    }


@api.get("/departments/", response=Page, tags=["organisation"])
def list_departments(
    request, cursor: str | None = None, limit: int = 100, active: bool | None = None
):
    require(request, Scope.READ_ORG)
    qs = Department.objects.all()
    if active is not None:
        qs = qs.filter(active=active)
    return page(qs, cursor, limit, _department)


@api.get("/departments/{pk}", tags=["organisation"])
def get_department(request, pk: int):
    require(request, Scope.READ_ORG)
    return _department(_get(Department.objects, pk))


@api.get("/employees/", response=Page, tags=["organisation"])
def list_employees(
    request,
    cursor: str | None = None,
    limit: int = 100,
    active: bool | None = None,
    department_id: int | None = None,
):
    require(request, Scope.READ_ORG)
    qs = Employee.objects.all()
    if active is not None:
        qs = qs.filter(active=active)
    if department_id is not None:
        qs = qs.filter(department_id=department_id)
    return page(qs, cursor, limit, _employee)


@api.get("/employees/{pk}", tags=["organisation"])
def get_employee(request, pk: int):
    require(request, Scope.READ_ORG)
    return _employee(_get(Employee.objects, pk))


@api.get("/relationships/", response=Page, tags=["organisation"])
def list_relationships(
    request,
    cursor: str | None = None,
    limit: int = 100,
    type: str | None = None,
    active: bool = True,
):
    """Relationship pairs, each with its forward and reverse edge (`reverse_id` on each)."""
    require(request, Scope.READ_ORG)
    qs = RelationPair.objects.prefetch_related("edges")
    if active:
        qs = qs.active()
    if type:
        qs = qs.filter(type=type)
    return page(qs, cursor, limit, _pair)


@api.get("/relationships/{pk}", tags=["organisation"])
def get_relationship(request, pk: int):
    require(request, Scope.READ_ORG)
    return _pair(_get(RelationPair.objects.prefetch_related("edges"), pk))


@api.get("/workflows/", response=Page, tags=["organisation"])
def list_workflows(request, cursor: str | None = None, limit: int = 100):
    require(request, Scope.READ_ORG)
    return page(Workflow.objects.prefetch_related("steps"), cursor, limit, _workflow)


@api.get("/workflows/{pk}", tags=["organisation"])
def get_workflow(request, pk: int):
    require(request, Scope.READ_ORG)
    return _workflow(_get(Workflow.objects.prefetch_related("steps"), pk))


def _get(queryset, pk: int):
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


class OrgDocument(Schema):
    departments: list[dict]
    employees: list[dict]
    relations: list[dict] | None = None
    dry_run: bool = False


@api.post("/org/sync", tags=["organisation"])
def org_sync_view(request, document: OrgDocument):
    """Sync the organisation from a document with the import files' rows (see the file
    import): all checked first, line errors as JSON pointers, `dry_run` to preview. The same
    document twice changes nothing the second time."""
    token = require(request, Scope.WRITE_ORG)

    def run():
        try:
            plan, summary = org_sync.sync(
                document.dict(exclude={"dry_run"}, exclude_none=True),
                dry_run=document.dry_run,
                user=token.created_by,
                integration=token.name,
            )
        except GraphError as refused:
            raise Problem(409, _("Refused"), str(refused)) from refused
        if plan.errors:
            raise Problem(
                422,
                _("The document has errors"),
                _("Nothing was imported."),
                errors=[{"pointer": org_sync.pointer(i), "detail": i.message} for i in plan.errors],
            )
        body = {
            "dry_run": document.dry_run,
            "applied": summary is not None,
            "changes": plan.changes.as_dict(),
            "change_lines": plan.changes.lines(),
            "summary": (summary or _current_summary()).as_dict(),
            "import_id": summary.import_id if summary else None,
        }
        return 200, body

    return idempotent(request, run, required=not document.dry_run)


def _current_summary():
    from relations.importing import current_summary

    return current_summary()


# --- Cycles ---------------------------------------------------------------------------------


def _cycle(c: Cycle) -> dict:
    return {
        "id": c.pk,
        "name": c.name,
        "kind": c.kind,
        "status": c.status,
        "period_start": c.period_start,
        "period_end": c.period_end,
        "opens_at": c.opens_at,
        "deadline": c.deadline,
        "opened_at": c.opened_at,
        "closed_at": c.closed_at,
        "edge_types": c.edge_types,
    }


@api.get("/cycles/", response=Page, tags=["cycles"])
def list_cycles(request, cursor: str | None = None, limit: int = 100, kind: str | None = None):
    require(request, Scope.READ_RESULTS)
    qs = Cycle.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    return page(qs, cursor, limit, _cycle)


@api.get("/cycles/{pk}", tags=["cycles"])
def get_cycle(request, pk: int):
    require(request, Scope.READ_RESULTS)
    return _cycle(_get(Cycle.objects, pk))


@api.post("/cycles/{pk}/open", tags=["cycles"])
def open_cycle(request, pk: int):
    """Open a draft cycle (its invitations go out), as HR's button does."""
    token = require(request, Scope.WRITE_EVENTS)

    def run():
        cycle = _get(Cycle.objects.surveys(), pk)
        try:
            summary = services.open_cycle(cycle, actor=token.created_by)
        except services.ReviewError as refused:
            raise Problem(409, _("Refused"), str(refused)) from refused
        return 200, {"cycle": _cycle(summary.cycle), "summary": summary.as_dict()}

    return idempotent(request, run)


@api.post("/cycles/{pk}/close", tags=["cycles"])
def close_cycle(request, pk: int):
    """Close an open cycle: its results are computed in the same transaction."""
    token = require(request, Scope.WRITE_EVENTS)

    def run():
        cycle = _get(Cycle.objects.surveys(), pk)
        try:
            summary = services.close_cycle(cycle, actor=token.created_by)
        except services.ReviewError as refused:
            raise Problem(409, _("Refused"), str(refused)) from refused
        return 200, {"cycle": _cycle(summary.cycle), "summary": summary.as_dict()}

    return idempotent(request, run)


# --- Results --------------------------------------------------------------------------------


def _roles(token) -> Roles:
    """The role whose view of results the token has: HR's, or its employee's."""
    if token.employee_id is None:
        return Roles(is_hr=True)
    roles = Roles(employee_id=token.employee_id)
    roles.headed_department_ids = list(
        Department.objects.filter(head_id=token.employee_id, active=True).values_list(
            "id", flat=True
        )
    )
    if not Employee.objects.filter(pk=token.employee_id, active=True).exists():
        return Roles()
    return roles


def _figure(f: results.Figure) -> dict:
    """A figure as the pages print it: nothing of a hidden one but why it is hidden."""
    if f.suppressed:
        return {"label": f.label, "key": f.key, "shown": False, "reason": f.reason or None}
    return {
        "label": f.label,
        "key": f.key,
        "shown": True,
        "raters": f.raters,
        "not_received": f.not_received,
        "mean": f.mean,
        "favourable_percent": f.favourable_percent,
        "distribution": f.distribution,
        "change": f.change,
        "coarse": f.coarse,
    }


@api.get("/results/departments/{pk}", tags=["results"])
def department_results(request, pk: int, cycle: int | None = None):
    """A department's figures (with its sub-departments) as its results page shows them to the
    token's role, and its continuous results from hand-offs."""
    token = require(request, Scope.READ_RESULTS)
    roles = _roles(token)
    tree = DepartmentTree.load()
    if roles.is_hr:
        visible = None
    else:
        visible = sorted({d for root in roles.headed_department_ids for d in tree.subtree(root)})
    department = results.department_for(None, pk, visible=visible)
    chosen = results.pick_cycle(str(cycle) if cycle else None)
    body: dict = {"department": _department(department), "cycle": None}
    if chosen is not None:
        context = results.department_dashboard(department, chosen, tree=tree)
        body["cycle"] = _cycle(chosen)
        body["response_rate"] = context.get("response_rate")
        if context.get("closed"):
            body["overall"] = _figure(context["overall"])
            body["by_kind"] = [_figure(f) for f in context["by_kind"]]
            body["by_criterion"] = [_figure(f) for f in context["by_criterion"]]
            body["parts"] = [_figure(f) for f in context["parts"]]
    continuous = results.handoff_results(department)
    body["handoffs"] = (
        {
            "period": _cycle(continuous["period"]),
            "overall": _figure(continuous["overall"]),
            "by_kind": [_figure(f) for f in continuous["by_kind"]],
            "trend": continuous["trend"],
        }
        if continuous
        else None
    )
    return body


@api.get("/results/employees/{pk}", tags=["results"])
def employee_results(request, pk: int, cycle: int | None = None):
    """A person's figures ("my service") as their page shows them: to an HR token anyone's,
    to a token that sees as an employee only that employee's own."""
    token = require(request, Scope.READ_RESULTS)
    roles = _roles(token)
    if not roles.is_hr and roles.employee_id != pk:
        raise Http404
    person = _get(Employee.objects.select_related("manager"), pk)
    chosen = results.pick_cycle(str(cycle) if cycle else None)
    own = roles.employee_id == pk
    body: dict = {"employee": _employee(person), "cycle": _cycle(chosen) if chosen else None}
    if chosen is None:
        return body
    context = results.employee_page(person, chosen, own=own)
    if "overall" in context:
        body["overall"] = _figure(context["overall"])
        body["by_kind"] = [_figure(f) for f in context["by_kind"]]
    review = context.get("manager_review")
    if review:
        body["manager_review"] = {
            "overall": _figure(review["overall"]),
            "by_criterion": [_figure(f) for f in review["by_criterion"]],
        }
    return body


# --- Hand-offs ------------------------------------------------------------------------------


class HandoffIn(Schema):
    step_id: int | None = Field(None, description="A workflow step: a process hand-off.")
    workflow: str | None = Field(None, max_length=64, description="A workflow code.")
    provider_employee: str | None = Field(None, max_length=64, description="Employee ID.")
    provider_department: str | None = Field(None, max_length=64, description="Department code.")
    receiver: str = Field(..., max_length=64, description="The receiving person's employee ID.")
    external_ref: str = Field("", max_length=200)
    at: dt.datetime | None = None


@api.post("/handoffs/", tags=["hand-offs"])
def post_handoff(request: HttpRequest, handoff: HandoffIn):
    """Report a hand-off. Accepted at once (202) and turned into a short rating request for the
    receiving person shortly after, if the type's sampling and spacing allow. Send an
    Idempotency-Key: the same key again returns the first hand-off (200)."""
    token = require(request, Scope.WRITE_EVENTS)
    key = request.headers.get("Idempotency-Key", "")
    if not key or len(key) > 200:
        raise Problem(400, _("Idempotency-Key required"), _("Send a key of 1 to 200 characters."))
    if bool(handoff.step_id) == bool(handoff.workflow):
        raise Problem(
            422,
            _("Invalid hand-off"),
            _("Give either a step or a workflow."),
            errors=[{"pointer": "/step_id", "detail": _("Give either a step or a workflow.")}],
        )
    if bool(handoff.provider_employee) == bool(handoff.provider_department):
        raise Problem(
            422,
            _("Invalid hand-off"),
            _("Give the provider as a person or as a department."),
            errors=[
                {
                    "pointer": "/provider_employee",
                    "detail": _("Give the provider as a person or as a department."),
                }
            ],
        )
    at = handoff.at or timezone.now()
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    recorded = handoffs.record_handoff(
        source_id=token.pk,
        client_key=key,
        compare_at=handoff.at is not None,
        step_id=handoff.step_id,
        workflow_code=handoff.workflow or "",
        provider_employee=handoff.provider_employee or "",
        provider_department=handoff.provider_department or "",
        receiver=handoff.receiver,
        external_ref=handoff.external_ref,
        at=at,
    )
    if not recorded.same:
        raise Problem(
            422,
            _("Idempotency-Key reused"),
            _("This key was sent before with a different hand-off."),
        )
    return respond(202 if recorded.created else 200, {"id": recorded.id, "status": "accepted"})


@api.get("/handoffs/{pk}", tags=["hand-offs"])
def get_handoff(request, pk: int):
    """What became of a hand-off this token reported."""
    token = require(request, Scope.WRITE_EVENTS)
    h = _get(Handoff.objects.filter(Q(source_id=token.pk)), pk)
    return {
        "id": h.pk,
        "external_ref": h.external_ref,
        "received_at": h.received_at,
        "outcome": h.outcome,
        "asked": h.request_id is not None,
    }
