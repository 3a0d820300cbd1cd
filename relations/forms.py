"""Forms of the HR admin and the import upload.

The admin forms check what the services would refuse (cycles, self relations, duplicates) so
HR sees a form error next to the field instead of an error page; the admin then writes through
the services, which check again inside their transaction.
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sites.shortcuts import get_current_site
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _

from . import services
from .exporting import parse_as_of
from .models import Department, Edge, EdgeType, Employee, WorkflowStep
from .services import End, GraphError, PairSpec


class DepartmentAdminForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ["code", "name", "parent", "head", "line", "active"]

    def clean_parent(self):
        parent = self.cleaned_data.get("parent")
        department = self.instance
        if (
            parent is not None
            and department.pk
            and (parent.pk == department.pk or department.pk in parent.ancestor_ids())
        ):
            raise forms.ValidationError(
                _(
                    "This parent would create a cycle in the department tree: %(parent)s is "
                    "%(department)s itself or one of its sub-departments."
                ),
                code="cycle",
                params={"parent": parent, "department": department},
            )
        return parent


class EmployeeAdminForm(forms.ModelForm):
    class Meta:
        model = Employee
        fields = [
            "employee_id",
            "name",
            "email",
            "department",
            "manager",
            "title",
            "language",
            "active",
        ]

    def clean_manager(self):
        manager = self.cleaned_data.get("manager")
        employee = self.instance
        if manager is None or not employee.pk:
            return manager
        if manager.pk == employee.pk:
            raise forms.ValidationError(_("An employee cannot be their own manager."), code="self")
        if employee.pk in manager.manager_chain_ids():
            raise forms.ValidationError(
                _(
                    "This manager would create a cycle in the reporting line: %(manager)s "
                    "reports, directly or not, to %(employee)s."
                ),
                code="cycle",
                params={"manager": manager, "employee": employee},
            )
        return manager


# Types HR sets by hand. Rank edges follow the reporting line; process edges made here (like
# those from relations.csv) have no workflow, so the workflow steps' sync leaves them alone.
HR_SET_TYPES = [
    (EdgeType.FUNCTION.value, EdgeType.FUNCTION.label),
    (EdgeType.PROCESS.value, EdgeType.PROCESS.label),
    (EdgeType.WORKFLOW.value, EdgeType.WORKFLOW.label),
]


def _end(department: Department | None, employee: Employee | None) -> End | None:
    if department is not None and employee is None:
        return End.of(department)
    if employee is not None and department is None:
        return End.of(employee)
    return None


class EdgeAdminForm(forms.ModelForm):
    """Add a relationship (its reverse comes with it) or change one (its pair follows)."""

    reverse_service = forms.CharField(
        label=_("reverse service"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What flows back along the reverse relationship (customer → provider)."),
    )

    class Meta:
        model = Edge
        fields = [
            "type",
            "provider_department",
            "provider_employee",
            "customer_department",
            "customer_employee",
            "service",
        ]
        widgets = {"service": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "type" in self.fields:
            self.fields["type"].choices = HR_SET_TYPES
        if self.instance.pk and "reverse_service" in self.fields:
            self.fields["reverse_service"].initial = self.instance.reverse.service

    def clean(self):
        data = super().clean()
        edge = self.instance
        edge_type = data.get("type") or edge.type
        ends = {}
        for side in ("provider", "customer"):
            if f"{side}_department" not in self.fields:
                continue  # ends are read-only for this edge
            end = _end(data.get(f"{side}_department"), data.get(f"{side}_employee"))
            if end is None:
                self.add_error(
                    f"{side}_department",
                    _("Give exactly one of a department or an employee."),
                )
            ends[side] = end
        if not ends or None in ends.values() or self.errors:
            return data
        provider, customer = ends["provider"], ends["customer"]
        try:
            services._check_spec(PairSpec(type=edge_type, provider=provider, customer=customer))
            services._check_ends_active(provider, customer)
        except GraphError as exc:
            raise forms.ValidationError(exc.message, code="invalid") from exc
        # The new pair's two edges must not meet another active pair's edges.
        clash = (
            Edge.objects.active()
            .filter(type=edge_type)
            .filter(
                Q(**provider.columns("provider"), **customer.columns("customer"))
                | Q(**customer.columns("provider"), **provider.columns("customer"))
            )
        )
        if edge.pair_id:
            clash = clash.exclude(pair_id=edge.pair_id)
        if clash.exists():
            raise forms.ValidationError(
                _("This relationship (or its reverse) already exists."), code="exists"
            )
        return data

    def validate_unique(self):
        # The model's constraints are checked in clean() with readable messages; the
        # services write both edges of the pair, so the half-built instance is not checked.
        pass


class WorkflowStepInlineForm(forms.ModelForm):
    class Meta:
        model = WorkflowStep
        fields = ["position", "name", "owner_department", "owner_employee"]

    def clean(self):
        data = super().clean()
        if _end(data.get("owner_department"), data.get("owner_employee")) is None:
            raise forms.ValidationError(
                _("A step is owned by exactly one of a department or an employee."),
                code="owner",
            )
        return data

    def validate_unique(self):
        # The one-owner constraint is checked in clean() with a readable message.
        pass


# --- Import upload -------------------------------------------------------------------------


def _check_import_file(upload):
    if upload is None:
        return None
    suffix = PurePath(upload.name).suffix.lower()
    if suffix not in {".csv", ".xlsx"}:
        raise forms.ValidationError(
            _("%(name)s: only .csv and .xlsx files can be imported."),
            code="suffix",
            params={"name": upload.name},
        )
    limit = settings.ICR_IMPORT_MAX_BYTES
    if upload.size > limit:
        raise forms.ValidationError(
            _("%(name)s is larger than the limit of %(limit)d MB."),
            code="size",
            params={"name": upload.name, "limit": limit // (1024 * 1024)},
        )
    return upload


IMPORT_FILE_WIDGET = forms.ClearableFileInput(
    attrs={
        "accept": ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument."
        "spreadsheetml.sheet"
    }
)


class AsOfForm(forms.Form):
    at = forms.CharField(
        label=_("As of"),
        max_length=40,
        help_text=_(
            "A date (YYYY-MM-DD: the end of that day) or a date and time (YYYY-MM-DD HH:MM)."
        ),
    )

    def clean_at(self):
        try:
            return parse_as_of(self.cleaned_data["at"])
        except ValueError as exc:
            raise forms.ValidationError(
                _("Enter a date (YYYY-MM-DD) or a date and time (YYYY-MM-DD HH:MM).")
            ) from exc


class ImportUploadForm(forms.Form):
    departments = forms.FileField(
        label=_("Departments file"),
        widget=IMPORT_FILE_WIDGET,
        allow_empty_file=True,  # the importer reports it with every other error
        help_text=_(
            "code,name,parent_code,head_employee_id (.csv or .xlsx), and optionally line: "
            "front (一线) or functional (职能)"
        ),
    )
    employees = forms.FileField(
        label=_("Employees file"),
        widget=IMPORT_FILE_WIDGET,
        allow_empty_file=True,  # the importer reports it with every other error
        help_text=_("employee_id,name,email,department_code,manager_employee_id,title"),
    )
    relations = forms.FileField(
        label=_("Relationships file (optional)"),
        widget=IMPORT_FILE_WIDGET,
        allow_empty_file=True,  # the importer reports it with every other error
        required=False,
        help_text=_(
            "type,provider_department,provider_employee,customer_department,"
            "customer_employee,service"
        ),
    )

    def clean_departments(self):
        return _check_import_file(self.cleaned_data.get("departments"))

    def clean_employees(self):
        return _check_import_file(self.cleaned_data.get("employees"))

    def clean_relations(self):
        return _check_import_file(self.cleaned_data.get("relations"))


# --- First password ------------------------------------------------------------------------


def send_password_set_link(user, request) -> None:
    """E-mail a person the link to set their first password (or a new one).

    Django's PasswordResetForm skips logins without a usable password, which is exactly the
    state an imported login starts in, so the mail is sent with its helper directly.
    """
    site = get_current_site(request)
    context = {
        "email": user.email,
        "domain": site.domain,
        "site_name": site.name,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": "https" if request.is_secure() else "http",
    }
    PasswordResetForm().send_mail(
        "registration/password_set_subject.txt",
        "registration/password_set_email.txt",
        context,
        None,
        user.email,
    )


def _same_email(a: str, b: str) -> bool:
    return (
        unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize("NFKC", b).casefold()
    )


class FirstPasswordResetForm(PasswordResetForm):
    """The "forgot / first password" form: also reaches logins that have no password yet.

    Imported people start without a usable password (Django's form skips those, meant for
    logins that authenticate elsewhere); here every login is local, so they get the link too.
    """

    def get_users(self, email):
        User = get_user_model()
        email_field = User.get_email_field_name()
        candidates = User._default_manager.filter(
            **{f"{email_field}__iexact": email, "is_active": True}
        )
        return (user for user in candidates if _same_email(getattr(user, email_field), email))

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        """Django's, except that a failure reaches the caller: the Celery task that sends the
        link (relations.tasks.send_password_reset) retries it, where Django logs and drops it."""
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email])
        if html_email_template_name is not None:
            message.attach_alternative(
                render_to_string(html_email_template_name, context), "text/html"
            )
        message.send()
