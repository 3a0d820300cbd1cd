from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from relations.models import EdgeType

from .models import Answer, Criterion, Score, ServiceCommitment


def score_choices() -> list[tuple[int, str]]:
    return Score.choices


class ScoreRadios(forms.RadioSelect):
    """The 1-5 buttons in a row. Passed to the field as a class: a widget instance would be
    deep-copied for every field of every form."""

    def __init__(self, attrs=None, choices=()):
        super().__init__({"class": "form-check-inline", **(attrs or {})}, choices)


class ScoreField(forms.TypedChoiceField):
    """A score from 1 to 5; validated by a set lookup instead of a walk through the labelled
    choices (normalising five lazy labels per field was most of a submitted form's cost)."""

    widget = ScoreRadios
    valid = frozenset(str(value) for value in Score.values)

    def __init__(self, **kwargs):
        # A callable: the lazy labels are only normalised when the form is rendered.
        super().__init__(choices=score_choices, coerce=int, required=False, **kwargs)

    def valid_value(self, value) -> bool:
        return str(value) in self.valid


class RatingForm(forms.Form):
    """A score per criterion, an optional comment, or "I did not receive this service"."""

    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    not_received = forms.BooleanField(label=_("I did not receive this service"), required=False)
    reason = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self,
        *args,
        criteria: list[Criterion],
        answer: Answer | None = None,
        draft: bool = False,
        **kwargs,
    ):
        self.criteria = criteria
        self.draft = draft
        if answer is not None and "initial" not in kwargs:
            initial = {
                "comment": answer.comment,
                "not_received": answer.not_received,
                "reason": answer.reason,
            }
            for score in answer.scores.all():
                initial[self.score_field(score.criterion_id)] = score.score
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        scores = {}
        for criterion in criteria:
            scores[self.score_field(criterion.pk)] = ScoreField(
                label=criterion.name, help_text=criterion.description
            )
        # Scores first, then comment and "not received".
        self.fields = {**scores, **self.fields}

    @staticmethod
    def score_field(criterion_id: int) -> str:
        return f"score_{criterion_id}"

    def score_fields(self):
        """The bound score fields, a row of five choices each on the page."""
        return [self[self.score_field(c.pk)] for c in self.criteria]

    def clean(self):
        data = super().clean()
        if data.get("not_received"):
            # The page disables the scores once the box is ticked; without script, a score
            # beside the tick would have been dropped without a word.
            if any(data.get(self.score_field(c.pk)) not in (None, "") for c in self.criteria):
                self.add_error(
                    "not_received",
                    _(
                        "You ticked that you did not receive this service: clear the scores, "
                        "or untick it."
                    ),
                )
            return data
        if self.draft:
            return data
        for criterion in self.criteria:
            name = self.score_field(criterion.pk)
            if data.get(name) in (None, ""):
                self.add_error(name, _("Choose a score from 1 to 5."))
        return data

    def scores(self) -> dict[int, int]:
        out = {}
        for criterion in self.criteria:
            value = self.cleaned_data.get(self.score_field(criterion.pk))
            if value not in (None, ""):
                out[criterion.pk] = int(value)
        return out


class RemindForm(forms.Form):
    round_number = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


# Reminders as people say them; the value is the offsets in days before the deadline.
REMINDER_CHOICES = [
    ("3,1", _("3 days and 1 day before the deadline")),
    ("1", _("1 day before the deadline")),
    ("7,3,1", _("7, 3 and 1 days before the deadline")),
    ("", _("No reminders")),
]


class CycleWizardForm(forms.Form):
    """A new cycle in one page: what it asks, when, and how often it reminds."""

    name = forms.CharField(label=_("Cycle name"), max_length=200)
    period_start = forms.DateField(
        label=_("Period from"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    period_end = forms.DateField(
        label=_("Period to"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    deadline = forms.DateTimeField(
        label=_("Deadline"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("The cycle opens when you open it and closes by itself at the deadline."),
    )
    edge_types = forms.MultipleChoiceField(
        label=_("Relationship types"),
        choices=EdgeType.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    criteria = forms.ModelMultipleChoiceField(
        label=_("Criteria"),
        queryset=Criterion.objects.active(),
        widget=forms.CheckboxSelectMultiple,
    )
    reminders = forms.ChoiceField(
        label=_("Reminders"),
        choices=REMINDER_CHOICES,
        widget=forms.RadioSelect,
        required=False,
        help_text=_("Only people with unanswered requests get them."),
    )
    member_limit = forms.IntegerField(
        label=_("Raters per department at most"),
        min_value=1,
        required=False,
        help_text=_(
            "When a department is the customer: its head and members, at most this many. "
            "Empty means all."
        ),
    )
    request_cap = forms.IntegerField(
        label=_("Requests per person at most"),
        min_value=1,
        required=False,
        help_text=_(
            "Empty means no cap. With a cap, the requests kept are those that let the most "
            "departments' results be shown; the preview says what it changes."
        ),
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and start > end:
            self.add_error("period_end", _("The period must end on or after its start."))
        return data

    @property
    def reminder_offsets(self) -> list[int]:
        value = self.cleaned_data.get("reminders") or ""
        return [int(part) for part in value.split(",") if part]


class CommitmentForm(forms.ModelForm):
    """A provider's commitment on one relationship; the criteria offered are those asked
    about the relationship's type."""

    class Meta:
        model = ServiceCommitment
        fields = ("deliverable", "due", "standard", "criterion", "active")

    def __init__(self, *args, edge_type: str, **kwargs):
        super().__init__(*args, **kwargs)
        applicable = [c.pk for c in Criterion.objects.active() if c.applies_to(edge_type)]
        self.fields["criterion"].queryset = Criterion.objects.filter(pk__in=applicable)
