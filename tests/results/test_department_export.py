"""A department head's XLSX of their departments' results: the pages' figures and suppression,
one sheet per level, numbers as numbers, comments and actions, and only their own departments."""

import csv
import datetime as dt
import io
from urllib.parse import unquote

import pytest
from django.test import Client
from openpyxl import load_workbook

from reviews.models import ImprovementAction

RATERS, HIDDEN = 7, 16  # columns of the head's figure sheets (0-based)
NUMERIC = range(RATERS, HIDDEN)


def _client(user, language="en"):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(getattr(user, "user", user))
    return client


@pytest.fixture
def cycle(corp, cycles):
    # 运营一组 is rated by two sellers only: its figures are hidden ("fewer than 3 answers").
    few = {"销售员0", "销售员1", "销售员2", "销售员3"}
    return cycles.run(
        lambda req, crit: 2 if req.provider_name == "运营部" else 4,
        edge_types=["function"],
        comment=lambda req: (
            '=HYPERLINK("http://x")' if req.rater_name == "销售员4" else "请更快回复"
        ),
        skip=lambda req: req.provider_name == "运营一组" and req.rater_name in few,
    )


def _download(client, dept, cycle):
    return client.get(f"/results/departments/{dept.pk}/cycles/{cycle.pk}/export.xlsx")


def _rows(sheet):
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def test_a_head_downloads_their_departments_one_sheet_per_level(corp, cycle):
    ImprovementAction.objects.create(
        cycle=cycle,
        provider_department=corp["ops_a"],
        customer_department=corp["sales"],
        what="每周例会",
        owner="吴一组",
        due=dt.date(2030, 1, 31),
    )
    response = _download(_client(corp["heads"]["OPS"]), corp["ops"], cycle)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    # The name in UTF-8 per RFC 5987 (Chinese intact), with an ASCII fallback.
    encoded = disposition.split("filename*=UTF-8''")[1]
    assert unquote(encoded) == f"ICR OPS 运营部 {cycle.name}.xlsx"
    assert 'filename="ICR OPS ___ C1.xlsx"' in disposition

    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Level 1 运营部", "Level 2", "Comments", "Actions"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref.startswith("A1:")
    level1, level2 = _rows(book["Level 1 运营部"]), _rows(book["Level 2"])
    assert level1[0][RATERS] == "Raters" and level1[0][HIDDEN] == "Hidden because"
    assert {r[3] for r in level1[1:]} == {"运营部"}
    assert {r[3] for r in level2[1:]} == {"运营一组", "运营二组"}
    for row in level1[1:] + level2[1:]:
        numbers = [row[i] for i in NUMERIC]
        assert all(v is None or isinstance(v, int | float) for v in numbers), row
        if row[HIDDEN]:
            assert numbers == [None] * len(NUMERIC)
        else:
            assert isinstance(row[RATERS], int) and isinstance(row[RATERS + 1], float)
    hidden = [r for r in level2[1:] if r[3] == "运营一组" and r[1] == "Department alone"]
    assert hidden and all(r[HIDDEN] == "Fewer than 3 answers" for r in hidden)

    comments = _rows(book["Comments"])
    assert comments[0][:3] == ["Cycle", "Department", "Comment"]
    texts = {r[2]: r[3] for r in comments[1:]}
    assert texts["请更快回复"] >= 5
    # A comment a spreadsheet would run is text.
    assert texts['\'=HYPERLINK("http://x")'] == 1
    assert not any(str(r[2]).startswith("=") for r in comments[1:])
    actions = _rows(book["Actions"])
    assert actions[1][1:8] == [
        "运营一组",
        "销售部",
        "All types",
        "每周例会",
        "吴一组",
        "2030-01-31",
        "Planned",
    ]


def test_the_head_export_has_the_figures_of_hrs_export_for_those_departments(corp, cycle, hr_user):
    """Same suppression as everywhere: each line is HR's line for that department."""
    book = load_workbook(
        io.BytesIO(_download(_client(corp["heads"]["OPS"]), corp["ops"], cycle).content)
    )
    head = set()
    for name in ("Level 1 运营部", "Level 2"):
        for row in _rows(book[name])[1:]:
            values = ["" if v is None else v for v in row]
            shown = values[HIDDEN] or values[RATERS]
            head.add(
                (values[1], values[2], values[4], values[5], values[6], str(shown), str(values[8]))
            )
    hr = _client(hr_user).get(f"/results/cycles/{cycle.pk}/export.csv", {"lang": "en"})
    lines = list(csv.reader(io.StringIO(hr.content.decode("utf-8-sig"))))[1:]
    mine = {"OPS", "OPS_A", "OPS_B"}
    expected = {
        (r[1], r[2], r[5], r[6], r[7], r[8], r[9])
        for r in lines
        if r[2] in mine and r[1] != "Person"
    }
    assert head == expected
    assert any("Fewer than 3 answers" in line for line in head)


def test_a_head_cannot_export_another_department(corp, cycle):
    sales_head = _client(corp["heads"]["SALES"])
    assert _download(sales_head, corp["ops"], cycle).status_code == 404
    ops_head = _client(corp["heads"]["OPS"])
    assert _download(ops_head, corp["fin"], cycle).status_code == 404
    assert _download(ops_head, corp["hq"], cycle).status_code == 404  # the parent, not theirs
    # A sub-department's head sees their own only; a sub-department of theirs, the head may.
    assert _download(_client(corp["heads"]["OPS_A"]), corp["ops"], cycle).status_code == 404
    sub = _download(ops_head, corp["ops_a"], cycle)
    assert sub.status_code == 200
    assert load_workbook(io.BytesIO(sub.content)).sheetnames[0] == "Level 1 运营一组"


def test_an_employee_and_a_stranger_get_nothing(corp, cycle):
    member = _client(corp["people"]["E050"].user)
    assert _download(member, corp["ops_a"], cycle).status_code == 404
    assert _download(Client(), corp["ops"], cycle).status_code == 302  # to the sign-in page


def test_an_open_cycle_has_no_export(corp, cycles):
    open_cycle = cycles.run(edge_types=["function"], close=False)
    assert _download(_client(corp["heads"]["OPS"]), corp["ops"], open_cycle).status_code == 404


def test_the_export_speaks_the_users_language(corp, cycle):
    response = _download(_client(corp["heads"]["OPS"], "zh-hans"), corp["ops"], cycle)
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[0] == "第 1 层 运营部"
    assert _rows(book.worksheets[0])[0][RATERS] == "评价人数"
