"""Import HR's files in the admin: upload → preview → confirm → summary; and the org chart and
relationship graph as of a date, from the audit trail.

The uploaded bytes wait on the server between preview and confirm (under VAR_DIR/imports, the
token in the session) and the plan is made again on confirm, so what is applied is checked
against the database as it is then, not as it was at the preview.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import shutil
import time
from dataclasses import fields
from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from .exporting import (
    TEMPLATE_ROWS,
    OrgAsOf,
    template_csv,
    template_xlsx,
    write_departments,
    write_employees,
    write_relations,
)
from .forms import AsOfForm, ImportUploadForm
from .importing import ImportSource, apply_import, plan_import
from .models import EdgeType, ImportVia
from .services import GraphError

SESSION_TOKEN = "icr_import_token"  # noqa: S105 (a session key, not a secret)
SESSION_SUMMARY = "icr_import_summary"
FILE_KEYS = ("departments", "employees", "relations")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
STALE_AFTER_SECONDS = 24 * 3600

# Labels for the plan's counters (relations.importing.ImportChanges), in the preview's order.
COUNTERS = {
    "departments_created": _("Departments created"),
    "departments_updated": _("Departments changed"),
    "departments_reactivated": _("Departments reactivated"),
    "departments_deactivated": _("Departments deactivated"),
    "employees_created": _("Employees created"),
    "employees_updated": _("Employees changed"),
    "employees_moved": _(
        "Employees moved (new department or manager: rank relationships replaced)"
    ),
    "employees_reactivated": _("Employees reactivated"),
    "employees_deactivated": _("Employees deactivated (login disabled, relationships retired)"),
    "logins_created": _("Logins created"),
    "logins_updated": _("Logins changed"),
    "im_ids_changed": _("Messaging IDs set or changed"),
    "services_changed": _("Service descriptions changed"),
}


# --- Server-side storage of an upload between preview and confirm --------------------------


def _imports_dir() -> Path:
    return Path(settings.VAR_DIR) / "imports"


def _folder(token: str | None) -> Path | None:
    if not token or not TOKEN_RE.match(token):
        return None
    return _imports_dir() / token


def _store(sources: dict[str, ImportSource]) -> str:
    token = secrets.token_urlsafe(24)  # 32 characters
    folder = _imports_dir() / token
    folder.mkdir(parents=True, mode=0o700)
    for key, source in sources.items():
        (folder / key).write_bytes(source.data)
    names = {key: source.name for key, source in sources.items()}
    (folder / "names.json").write_text(json.dumps(names), encoding="utf-8")
    return token


def _load(token: str | None) -> dict[str, ImportSource] | None:
    folder = _folder(token)
    if folder is None or not (folder / "names.json").is_file():
        return None
    names = json.loads((folder / "names.json").read_text(encoding="utf-8"))
    return {
        key: ImportSource(names[key], (folder / key).read_bytes())
        for key in FILE_KEYS
        if key in names
    }


def _discard(token: str | None) -> None:
    folder = _folder(token)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _discard_stale() -> None:
    """Previews nobody confirmed: gone after a day."""
    root = _imports_dir()
    if not root.is_dir():
        return
    cutoff = time.time() - STALE_AFTER_SECONDS
    for folder in root.iterdir():
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


# --- Plan and its presentation --------------------------------------------------------------


def _plan(sources: dict[str, ImportSource]):
    return plan_import(
        departments=sources["departments"],
        employees=sources["employees"],
        relations=sources.get("relations"),
    )


def change_rows(changes) -> list[dict]:
    """One row per non-zero counter of the plan, with the names it gave as samples."""
    samples = getattr(changes, "samples", {}) or {}
    counters = [f.name for f in fields(changes) if isinstance(getattr(changes, f.name), int)]
    # Known counters in their order, then any the importer added since.
    order = [key for key in COUNTERS if key in counters]
    order += [key for key in counters if key not in COUNTERS]
    rows = []
    for key in order:
        count = getattr(changes, key)
        if count:
            names = list(samples.get(key, []))
            rows.append(
                {
                    "key": key,
                    "label": COUNTERS.get(key, key.replace("_", " ")),
                    "count": count,
                    "names": names,
                    "more": max(count - len(names), 0),
                }
            )
    return rows


def pair_rows(changes) -> list[dict]:
    created = getattr(changes, "pairs_created", {}) or {}
    retired = getattr(changes, "pairs_retired", {}) or {}
    return [
        {
            "type": edge_type.label,
            "created": created.get(edge_type.value, 0),
            "retired": retired.get(edge_type.value, 0),
        }
        for edge_type in EdgeType
        if created.get(edge_type.value) or retired.get(edge_type.value)
    ]


def _context(request, **extra) -> dict:
    return {**admin.site.each_context(request), **extra}


def _preview(request, plan, sources, token: str | None):
    return TemplateResponse(
        request,
        "admin/relations/import_preview.html",
        _context(
            request,
            title=gettext("Import preview"),
            plan=plan,
            errors=plan.errors,
            change_rows=change_rows(plan.changes),
            pair_rows=pair_rows(plan.changes),
            file_names=[source.name for source in sources.values()],
            token=token,
        ),
    )


# --- Views (wrapped by HRAdminSite.admin_view: HR only) -------------------------------------


def import_upload(request):
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            sources = {
                key: ImportSource(upload.name, upload.read())
                for key in FILE_KEYS
                if (upload := form.cleaned_data.get(key)) is not None
            }
            _discard(request.session.pop(SESSION_TOKEN, None))
            _discard_stale()
            plan = _plan(sources)
            token = None
            if not plan.errors and not plan.is_noop:
                token = _store(sources)
                request.session[SESSION_TOKEN] = token
            return _preview(request, plan, sources, token)
    else:
        form = ImportUploadForm()
    template_kinds = [
        ("departments", gettext("Departments")),
        ("employees", gettext("Employees")),
        ("relations", gettext("Relationships")),
    ]
    return TemplateResponse(
        request,
        "admin/relations/import_upload.html",
        _context(
            request, title=gettext("Import org files"), form=form, template_kinds=template_kinds
        ),
    )


@require_POST
def import_confirm(request):
    token = request.session.get(SESSION_TOKEN)
    sources = _load(token) if token and request.POST.get("token") == token else None
    if sources is None:
        messages.error(
            request,
            gettext(
                "This preview is no longer valid (it was confirmed, replaced or is too old). "
                "Upload the files again."
            ),
        )
        return redirect("admin:import_org")
    # Plan again: the database may have changed since the preview.
    plan = _plan(sources)
    if plan.errors or plan.is_noop:
        _discard(request.session.pop(SESSION_TOKEN, None))
        messages.warning(
            request, gettext("The data changed since the preview; here is the new preview.")
        )
        return _preview(request, plan, sources, None)
    try:
        summary = apply_import(plan, user=request.user, via=ImportVia.ADMIN)
    except GraphError as exc:  # ImportConflict: someone changed the data in between
        _discard(request.session.pop(SESSION_TOKEN, None))
        messages.error(request, str(exc))
        return redirect("admin:import_org")
    _discard(request.session.pop(SESSION_TOKEN, None))
    request.session[SESSION_SUMMARY] = {**summary.as_dict(), "import_id": summary.import_id}
    messages.success(request, gettext("The import was applied."))
    return redirect("admin:import_org_done")


def import_done(request):
    summary = request.session.get(SESSION_SUMMARY)
    if summary is None:
        return redirect("admin:import_org")
    edges = summary.get("edges", {})
    edge_rows = [
        {"type": edge_type.label, "value": edge_type.value, "count": edges.get(edge_type.value, 0)}
        for edge_type in EdgeType
    ]
    return TemplateResponse(
        request,
        "admin/relations/import_done.html",
        _context(
            request,
            title=gettext("Import applied"),
            summary=summary,
            edge_rows=edge_rows,
            edges_url=reverse("admin:relations_edge_changelist") + "?active=yes",
            import_url=(
                reverse("admin:relations_orgimport_change", args=[summary["import_id"]])
                if summary.get("import_id")
                else None
            ),
        ),
    )


# --- The org chart and the relationship graph as of a date ---------------------------------

AS_OF_FILES = {
    "departments": write_departments,
    "employees": write_employees,
    "relations": write_relations,
}


def org_as_of(request):
    """A moment's org chart, counts and the three export files, from the audit trail."""
    form = AsOfForm(request.GET or None)
    context = {"title": gettext("Org chart as of a date"), "form": form}
    if form.is_valid():
        moment = form.cleaned_data["at"]
        org = OrgAsOf(moment)
        edges = org.edge_counts()
        context.update(
            moment=moment,
            at=form.data["at"],
            chart=org.chart(),
            departments=org.department_count,
            employees=org.employee_count,
            edge_rows=[
                {"type": edge_type.label, "count": edges.get(edge_type.value, 0)}
                for edge_type in EdgeType
            ],
            files=list(AS_OF_FILES),
        )
    return TemplateResponse(request, "admin/relations/org_as_of.html", _context(request, **context))


def org_as_of_file(request, kind: str):
    """One of export_org's files as of the moment in `?at=`, for download."""
    form = AsOfForm(request.GET)
    if kind not in AS_OF_FILES or not form.is_valid():
        raise Http404
    moment = form.cleaned_data["at"]
    out = io.StringIO()
    AS_OF_FILES[kind](out, OrgAsOf(moment))
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime(moment).strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{kind}-{stamp}.csv"'
    return response


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def org_template(request, kind: str, fmt: str):
    """A blank import file (headers and one example row), as CSV or Excel."""
    if kind not in TEMPLATE_ROWS or fmt not in ("csv", "xlsx"):
        raise Http404
    if fmt == "csv":
        # The byte-order mark: Excel on Chinese Windows reads UTF-8 without it as GBK.
        content, content_type = "\ufeff" + template_csv(kind), "text/csv; charset=utf-8"
    else:
        content, content_type = template_xlsx(kind), XLSX
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{kind}-template.{fmt}"'
    return response


def org_current_file(request, kind: str):
    """One of export_org's files as the org is now, for download: the import reads it back
    unchanged."""
    if kind not in AS_OF_FILES:
        raise Http404
    out = io.StringIO()
    AS_OF_FILES[kind](out)
    response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{kind}-{stamp}.csv"'
    return response
