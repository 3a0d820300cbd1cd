"""Pages for needs and proposals: an employee's own threads and proposals, a department's
threads for its heads (and HR, read-only). Every view checks who may see the object: anyone
else gets a 404, which does not confirm that it exists."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from relations.membership import departments_represented_by
from relations.models import Department, Employee
from relations.roles import request_roles
from reviews import results

from . import selectors, services
from .forms import AnswerNeedForm, ConfirmNeedForm, ProposeForm, RaiseNeedForm
from .models import Need, RelationshipProposal


def _employee(request) -> Employee:
    roles = request_roles(request)
    if roles.employee_id is None:
        raise Http404
    return Employee.objects.select_related("department").get(pk=roles.employee_id)


def _propose_form(employee: Employee, data=None) -> ProposeForm:
    departments = list(
        Department.objects.filter(id__in=departments_represented_by(employee)).order_by("code")
    )
    return ProposeForm(data, employee=employee, departments=departments)


def _mine_page(request, employee, *, raise_form=None, propose_form=None, status=200):
    roles = request_roles(request)
    needs = selectors.my_needs(employee)
    figures = selectors.thread_figures(
        needs,
        may_see=lambda need: selectors.may_see_group_figure(
            need, is_hr=roles.is_hr, employee_id=employee.pk
        ),
    )
    for need in needs:
        need.figures = figures[need.pk]
    context = {
        "employee": employee,
        "needs": needs,
        "raise_form": raise_form
        or RaiseNeedForm(
            edges=selectors.receivable_edges(employee),
            initial={"edge": request.GET.get("edge", "")},
        ),
        "propose_form": propose_form or _propose_form(employee),
        "confirm_form": ConfirmNeedForm(),
        "proposals": RelationshipProposal.objects.filter(proposer=employee)
        .select_related(
            "provider_department", "provider_employee", "customer_department", "customer_employee"
        )
        .order_by("-created_at")[:50],
    }
    return render(request, "needs/mine.html", context, status=status)


@login_required
def mine(request):
    return _mine_page(request, _employee(request))


@login_required
@require_POST
def raise_need(request):
    employee = _employee(request)
    form = RaiseNeedForm(request.POST, edges=selectors.receivable_edges(employee))
    if form.is_valid():
        try:
            services.raise_need(
                employee,
                form.cleaned_data["edge"],
                kind=form.cleaned_data["kind"],
                text=form.cleaned_data["text"],
                named=form.cleaned_data["named"],
            )
        except services.NeedError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Raised. The provider's head will answer it here."))
            return redirect("needs:mine")
    return _mine_page(request, employee, raise_form=form, status=400)


@login_required
@require_POST
def confirm(request, pk):
    employee = _employee(request)
    need = get_object_or_404(Need, pk=pk)
    if not need.is_raised_by(employee):
        raise Http404
    form = ConfirmNeedForm(request.POST)
    if not form.is_valid():
        raise Http404
    try:
        services.confirm_need(need, employee=employee, resolved=form.cleaned_data["resolved"])
    except services.NeedError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Thank you, the provider sees your answer."))
    return redirect("needs:mine")


@login_required
@require_POST
def propose(request):
    employee = _employee(request)
    form = _propose_form(employee, request.POST)
    if form.is_valid() and "mine" in form.cleaned_data:
        provider, customer = form.ends()
        try:
            services.propose_relationship(
                employee,
                edge_type=form.cleaned_data["type"],
                provider=provider,
                customer=customer,
                service=form.cleaned_data["service"],
                reverse_service=form.cleaned_data["reverse_service"],
                note=form.cleaned_data["note"],
            )
        except services.NeedError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Proposed. HR will accept or decline it."))
            return redirect("needs:mine")
    return _mine_page(request, employee, propose_form=form, status=400)


@login_required
def department(request, pk: int):
    """The threads about a department's service (and its sub-departments'): its heads answer,
    heads above it and HR read."""
    dept = results.department_for(request.user, pk)
    roles = request_roles(request)
    needs = selectors.department_needs(dept)
    figures = selectors.thread_figures(
        needs,
        may_see=lambda need: selectors.may_see_group_figure(
            need, is_hr=roles.is_hr, employee_id=roles.employee_id
        ),
    )
    answerable = services.answerable_departments(roles)
    for need in needs:
        need.figures = figures[need.pk]
        need.may_answer = need.provider_department_id in answerable
    return render(
        request,
        "needs/department.html",
        {
            "department": dept,
            "needs": needs,
            "counts": selectors.department_counts(dept),
            "answer_form": AnswerNeedForm(),
        },
    )


@login_required
@require_POST
def answer(request, pk):
    need = get_object_or_404(Need, pk=pk)
    results.department_for(request.user, need.provider_department_id)
    form = AnswerNeedForm(request.POST)
    if form.is_valid():
        try:
            services.answer_need(need, user=request.user, reply=form.cleaned_data["reply"])
        except services.NeedError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Answered; the customer is asked to confirm."))
    else:
        messages.error(request, _("Write what was done."))
    back = request.POST.get("department", "")
    target = int(back) if back.isdigit() else need.provider_department_id
    return redirect("needs:department", pk=target)
