"""Close evaluation cycles from a shell: one by id, or every open cycle past its deadline."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reviews import services
from reviews.management.commands.open_cycle import print_summary
from reviews.models import Cycle, CycleStatus


class Command(BaseCommand):
    help = (
        "Close an evaluation cycle: --cycle ID closes it now (early, if its deadline has not "
        "come), --due closes every open cycle past its deadline. Closing freezes the answers "
        "and starts the result computation; closing a closed cycle changes nothing. Ends with "
        "a summary: requests by relationship type, distinct raters and answered share; "
        '--format json prints one JSON object {"cycle": {...}, "requests": {"rank": n, '
        '"function": n, "process": n, "workflow": n}, "raters": n} (with --due, one per line).'
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--cycle", type=int, help="Id of the cycle to close.")
        group.add_argument(
            "--due", action="store_true", help="Close every open cycle past its deadline."
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **options):
        if options["due"]:
            cycles = list(
                Cycle.objects.filter(status=CycleStatus.OPEN, deadline__lte=timezone.now())
            )
        else:
            cycle = Cycle.objects.filter(pk=options["cycle"]).first()
            if cycle is None:
                raise CommandError(f"No cycle with id {options['cycle']}.")
            cycles = [cycle]
        for cycle in cycles:
            try:
                summary = services.close_cycle(cycle)
            except services.ReviewError as exc:
                raise CommandError(str(exc)) from exc
            print_summary(self, summary, options["format"], "closed")
        if not cycles and options["format"] == "text":
            self.stdout.write("No open cycle is past its deadline.")
        elif not cycles:
            self.stdout.write(json.dumps({"closed": 0}))
