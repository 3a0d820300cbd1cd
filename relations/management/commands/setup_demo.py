"""`make run` calls this: load the demo company once, then print how to log in."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from relations import demo
from relations.models import Employee
from relations.tasks import ensure_periodic_tasks


class Command(BaseCommand):
    help = (
        "Load the demo company into an empty database (once), create the HR login and print "
        "how to sign in. Development only: every demo login shares one password."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off and ICR_DEV unset (never on a production site).",
        )
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000/",
            help="The address printed in the login help.",
        )

    def handle(self, *args, force: bool = False, url: str = "", **options):
        if not (settings.DEBUG or getattr(settings, "DEV", False) or force):
            raise CommandError(
                _(
                    "Refusing to load the demo company: DEBUG is off and ICR_DEV is not set, so "
                    "this looks like a production site, and every demo login shares one "
                    "published password. Use --force if you really mean it."
                )
            )
        ensure_periodic_tasks()
        with_people = True
        if demo.is_loaded() and self._demo_people_active():
            self.stdout.write(_("The demo company is already loaded; its data is kept."))
        elif demo.is_loaded() or demo.has_other_data():
            # Another org chart, or HR imported their own over the demo (its logins now fail).
            self.stdout.write(
                _("The database already holds an org chart: the demo company was not loaded.")
            )
            with_people = False
        else:
            demo.load_demo()
            self.stdout.write(
                self.style.SUCCESS(
                    _("Loaded the demo company: %(people)d people in %(departments)d departments.")
                    % {"people": len(demo.PEOPLE), "departments": len(demo.DEPARTMENTS)}
                )
            )
        demo.ensure_hr_user()
        if with_people:
            from reviews.demo import load_review_demo

            if load_review_demo().get("cycles"):
                self.stdout.write(
                    _("Added evaluation history: past closed cycles and one open cycle.")
                )
        self._print_login_help(url.rstrip("/") + "/", with_people=with_people)

    @staticmethod
    def _demo_people_active() -> bool:
        examples = [person.employee_id for person, _is_head in demo.login_examples()]
        return Employee.objects.active().filter(employee_id__in=examples).count() == len(examples)

    def _print_login_help(self, url: str, *, with_people: bool) -> None:
        out = self.stdout.write
        out("")
        out(self.style.MIGRATE_HEADING(_("ICR is starting at %(url)s") % {"url": url}))
        out(_("Sign in with a username (employee ID) or e-mail and the demo password."))
        out(
            _("  Demo password (every demo login): %(password)s") % {"password": demo.DEMO_PASSWORD}
        )
        out(
            _("  HR (administration at %(admin)s): username %(username)s")
            % {"admin": url + "admin/", "username": demo.HR_USERNAME}
        )
        if not with_people:
            out("")
            return
        for person, is_head in demo.login_examples():
            department = demo.DEPARTMENT_NAMES[person.department]
            role = _("department head") if is_head else _("employee")
            out(
                _("  %(role)s: username %(username)s (%(name)s, %(title)s, %(department)s)")
                % {
                    "role": role.capitalize(),
                    "username": person.employee_id,
                    "name": person.name,
                    "title": person.title,
                    "department": department,
                }
            )
        out(_("All demo people are E0001 to E%(last)04d.") % {"last": len(demo.PEOPLE)})
        out("")
