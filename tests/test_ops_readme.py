"""The file formats the README shows are the ones the importer takes."""

import json
import re
from io import StringIO

from django.conf import settings
from django.core.management import call_command

from relations.models import Edge, EdgeType, Employee


def _readme_file(name: str) -> str:
    readme = (settings.BASE_DIR / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"`{re.escape(name)}`[^`]*\n\n```\n(.*?)```", readme, re.DOTALL)
    assert match, f"README shows no example of {name}"
    return match.group(1)


def test_readme_examples_import_as_documented(db, tmp_path):
    paths = {}
    for name in ("departments.csv", "employees.csv", "relations.csv"):
        paths[name] = tmp_path / name
        paths[name].write_text(_readme_file(name), encoding="utf-8")
    out = StringIO()

    call_command(
        "import_org",
        "--departments", str(paths["departments.csv"]),
        "--employees", str(paths["employees.csv"]),
        "--relations", str(paths["relations.csv"]),
        "--format", "json",
        stdout=out,
    )  # fmt: skip

    summary = json.loads(out.getvalue())
    assert set(summary) >= {"departments", "employees", "edges", "pairs"}
    assert summary["employees"] == Employee.objects.count() == 3
    assert summary["edges"]["function"] == 2
    assert summary["edges"]["workflow"] == 2
    assert Edge.objects.active().filter(type=EdgeType.RANK).count() == 4
