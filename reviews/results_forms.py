"""Forms of the results pages: actions on weak relationships, answers to comments, HR's choice."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import (
    CommentReply,
    CycleResultSettings,
    ImprovementAction,
)


class ActionForm(forms.ModelForm):
    class Meta:
        model = ImprovementAction
        fields = ["customer_department", "kind", "what", "owner", "due", "status"]
        widgets = {
            "customer_department": forms.HiddenInput,
            "kind": forms.HiddenInput,
            "due": forms.DateInput(attrs={"type": "date"}),
            "what": forms.Textarea(attrs={"rows": 2}),
        }


class ActionStatusForm(forms.ModelForm):
    class Meta:
        model = ImprovementAction
        fields = ["status"]


class ReplyForm(forms.ModelForm):
    class Meta:
        model = CommentReply
        fields = ["text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 2})}
        labels = {"text": _("Our answer (you said, we did)")}


class ResultSettingsForm(forms.ModelForm):
    class Meta:
        model = CycleResultSettings
        fields = ["rank_task_visibility"]
        widgets = {"rank_task_visibility": forms.RadioSelect}
