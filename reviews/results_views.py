"""Results pages: department dashboards, "my service", actions, answers to comments, exports.

Every view checks the object against the user (`results.department_for`, `employee_for`):
another department's or person's id in the URL gives a 404, never a 403 that would confirm
it exists.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from relations.models import Department, DepartmentTree, subtree_ids
from relations.roles import request_roles, visible_department_ids

from . import results, results_export, services
from .close import compute_rollups
from .models import (
    ActionStatus,
    CommentReply,
    Cycle,
    CycleResultSettings,
    CycleStatus,
    ImprovementAction,
    ResultComment,
)
from .results_forms import ActionForm, ActionStatusForm, ReplyForm, ResultSettingsForm


def _chart_labels() -> dict:
    return {
        "mean": _("Mean (1–5)"),
        "response": _("Response rate %"),
        "not_enough": _("not enough responses"),
        "hidden": _("hidden (too few answers, or to protect a smaller group)"),
        "provider": _("Provider"),
        "customer": _("Customer"),
    }


@login_required
def home(request):
    """Where "Results" leads: HR to the departments, a head to theirs, anyone to their page."""
    roles = request_roles(request)
    if roles.is_hr:
        departments = Department.objects.filter(parent__isnull=True).order_by("code")
        cycle = results.pick_cycle(request.GET.get("cycle"))
        return render(
            request,
            "results/home.html",
            {
                "departments": Department.objects.order_by("code"),
                "roots": departments,
                "cycles": results.result_cycles(),
                "cycle": cycle,
                "line_exchange": results.line_exchange(cycle),
            },
        )
    if roles.headed_department_ids:
        return redirect("results:department", pk=sorted(roles.headed_department_ids)[0])
    if roles.employee_id is not None:
        return redirect("results:employee", pk=roles.employee_id)
    raise Http404


@login_required
def department(request, pk: int):
    tree = DepartmentTree.load()  # one read for who may see what and for the page
    visible = visible_department_ids(request.user, tree, roles=request_roles(request))
    dept = results.department_for(request.user, pk, visible=visible)
    cycle = results.pick_cycle(request.GET.get("cycle"))
    # The matrix shows all types and criteria: per-type and per-criterion cells per customer
    # are not published (reviews.close.suppression).
    context = results.department_dashboard(dept, cycle, tree=tree)
    if cycle is not None and cycle.status == CycleStatus.OPEN:
        last = services.last_department_reminder(cycle, dept.pk)
        context["last_reminder"] = last
        context["reminder_window"] = settings.ICR_MANUAL_REMINDER_WINDOW_MINUTES
        if last is not None:
            context["next_reminder_at"] = services.next_manual_reminder_at(last)
            context["can_remind"] = timezone.now() >= context["next_reminder_at"]
        else:
            context["can_remind"] = True
    context.update(
        {
            "handoffs": results.handoff_results(dept),
            "cycles": results.result_cycles(),
            "chart_labels": _chart_labels(),
            "action_form": ActionForm(initial={"due": timezone.localdate()}),
            "action_statuses": ActionStatus.choices,
            "is_hr": visible is None,
            # For the needs counts (needs_tags): the subtree from the tree read above.
            "tree_ids": tree.subtree(dept.pk),
        }
    )
    return render(request, "results/department.html", context)


@login_required
@require_POST
def remind(request, pk: int):
    """A head's "remind those who have not answered": no names, a number only where the page
    shows the response rate (`results.rater_response`)."""
    tree = DepartmentTree.load(names=False)
    visible = visible_department_ids(request.user, tree, roles=request_roles(request))
    dept = results.department_for(request.user, pk, visible=visible)
    cycle_id = request.POST.get("cycle", "")
    cycle = get_object_or_404(
        Cycle, pk=int(cycle_id) if cycle_id.isdigit() else 0, status=CycleStatus.OPEN
    )
    tree_ids = tree.subtree(dept.pk)
    try:
        sent = services.remind_department_raters(
            cycle, dept, department_ids=tree_ids, actor=request.user
        )
    except services.ReviewError as exc:
        messages.error(request, str(exc))
    else:
        if not sent:
            messages.info(
                request,
                _(
                    "Nobody to remind: everyone who rates your department has answered, was "
                    "invited too recently, or got a reminder in the last %(m)d minutes."
                )
                % {"m": settings.ICR_MANUAL_REMINDER_WINDOW_MINUTES},
            )
        elif results.rater_response(cycle, tree_ids)["shown"]:
            messages.success(
                request,
                ngettext(
                    "A reminder is on its way to %(n)d person who has not answered.",
                    "A reminder is on its way to %(n)d people who have not answered.",
                    sent,
                )
                % {"n": sent},
            )
        else:
            messages.success(request, _("A reminder is on its way to those who have not answered."))
    return redirect(f"{_dashboard_url(dept.pk)}?cycle={cycle.pk}#raters")


@login_required
def me(request):
    roles = request_roles(request)
    if roles.employee_id is None:
        raise Http404
    return redirect("results:employee", pk=roles.employee_id)


@login_required
def employee(request, pk: int):
    roles = request_roles(request)
    person = results.employee_for(request.user, pk, roles=roles)
    cycle = results.pick_cycle(request.GET.get("cycle"))
    own = roles.employee_id == person.pk
    context = results.employee_page(person, cycle, own=own)
    context.update({"cycles": results.result_cycles(), "chart_labels": _chart_labels()})
    return render(request, "results/employee.html", context)


@login_required
@require_POST
def action_create(request, pk: int):
    dept = results.department_for(request.user, pk)
    cycle_id = request.POST.get("cycle", "")
    cycle = get_object_or_404(
        Cycle, pk=int(cycle_id) if cycle_id.isdigit() else 0, status=CycleStatus.CLOSED
    )
    # The weak relationship may be a sub-department's: it must be in this department's tree.
    provider_id = request.POST.get("provider", "")
    provider = dept
    if provider_id.isdigit() and int(provider_id) != dept.pk:
        if int(provider_id) not in subtree_ids([dept.pk])[dept.pk]:
            raise Http404
        provider = results.department_for(request.user, int(provider_id))
    form = ActionForm(request.POST)
    if form.is_valid():
        action = form.save(commit=False)
        action.cycle = cycle
        action.provider_department = provider
        action.created_by = request.user
        action.save()
        messages.success(request, _("The action is recorded."))
    else:
        messages.error(request, _("The action was not recorded: fill in what, who and by when."))
    return redirect(f"{_dashboard_url(dept.pk)}?cycle={cycle.pk}#actions")


def _dashboard_url(pk: int) -> str:
    from django.urls import reverse

    return reverse("results:department", kwargs={"pk": pk})


@login_required
@require_POST
def action_update(request, pk: int):
    action = get_object_or_404(ImprovementAction, pk=pk)
    results.department_for(request.user, action.provider_department_id)
    form = ActionStatusForm(request.POST, instance=action)
    if form.is_valid():
        form.save()
        messages.success(request, _("The action is updated."))
    return redirect(
        f"{_dashboard_url(action.provider_department_id)}?cycle={action.cycle_id}#actions"
    )


@login_required
@require_POST
def comment_reply(request, pk: int):
    comment = get_object_or_404(ResultComment, pk=pk, employee__isnull=True)
    results.department_for(request.user, comment.department_id)
    reply = CommentReply.objects.filter(comment=comment).first() or CommentReply(comment=comment)
    form = ReplyForm(request.POST, instance=reply)
    if form.is_valid():
        reply = form.save(commit=False)
        reply.author = request.user
        reply.updated_at = timezone.now()
        reply.save()
        services.queue_reply_notices(comment)
        messages.success(request, _("Your answer is saved; the raters of this cycle can read it."))
    return redirect(f"{_dashboard_url(comment.department_id)}?cycle={comment.cycle_id}#comments")


def _hr_cycle(request, pk: int) -> Cycle:
    if not request_roles(request).is_hr:
        raise Http404
    return get_object_or_404(Cycle, pk=pk)


@login_required
def cycle_settings(request, pk: int):
    cycle = _hr_cycle(request, pk)
    setting, _created = CycleResultSettings.objects.get_or_create(cycle=cycle)
    form = ResultSettingsForm(request.POST or None, instance=setting)
    if request.method == "POST" and form.is_valid():
        form.save()
        compute_rollups(cycle)
        messages.success(request, _("Saved; the cycle's results were computed again."))
        return redirect("results:cycle_settings", pk=cycle.pk)
    return render(request, "results/cycle_settings.html", {"cycle": cycle, "form": form})


@login_required
def export(request, pk: int, fmt: str):
    cycle = _hr_cycle(request, pk)
    if cycle.status != CycleStatus.CLOSED or fmt not in results_export.FORMATS:
        raise Http404
    language = request.GET.get("lang") or None
    content, content_type = results_export.render(cycle, fmt, language=language)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="icr-results-{cycle.pk}.{fmt}"'
    return response


@login_required
def department_export(request, pk: int, cycle_pk: int):
    """A head's (or HR's) XLSX of a department and its sub-departments for a closed cycle:
    what the department pages show, nothing more (`results_export.department_workbook`)."""
    tree = DepartmentTree.load()
    visible = visible_department_ids(request.user, tree, roles=request_roles(request))
    dept = results.department_for(request.user, pk, visible=visible)
    cycle = get_object_or_404(Cycle, pk=cycle_pk, status=CycleStatus.CLOSED)
    content = results_export.department_workbook(
        dept, cycle, tree=tree, language=translation.get_language()
    )
    response = HttpResponse(content, content_type=results_export.FORMATS["xlsx"])
    response["Content-Disposition"] = results_export.content_disposition(
        results_export.department_file_name(dept, cycle)
    )
    return response
