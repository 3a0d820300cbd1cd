from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from relations.roles import is_hr, request_roles

from . import selectors, services
from .forms import CommitmentForm, CycleWizardForm, RatingForm, RemindForm
from .models import Cycle, ReviewRequest, ServiceCommitment
from .tokens import read_request_token


@login_required
def inbox(request):
    groups = selectors.inbox(request.user)
    return render(request, "reviews/inbox.html", {"groups": groups})


def _own_request(user, pk: int) -> ReviewRequest:
    # Anyone but the rater gets a 404, not a 403: the request's existence is not theirs to know.
    return get_object_or_404(ReviewRequest.objects.select_related("cycle"), pk=pk, rater__user=user)


@login_required
def rate(request, pk: int):
    posted = request.method == "POST"
    if posted:
        # The busiest path: only what a submission needs, read in one plain statement.
        review_request = services.answerable_request(pk, rater_user_id=request.user.pk)
        if review_request is None:
            raise Http404
    else:
        review_request = _own_request(request.user, pk)
    cycle = review_request.cycle
    if not cycle.accepts_answers():
        # The closed page shows no answer: once the cycle is closed, its answers no longer
        # carry the key that finds the rater's own (`services.unlink_answers`).
        review_request = _own_request(request.user, pk) if posted else review_request
        cycle = review_request.cycle
        return render(
            request, "reviews/rate.html", {"req": review_request, "cycle": cycle, "closed": True}
        )
    criteria = services.applicable_criteria(
        cycle, review_request.edge_type, review_request.rank_kind
    )
    draft = request.POST.get("action") == "draft"
    if posted:
        form = RatingForm(request.POST, criteria=criteria, draft=draft)
        if form.is_valid():
            try:
                services.submit_answer(
                    review_request,
                    scores=form.scores(),
                    comment=form.cleaned_data["comment"],
                    not_received=form.cleaned_data["not_received"],
                    reason=form.cleaned_data["reason"],
                    draft=draft,
                    criteria=criteria,
                )
            except services.ReviewError as exc:
                form.add_error(None, str(exc))
            else:
                if draft:
                    messages.success(request, _("Draft saved. It is not submitted yet."))
                    return redirect("reviews:rate", pk=review_request.pk)
                left = selectors.pending_request_ids(request.user)
                if not left:
                    messages.success(
                        request, _("Thank you, your answer is saved. That was the last one.")
                    )
                    return redirect("reviews:inbox")
                messages.success(
                    request,
                    ngettext(
                        "Thank you, your answer is saved. %(n)d more to rate: here is the next.",
                        "Thank you, your answer is saved. %(n)d more to rate: here is the next.",
                        len(left),
                    )
                    % {"n": len(left)},
                )
                return redirect("reviews:rate", pk=left[0])
    # The stored answer fills the form on a GET and is shown beside it; a POST that is
    # accepted redirects before needing it or the rest of the request (the busiest path).
    if posted:
        review_request = _own_request(request.user, pk)
        cycle = review_request.cycle
    answer = services.current_answer(review_request)
    if not posted:
        form = RatingForm(criteria=criteria, answer=answer)
    return render(
        request,
        "reviews/rate.html",
        {
            "req": review_request,
            "cycle": cycle,
            "form": form,
            "closed": False,
            "answer": answer,
            "commitments": selectors.edge_commitments(review_request.edge_id),
        },
    )


@login_required
def token_link(request, token: str):
    """The link in an e-mail: opens the form for the rater it was sent to, for nobody else."""
    ids = read_request_token(token)
    if ids is None:
        raise Http404
    request_id, cycle_id = ids
    review_request = get_object_or_404(
        ReviewRequest, pk=request_id, cycle_id=cycle_id, rater__user=request.user
    )
    return redirect("reviews:rate", pk=review_request.pk)


def _require_hr(user) -> None:
    if not is_hr(user):
        raise PermissionDenied


@login_required
def monitor_list(request):
    _require_hr(request.user)
    return render(request, "reviews/monitor_list.html", {"cycles": selectors.hr_cycles()})


@login_required
def monitor(request, pk: int):
    _require_hr(request.user)
    cycle = get_object_or_404(Cycle, pk=pk)
    context = {
        "cycle": cycle,
        "progress": selectors.cycle_progress(cycle),
        "remind_form": RemindForm(initial={"round_number": services.next_manual_round(cycle)}),
    }
    if cycle.is_open:
        context["days_left"] = max((cycle.deadline - timezone.now()).days, 0)
    last = services.last_manual_reminder(cycle)
    if last is not None:
        next_at = services.next_manual_reminder_at(last)
        context.update(
            last_reminder=last,
            next_reminder_at=next_at if timezone.now() < next_at else None,
        )
    return render(request, "reviews/monitor.html", context)


@login_required
@require_POST
def close(request, pk: int):
    """Close a cycle now, from its monitoring page (the page asked HR to confirm)."""
    _require_hr(request.user)
    cycle = get_object_or_404(Cycle, pk=pk)
    try:
        summary = services.close_cycle(cycle, actor=request.user)
    except services.ReviewError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("%(cycle)s is closed with %(answered)d of %(total)d requests answered.")
            % {"cycle": cycle.name, "answered": summary.answered, "total": summary.total},
        )
    return redirect("reviews:monitor", pk=cycle.pk)


@login_required
@require_POST
def remind(request, pk: int):
    _require_hr(request.user)
    cycle = get_object_or_404(Cycle, pk=pk)
    form = RemindForm(request.POST)
    if not form.is_valid():
        raise Http404
    try:
        count = services.remind_now(
            cycle, round_number=form.cleaned_data["round_number"], actor=request.user
        )
    except services.ReviewError as exc:
        messages.error(request, str(exc))
    else:
        if count:
            messages.success(request, _("A reminder is on its way to %(n)d people.") % {"n": count})
        else:
            messages.info(
                request,
                _(
                    "No reminder sent: nobody is waiting, their invitations went out too "
                    "recently, or it was just sent."
                ),
            )
    return redirect("reviews:monitor", pk=cycle.pk)


@login_required
def hr_home(request):
    """Where HR lands: the open cycle's response rates, what opens next, the last import."""
    _require_hr(request.user)
    return render(request, "reviews/hr_home.html", selectors.hr_home())


@login_required
def cycle_new(request):
    """The cycle wizard: prefilled from the schedule or the calendar; "preview" counts what
    opening would send, "open" (or "draft") creates the cycle."""
    _require_hr(request.user)
    defaults = selectors.wizard_defaults()
    preview = None
    if request.method == "POST":
        form = CycleWizardForm(request.POST)
        action = request.POST.get("action", "preview")
        if form.is_valid():
            data = form.cleaned_data
            fields = {
                "name": data["name"],
                "period_start": data["period_start"],
                "period_end": data["period_end"],
                "deadline": data["deadline"],
                "edge_types": data["edge_types"],
                "criteria": list(data["criteria"]),
                "reminder_offsets": form.reminder_offsets,
                "member_limit": data["member_limit"],
                "request_cap": data["request_cap"],
            }
            if action in ("open", "draft"):
                try:
                    cycle, summary = services.start_cycle(
                        open_now=action == "open", actor=request.user, **fields
                    )
                except services.ReviewError as exc:
                    form.add_error(None, str(exc))
                else:
                    if summary is None:
                        messages.success(
                            request, _("%(cycle)s is saved as a draft.") % {"cycle": cycle.name}
                        )
                        return redirect("reviews:hr_home")
                    messages.success(
                        request,
                        _("%(cycle)s is open: %(total)d requests to %(raters)d people.")
                        % {"cycle": cycle.name, "total": summary.total, "raters": summary.raters},
                    )
                    return redirect("reviews:monitor", pk=cycle.pk)
            probe = Cycle(
                edge_types=data["edge_types"],
                member_limit=data["member_limit"],
                request_cap=data["request_cap"],
            )
            preview = services.preview_cycle(probe)
    else:
        form = CycleWizardForm(initial={k: v for k, v in defaults.items() if k != "template"})
    return render(
        request,
        "reviews/cycle_new.html",
        {"form": form, "preview": preview, "template": defaults["template"]},
    )


# --- Service commitments: heads write them for what their departments provide, HR for all ---


@login_required
def commitments(request):
    roles = request_roles(request)
    if not roles.is_hr and not roles.is_head:
        raise Http404
    edges = services.commitable_edges(request.user, roles=roles)
    return render(
        request,
        "reviews/commitments.html",
        {"edges": selectors.edges_with_commitments(edges)},
    )


def _commitment_edge(user, pk: int):
    # Another department's relationship is a 404, like every object the user may not see.
    edge = services.commitable_edges(user).filter(pk=pk).select_related("provider_employee").first()
    if edge is None:
        raise Http404
    return edge


@login_required
def commitment_edit(request, edge_pk: int, pk: int | None = None):
    edge = _commitment_edge(request.user, edge_pk)
    commitment = None
    if pk is not None:
        commitment = get_object_or_404(ServiceCommitment, pk=pk, edge=edge)
    form = CommitmentForm(request.POST or None, instance=commitment, edge_type=edge.type)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_commitment(
                user=request.user, edge=edge, commitment=commitment, **form.cleaned_data
            )
        except services.ReviewError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("The commitment is saved."))
            return redirect("reviews:commitments")
    return render(
        request,
        "reviews/commitment_form.html",
        {"edge": edge, "form": form, "commitment": commitment},
    )
