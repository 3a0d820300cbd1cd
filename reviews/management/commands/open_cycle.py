"""Open an evaluation cycle from a shell: an existing one, or a new one created on the spot."""

from __future__ import annotations

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from relations.models import EdgeType
from reviews import services
from reviews.models import Cycle


def parse_moment(value: str, *, end_of_day: bool) -> dt.datetime:
    """An ISO date or date-time; a bare date means the end (or start) of that local day."""
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"Not a date or date-time: {value!r}")
        moment = dt.datetime.combine(day, dt.time(23, 59, 59) if end_of_day else dt.time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def print_summary(command: BaseCommand, summary: services.CycleSummary, fmt: str, verb: str):
    data = summary.as_dict()
    if fmt == "json":
        command.stdout.write(json.dumps(data, ensure_ascii=False))
        return
    cycle = data["cycle"]
    command.stdout.write(f"Cycle {cycle['id']} {cycle['name']!r}: {verb}, status {cycle['status']}")
    for edge_type, count in data["requests"].items():
        command.stdout.write(f"  {edge_type:<9} {count:>9} requests")
    command.stdout.write(f"  raters    {data['raters']:>9}")
    command.stdout.write(
        f"  answered  {cycle['answered']:>9} of {cycle['total']} ({cycle['answered_share']:.1%})"
    )
    if verb == "opened":
        command.stdout.write(f"  created now {cycle['created']} requests")


class Command(BaseCommand):
    help = (
        "Open an evaluation cycle. Either --cycle ID opens an existing draft (or tops up an open "
        "cycle with requests for edges added since), or --name and --deadline create a cycle "
        "and open it at once. Opening again creates no request twice. Ends with a summary: "
        "requests by relationship type, distinct raters and answered share; --format json "
        'prints it as one JSON object {"cycle": {...}, "requests": {"rank": n, "function": n, '
        '"process": n, "workflow": n}, "raters": n}.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--cycle", type=int, help="Id of an existing cycle to open.")
        parser.add_argument("--name", help="Create a cycle with this name and open it.")
        parser.add_argument(
            "--deadline", help="Deadline of the new cycle: ISO date (end of day) or date-time."
        )
        parser.add_argument(
            "--types",
            default=",".join(EdgeType.values),
            help="Relationship types to include, comma-separated (default: all four).",
        )
        parser.add_argument("--period-start", help="First day the new cycle covers (ISO date).")
        parser.add_argument("--period-end", help="Last day the new cycle covers (ISO date).")
        parser.add_argument(
            "--member-limit",
            type=int,
            help="At most this many raters per department end (head first); default all.",
        )
        parser.add_argument(
            "--reminders",
            default="3,1",
            help="Reminder offsets in days before the deadline, comma-separated (default 3,1).",
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **options):
        if options["cycle"] is not None:
            cycle = Cycle.objects.filter(pk=options["cycle"]).first()
            if cycle is None:
                raise CommandError(f"No cycle with id {options['cycle']}.")
        elif options["name"] and options["deadline"]:
            cycle = self._create(options)
        else:
            raise CommandError("Give --cycle ID, or --name and --deadline to create one.")
        try:
            summary = services.open_cycle(cycle)
        except services.ReviewError as exc:
            raise CommandError(str(exc)) from exc
        print_summary(self, summary, options["format"], "opened")

    def _create(self, options) -> Cycle:
        types = [t.strip() for t in options["types"].split(",") if t.strip()]
        unknown = [t for t in types if t not in EdgeType.values]
        if unknown:
            raise CommandError(f"Unknown relationship types: {', '.join(unknown)}")
        try:
            reminders = [int(x) for x in options["reminders"].split(",") if x.strip()]
        except ValueError as exc:
            raise CommandError("--reminders takes whole numbers of days, e.g. 3,1") from exc

        def day(value):
            if not value:
                return None
            parsed = parse_date(value)
            if parsed is None:
                raise CommandError(f"Not a date: {value!r}")
            return parsed

        try:
            return services.create_cycle(
                name=options["name"],
                deadline=parse_moment(options["deadline"], end_of_day=True),
                edge_types=types,
                period_start=day(options["period_start"]),
                period_end=day(options["period_end"]),
                member_limit=options["member_limit"],
                reminder_offsets=reminders,
            )
        except services.ReviewError as exc:
            raise CommandError(str(exc)) from exc
