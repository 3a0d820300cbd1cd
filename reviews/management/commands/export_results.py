from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reviews import results_export
from reviews.models import Cycle, CycleStatus


class Command(BaseCommand):
    help = "Write a closed cycle's results (the same aggregates and suppression as the pages)."

    def add_arguments(self, parser):
        parser.add_argument("--cycle", type=int, required=True)
        parser.add_argument("--language", choices=["en", "zh-hans"], default="zh-hans")
        parser.add_argument("out", help="OUT.csv or OUT.xlsx")

    def handle(self, *args, cycle: int, language: str, out: str, **options):
        path = Path(out)
        fmt = path.suffix.lower().lstrip(".")
        if fmt not in results_export.FORMATS:
            raise CommandError("The output file must end in .csv or .xlsx")
        found = Cycle.objects.filter(pk=cycle).first()
        if found is None:
            raise CommandError(f"No cycle {cycle}")
        if found.status != CycleStatus.CLOSED:
            raise CommandError(f"Cycle {cycle} is not closed yet")
        content, _type = results_export.render(found, fmt, language=language)
        path.write_bytes(content)
        self.stdout.write(f"{path}: {len(content)} bytes")
