"""A cycle's results as files: the stored aggregates with their suppression, nothing else.

- HR's export (`render`): every published figure of a cycle, CSV or XLSX, one table.
- A department head's export (`department_workbook`): the figures of their department and its
  sub-departments as their pages show them, one sheet per level of the tree, then the
  anonymous comments with the department's answers and the actions. People's own figures are
  not in it (only the person and HR see those). A hidden figure has empty numeric cells and
  says why in the last column: numbers stay numbers, for filters and sums.

Headers in English or Simplified Chinese. A cell a spreadsheet would run as a formula (text
starting with =, +, -, @, or a tab/carriage return) gets a leading apostrophe
(`icr.spreadsheet.neutralise`; `icr.xlsx` does it for every text cell it writes).
"""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from icr import xlsx
from icr.spreadsheet import neutralise
from relations.models import Department, DepartmentTree

from . import results
from .models import Cycle, ResultComment

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": xlsx.CONTENT_TYPE,
}


def _language(language: str | None) -> str:
    language = language if language in ("en", "zh-hans") else None
    return language or translation.get_language() or "zh-hans"


def table(cycle: Cycle, *, language: str | None = None, neutralised: bool = True) -> list[list]:
    with translation.override(_language(language)):
        rows = [results.export_headers(), *results.export_rows(cycle)]
    if not neutralised:
        return rows
    return [
        [neutralise(str(v) if not isinstance(v, int | float) else v) for v in row] for row in rows
    ]


def render(cycle: Cycle, fmt: str, *, language: str | None = None) -> tuple[bytes, str]:
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerows(table(cycle, language=language))
        # The BOM lets Excel open the UTF-8 file with its Chinese text intact.
        return ("\ufeff" + out.getvalue()).encode("utf-8"), FORMATS["csv"]
    with translation.override(_language(language)):
        header = results.export_headers()
        rows = results.export_rows(cycle)
        content = xlsx.workbook([xlsx.Sheet("ICR", header, rows)])  # neutralises its text
    return content, FORMATS["xlsx"]


# --- A department head's workbook ----------------------------------------------------------


def figure_headers() -> list[str]:
    return [
        _("Cycle"),
        _("Scope"),
        _("Department code"),
        _("Department"),
        _("Type"),
        _("Criterion"),
        _("Customer department"),
        _("Raters"),
        _("Mean"),
        _("Favourable (4–5) %"),
        _("Score 1"),
        _("Score 2"),
        _("Score 3"),
        _("Score 4"),
        _("Score 5"),
        _("Did not receive"),
        _("Hidden because"),
    ]


FIGURE_WIDTHS = (14, 16, 12, 18, 18, 14, 18, 8, 8, 10, 8, 8, 8, 8, 8, 10, 28)
NUMBERS = 9  # raters, mean, favourable, five scores, did not receive


def _figure_rows(cycle: Cycle, department_ids: list[int]):
    for line in results.export_lines(cycle, department_ids=department_ids, people=False):
        base = [*line.base[:4], *line.base[5:]]  # no person column: no people's figures
        if line.hidden:
            yield [*base, *([None] * NUMBERS), line.hidden]
        else:
            yield [*base, *line.numbers, None]


def levels(tree: DepartmentTree, root: int) -> list[list[int]]:
    """The department, then its sub-departments level by level (today's tree, as the pages
    list them)."""
    out, level, seen = [], [root], {root}
    while level:
        out.append(level)
        following = []
        for pk in level:
            for child, _name in tree.children(pk):
                if child not in seen:
                    seen.add(child)
                    following.append(child)
        level = following
    return out


def _comment_rows(cycle: Cycle, tree_ids: list[int], names: dict):
    groups = results.comment_groups(
        ResultComment.objects.filter(
            cycle=cycle, employee__isnull=True, department_id__in=tree_ids
        ),
        first_department_id=tree_ids[0],
    )
    for comment in results.standing_comments(groups):
        reply = getattr(comment, "reply", None)
        yield [
            cycle.name,
            names.get(comment.department_id, ""),
            comment.text,
            comment.times,
            reply.text if reply is not None else "",
        ]


def _action_rows(cycle: Cycle, tree_ids: list[int], names: dict):
    for a in results.actions_with_change(tree_ids, cycle, names):
        action = a["action"]
        yield [
            action.cycle.name,
            a["provider"],
            a["customer"],
            results.kind_label(action.kind),
            action.what,
            action.owner,
            action.due,
            action.get_status_display(),
            a["then"],
            a["now"],
            a["change"],
        ]


def department_workbook(
    department: Department,
    cycle: Cycle,
    *,
    tree: DepartmentTree | None = None,
    language: str | None = None,
) -> bytes:
    """The head's export of a closed cycle: the same published figures and suppression as the
    department pages of `department` and its sub-departments."""
    tree = tree or DepartmentTree.load()
    by_level = levels(tree, department.pk)
    tree_ids = [pk for level in by_level for pk in level]
    with translation.override(_language(language)):
        sheets = []
        for depth, ids in enumerate(by_level, start=1):
            title = _("Level %(n)d") % {"n": depth}
            if depth == 1:
                title = f"{title} {department.name}"
            sheets.append(
                xlsx.Sheet(title, figure_headers(), _figure_rows(cycle, ids), FIGURE_WIDTHS)
            )
        sheets.append(
            xlsx.Sheet(
                _("Comments"),
                [
                    _("Cycle"),
                    _("Department"),
                    pgettext("anonymous comment", "Comment"),
                    _("Written by"),
                    _("Our answer"),
                ],
                _comment_rows(cycle, tree_ids, tree.names),
                (14, 18, 60, 10, 60),
            )
        )
        sheets.append(
            xlsx.Sheet(
                _("Actions"),
                [
                    _("Found in cycle"),
                    _("Provider department"),
                    _("Customer department"),
                    _("Type"),
                    _("What"),
                    pgettext("person responsible for an action", "Who"),
                    _("By when"),
                    _("Status"),
                    _("Then"),
                    _("Now"),
                    pgettext("change of a score", "Change"),
                ],
                (
                    [*row[:6], row[6].isoformat(), *row[7:]]
                    for row in _action_rows(cycle, tree_ids, tree.names)
                ),
                (14, 18, 18, 14, 40, 14, 12, 12, 8, 8, 8),
            )
        )
        return xlsx.workbook(sheets)


def department_file_name(department: Department, cycle: Cycle, fmt: str = "xlsx") -> str:
    return f"ICR {department.code} {department.name} {cycle.name}.{fmt}"


def content_disposition(file_name: str) -> str:
    """An attachment header with the name in ASCII for old clients and in UTF-8 (RFC 5987's
    filename*) for the rest: Chinese names arrive intact."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in file_name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"
