from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from relations.models import Department, Edge, Employee

from .models import PROPOSABLE_TYPES, NeedKind


class EdgeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, edge: Edge) -> str:
        provider = edge.provider_department or edge.provider_employee
        text = f"{edge.type_label()} · {provider.name}"
        if edge.service:
            text += f" · {edge.service[:60]}"
        return text


class RaiseNeedForm(forms.Form):
    edge = EdgeChoiceField(label=_("About the service of"), queryset=Edge.objects.none())
    kind = forms.ChoiceField(label=_("Kind"), choices=NeedKind.choices, initial=NeedKind.NEED)
    text = forms.CharField(
        label=_("What do you need?"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    named = forms.BooleanField(
        label=_("Show my name to the provider"),
        required=False,
        help_text=_(
            "Without it the provider's head sees only your department and the type of "
            "relationship, never your name."
        ),
    )

    def __init__(self, *args, edges, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["edge"].queryset = edges


class AnswerNeedForm(forms.Form):
    reply = forms.CharField(
        label=_("What was done"), max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ConfirmNeedForm(forms.Form):
    resolved = forms.TypedChoiceField(
        label=_("Is it resolved?"),
        choices=[("yes", _("Yes, resolved")), ("no", _("No, not resolved"))],
        coerce=lambda value: value == "yes",
    )


class ProposeForm(forms.Form):
    """A relationship the proposer takes part in: which of their ends, which side, the other
    end (a department, or a person by employee ID), and what flows along it."""

    type = forms.ChoiceField(
        label=_("Type"), choices=[(t.value, t.label) for t in PROPOSABLE_TYPES]
    )
    my_end = forms.ChoiceField(label=_("On my side"))
    side = forms.ChoiceField(
        label=_("Who serves whom"),
        choices=[
            ("provider", _("My side serves the other side")),
            ("customer", _("The other side serves my side")),
        ],
    )
    other_department = forms.ModelChoiceField(
        label=_("Other side: a department"),
        queryset=Department.objects.active(),
        required=False,
    )
    other_employee_id = forms.CharField(
        label=_("or a person (employee ID)"), max_length=64, required=False
    )
    service = forms.CharField(
        label=_("Service the provider delivers"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    reverse_service = forms.CharField(
        label=_("What the customer gives back (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    note = forms.CharField(
        label=_("Why it should be recorded (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, employee: Employee, departments: list[Department], **kwargs):
        super().__init__(*args, **kwargs)
        self.employee = employee
        self.departments = {d.pk: d for d in departments}
        self.fields["my_end"].choices = [("me", _("Me, %(name)s") % {"name": employee.name})] + [
            (f"dept:{d.pk}", _("My department %(name)s") % {"name": d.name}) for d in departments
        ]

    def clean(self):
        data = super().clean()
        department = data.get("other_department")
        employee_id = (data.get("other_employee_id") or "").strip()
        if bool(department) == bool(employee_id):
            raise forms.ValidationError(_("Choose the other side: a department or a person."))
        if employee_id:
            other = Employee.objects.active().filter(employee_id=employee_id).first()
            if other is None:
                self.add_error("other_employee_id", _("No active employee has this ID."))
                return data
            data["other"] = other
        else:
            data["other"] = department
        mine = data.get("my_end", "")
        if mine == "me":
            data["mine"] = self.employee
        elif mine.startswith("dept:") and int(mine[5:]) in self.departments:
            data["mine"] = self.departments[int(mine[5:])]
        return data

    def ends(self):
        data = self.cleaned_data
        if data["side"] == "provider":
            return data["mine"], data["other"]
        return data["other"], data["mine"]
