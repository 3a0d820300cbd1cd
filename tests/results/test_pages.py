"""The department dashboard, "my service", closing the loop, and the export."""

import csv
import io
import itertools
import json

import pytest
from django.core.management import call_command
from django.test import Client
from openpyxl import load_workbook

from relations.models import Department
from reviews import results
from reviews.close import compute_rollups
from reviews.models import (
    CommentReply,
    CycleResultSettings,
    ImprovementAction,
    NotificationLog,
    ResultComment,
    Rollup,
)
from reviews.results_export import neutralise


def ops_a_scores(req, crit):
    # SALES rates OPS_A low, OPS_A rates SALES high: a reciprocity gap of 3.
    return 2 if req.provider_name == "运营一组" else 5


def login(client, employee):
    client.force_login(employee.user)
    return client


def test_dashboard_shows_satisfaction_matrix_gap_weakest_and_comments(corp, cycles):
    cycle = cycles.run(ops_a_scores, edge_types=["function"], comment=lambda r: "交付慢")
    client = login(Client(), corp["heads"]["OPS"])
    page = client.get(f"/results/departments/{corp['ops'].pk}/", {"cycle": cycle.pk})
    assert page.status_code == 200
    ctx = page.context
    assert (
        not ctx["overall"].suppressed and ctx["overall"].raters == 6 + 6 + 6 + 4
    )  # SALES rates three teams, FIN rates OPS_B
    assert [f.label for f in ctx["by_kind"]] == ["Function"]
    assert len(ctx["by_criterion"]) == 4
    heat = ctx["heatmap"]
    assert set(heat["providers"]) == {"运营部", "运营一组", "运营二组"}
    assert "销售部" in heat["customers"]
    gap = next(g for g in ctx["gaps"] if {g["a"], g["b"]} == {"运营一组", "销售部"})
    assert gap["gap"] == 3.0
    assert ctx["gaps"][0]["gap"] == 3.0  # largest first
    assert ctx["weakest"][0]["provider"] == "运营一组"
    assert ctx["weakest"][0]["figure"].mean == 2.0
    assert {c.text for c in ctx["comments"]} == {"交付慢"}
    html = page.content.decode()
    assert 'id="trend-data"' in html and 'id="heatmap-data"' in html
    assert "echarts.min.js" in html
    labels = json.loads(html.split('id="chart-labels" type="application/json">')[1].split("<")[0])
    assert labels["mean"] == "Mean (1–5)"


def test_a_large_tree_lists_the_largest_gaps_and_some_comments_with_their_totals(
    corp, cycles, monkeypatch, settings
):
    settings.ICR_MIN_RATERS = 1  # every cell shown: a gap for each pair that rates both ways
    cycle = cycles.run(ops_a_scores, edge_types=["function"], comment=lambda r: r.provider_name)
    client = login(Client(), corp["heads"]["OPS"])
    full = client.get(f"/results/departments/{corp['ops'].pk}/", {"cycle": cycle.pk}).context
    assert len(full["gaps"]) == full["gaps_total"] >= 2
    assert len(full["comments"]) == full["comments_total"] >= 2
    monkeypatch.setattr(results, "GAPS_SHOWN", 1)
    monkeypatch.setattr(results, "COMMENTS_SHOWN", 1)
    page = client.get(f"/results/departments/{corp['ops'].pk}/", {"cycle": cycle.pk})
    ctx = page.context
    assert ctx["gaps"] == full["gaps"][:1]  # the largest
    assert ctx["gaps_total"] == full["gaps_total"]
    assert len(ctx["comments"]) == 1 and ctx["comments_total"] == full["comments_total"]
    html = page.content.decode()
    assert 'id="gaps-more"' in html and 'id="comments-more"' in html


def test_a_department_page_reads_the_department_table_once_and_a_fixed_number_of_queries(
    corp, cycles, hr_user
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cycles.run(ops_a_scores, edge_types=["function"], comment=lambda r: "交付慢")
    cycle = cycles.run(ops_a_scores, edge_types=["function"], comment=lambda r: "交付慢")

    def page_queries(user, department) -> list[str]:
        client = Client()
        client.force_login(user)
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(f"/results/departments/{department.pk}/", {"cycle": cycle.pk})
        assert page.status_code == 200
        return [q["sql"] for q in ctx.captured_queries]

    def whole_tree_reads(sql: list[str]) -> int:
        return sum(1 for q in sql if 'FROM "relations_department"' in q and "WHERE" not in q)

    def role_reads(sql: list[str]) -> int:  # who the user is: the view and the navigation
        return sum(1 for q in sql if 'FROM "relations_employee"' in q and '"user_id" =' in q)

    head = corp["heads"]["OPS"].user
    tree, leaf = page_queries(head, corp["ops"]), page_queries(head, corp["ops_a"])
    assert whole_tree_reads(tree) == whole_tree_reads(leaf) == 1
    assert role_reads(tree) == role_reads(leaf) == 1
    assert len(tree) == len(leaf)
    company = page_queries(hr_user, corp["hq"])
    assert whole_tree_reads(company) == 1
    assert len(company) <= len(tree)  # HR is not a head: no headed departments to walk


def test_the_matrix_shows_all_types_and_criteria_only(corp, cycles):
    # Per-type and per-criterion cells per customer are not published: every cross-table is
    # one more set of equations to solve together (reviews.close.suppression).
    cycle = cycles.run(lambda req, crit: 1 + crit.order % 5)
    crit = cycle.criteria.order_by("order").first()
    client = login(Client(), corp["heads"]["OPS"])
    url = f"/results/departments/{corp['ops'].pk}/"
    page = client.get(url, {"cycle": cycle.pk, "type": "function", "criterion": crit.pk})
    plain = client.get(url, {"cycle": cycle.pk})
    assert page.context["heatmap"] == plain.context["heatmap"]
    assert 'name="type"' not in page.content.decode()
    assert 'name="criterion"' not in page.content.decode()


def test_an_open_cycle_shows_its_response_rate_and_no_figures(corp, cycles):
    cycle = cycles.run(
        edge_types=["function"], close=False, skip=lambda r: r.rater_name.startswith("销售员")
    )
    compute_rollups(cycle)
    client = login(Client(), corp["heads"]["OPS"])
    page = client.get(f"/results/departments/{corp['ops'].pk}/", {"cycle": cycle.pk})
    html = page.content.decode()
    assert 'id="cycle-open"' in html and 'id="response-rate"' in html
    assert "overall" not in page.context


def test_an_action_on_a_weak_relationship_shows_the_change_next_cycle(corp, cycles):
    first = cycles.run(ops_a_scores, edge_types=["function"])
    client = login(Client(), corp["heads"]["OPS"])
    response = client.post(
        f"/results/departments/{corp['ops'].pk}/actions/",
        {
            "cycle": first.pk,
            "provider": corp["ops_a"].pk,
            "customer_department": corp["sales"].pk,
            "kind": "",
            "what": "每周例会",
            "owner": "吴一组",
            "due": "2030-03-31",
            "status": "in_progress",
        },
    )
    assert response.status_code == 302
    action = ImprovementAction.objects.get()
    assert (action.provider_department, action.cycle) == (corp["ops_a"], first)
    second = cycles.run(lambda req, crit: 4, edge_types=["function"])
    page = client.get(f"/results/departments/{corp['ops'].pk}/", {"cycle": second.pk})
    row = next(a for a in page.context["actions"] if a["action"] == action)
    assert (row["then"], row["now"], row["change"]) == (2.0, 4.0, 2.0)
    assert "每周例会" in page.content.decode()


def test_a_departments_answer_to_a_comment_reaches_its_raters_only(corp, cycles):
    cycle = cycles.run(edge_types=["function"], comment=lambda r: "请提前通知")
    comment = ResultComment.objects.filter(
        cycle=cycle, department=corp["ops_a"], employee__isnull=True, text="请提前通知"
    ).first()
    head = login(Client(), corp["heads"]["OPS_A"])
    response = head.post(f"/results/comments/{comment.pk}/reply/", {"text": "已建立通知群"})
    assert response.status_code == 302
    assert CommentReply.objects.get(comment=comment).text == "已建立通知群"
    seller = corp["people"]["E021"]  # rated OPS_A in this cycle
    page = login(Client(), seller).get(f"/results/employees/{seller.pk}/")
    assert "已建立通知群" in page.content.decode()
    outsider = corp["people"]["E031"]  # 财务员0 never rated OPS_A
    page = login(Client(), outsider).get(f"/results/employees/{outsider.pk}/")
    assert "已建立通知群" not in page.content.decode()
    # They are told, once: the same people, not only the comment's (anonymous) author.
    told = set(
        NotificationLog.objects.filter(kind="reply", offset=comment.pk).values_list(
            "rater__employee_id", flat=True
        )
    )
    assert "E021" in told and "E031" not in told
    head.post(f"/results/comments/{comment.pk}/reply/", {"text": "已建立通知群，每周一"})
    assert NotificationLog.objects.filter(kind="reply", offset=comment.pk).count() == len(told)


def test_a_comment_written_by_several_shows_once_with_its_count_and_the_answer(corp, cycles):
    cycle = cycles.run(edge_types=["function"], comment=lambda r: "请提前通知")
    group = ResultComment.objects.filter(
        cycle=cycle, department=corp["ops_a"], employee__isnull=True, text="请提前通知"
    ).order_by("id")
    assert group.count() >= 2
    head = login(Client(), corp["heads"]["OPS_A"])
    answered = group.last()  # not the first of its group: it must stand for the group
    head.post(f"/results/comments/{answered.pk}/reply/", {"text": "已建立通知群"})
    page = head.get(f"/results/departments/{corp['ops_a'].pk}/", {"cycle": cycle.pk})
    shown = [c for c in page.context["comments"] if c.department_id == corp["ops_a"].pk]
    assert [(c.pk, c.text, c.times) for c in shown] == [(answered.pk, "请提前通知", group.count())]
    assert shown[0].reply.text == "已建立通知群"
    assert f"×{group.count()}" in page.content.decode()


def test_my_service_shows_my_figures_relationships_and_requests(corp, cycles):
    cycles.run(lambda req, crit: 3, edge_types=["rank"])
    current = cycles.run(lambda req, crit: 4, close=False)
    head = corp["heads"]["SALES"]
    page = login(Client(), head).get(f"/results/employees/{head.pk}/")
    ctx = page.context
    assert ctx["cycle"].name == "C1"  # the latest closed cycle
    assert ctx["overall"].mean == 3.0 and ctx["overall"].raters == 5
    html = page.content.decode()
    assert 'id="whom-i-serve"' in html and 'id="my-requests"' in html
    assert {r.cycle for r in ctx["open_requests"]} == {current}
    assert ctx["past_requests"]


def test_a_superiors_rating_shows_to_the_report_only_when_hr_chose_named(corp, cycles, hr_user):
    cycle = cycles.run(lambda req, crit: 5 if req.rank_kind == "task" else 3)
    seller = corp["people"]["E021"]
    mine = login(Client(), seller)
    page = mine.get(f"/results/employees/{seller.pk}/", {"cycle": cycle.pk})
    assert "manager_review" not in page.context
    hr = Client()
    hr.force_login(hr_user)
    response = hr.post(f"/results/cycles/{cycle.pk}/settings/", {"rank_task_visibility": "named"})
    assert response.status_code == 302
    assert CycleResultSettings.objects.get(cycle=cycle).rank_task_visibility == "named"
    page = mine.get(f"/results/employees/{seller.pk}/", {"cycle": cycle.pk})
    review = page.context["manager_review"]
    assert review["overall"].mean == 5.0 and review["manager"] == corp["heads"]["SALES"]
    assert 'id="manager-review"' in page.content.decode()
    # HR looking at the seller's page does not see it; nor does any export.
    page = hr.get(f"/results/employees/{seller.pk}/", {"cycle": cycle.pk})
    assert "manager_review" not in page.context
    export = hr.get(f"/results/cycles/{cycle.pk}/export.csv", {"lang": "en"})
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert not [r for r in rows if r[1] == "Person" and r[5] == "Rank · task customer"]


# --- Export ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["=1+1", "+1", "-2", "@SUM(A1)", "\tx"])
def test_cells_a_spreadsheet_would_run_are_neutralised(value):
    assert neutralise(value) == "'" + value


def test_numbers_and_plain_text_stay_as_they_are():
    assert neutralise(-2) == -2 and neutralise("运营部") == "运营部"


def test_hr_downloads_csv_and_xlsx_with_the_same_rows_and_suppression(corp, cycles, hr_user):
    corp["ops_b"].name = '=HYPERLINK("http://x")'
    corp["ops_b"].save()
    cycle = cycles.run(edge_types=["function"])
    client = Client()
    client.force_login(hr_user)
    csv_response = client.get(f"/results/cycles/{cycle.pk}/export.csv", {"lang": "en"})
    assert csv_response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Cycle", "Scope", "Department code", "Department"]
    assert any(r[8] == "Fewer than 3 answers" and r[9] == "" for r in rows[1:])
    assert any(r[3] == '\'=HYPERLINK("http://x")' for r in rows[1:])
    assert not any(r[3].startswith("=") for r in rows)
    xlsx = client.get(f"/results/cycles/{cycle.pk}/export.xlsx", {"lang": "zh-hans"})
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [
        [("" if v is None else str(v)) for v in row] for row in sheet.iter_rows(values_only=True)
    ]
    assert len(values) == len(rows)
    assert [v[2] for v in values[1:]] == [r[2] for r in rows[1:]]


def test_export_headers_follow_the_language(corp, cycles, hr_user, settings):
    cycle = cycles.run(edge_types=["function"])
    client = Client()
    client.force_login(hr_user)
    en = client.get(f"/results/cycles/{cycle.pk}/export.csv", {"lang": "en"})
    zh = client.get(f"/results/cycles/{cycle.pk}/export.csv", {"lang": "zh-hans"})
    en_header = en.content.decode("utf-8-sig").splitlines()[0]
    zh_header = zh.content.decode("utf-8-sig").splitlines()[0]
    assert en_header.startswith("Cycle,Scope")
    assert en_header != zh_header or not settings.LOCALE_PATHS


def test_export_results_command_writes_the_same_file(corp, cycles, tmp_path, hr_user):
    cycle = cycles.run(edge_types=["function"])
    out = tmp_path / "r.csv"
    call_command("export_results", "--cycle", str(cycle.pk), "--language", "en", str(out))
    client = Client()
    client.force_login(hr_user)
    web = client.get(f"/results/cycles/{cycle.pk}/export.csv", {"lang": "en"})
    assert out.read_bytes() == web.content
    xlsx = tmp_path / "r.xlsx"
    call_command("export_results", "--cycle", str(cycle.pk), str(xlsx))
    assert load_workbook(xlsx).active.max_row == len(web.content.decode("utf-8-sig").splitlines())


def exported_lines(cycle, hr_user) -> list[list[str]]:
    client = Client()
    client.force_login(hr_user)
    response = client.get(f"/results/cycles/{cycle.pk}/export.csv", {"lang": "en"})
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_export_publishes_one_line_per_customer_also_where_one_type_stands_for_it(
    corp, cycles, hr_user
):
    cycle = cycles.run(lambda req, crit: 1 + (req.pk + crit.pk) % 5)
    _header, *rows = exported_lines(cycle, hr_user)
    per_customer = [r for r in rows if r[1] == "Department alone" and r[7] != "All customers"]
    assert per_customer
    # Only all types and all criteria per customer are published.
    assert {(r[5], r[6]) for r in per_customer} == {("All types but rank", "All criteria")}
    codes = dict(Department.objects.values_list("pk", "code"))
    names = dict(Department.objects.values_list("pk", "name"))
    lines = {(r[2], r[7]): r for r in per_customer}
    only_type = Rollup.objects.filter(cycle=cycle, scope="self", only_type=True, criterion=None)
    assert only_type.exists()
    for row in only_type:
        line = lines[(codes[row.department_id], names[row.customer_department_id])]
        if not row.suppressed:
            assert int(line[8]) == row.raters
    # No type x criterion line anywhere.
    assert not [r for r in rows if not r[5].startswith("All types") and r[6] != "All criteria"]
    # A department's lines stay together.
    runs = [key for key, _lines in itertools.groupby((r[1], r[2]) for r in rows)]
    assert len(runs) == len(set(runs))


def test_the_export_has_a_subtree_line_for_departments_without_sub_departments_too(
    corp, cycles, hr_user
):
    cycle = cycles.run(lambda req, crit: 1 + (req.pk + crit.pk) % 5)
    _header, *rows = exported_lines(cycle, hr_user)
    alone, subtree = {}, {}
    for row in rows:
        if row[7] == "All customers" and row[4] == "":
            lines = subtree if row[1] == "Department with sub-departments" else alone
            assert (row[2], row[5], row[6]) not in lines  # each figure once
            lines[(row[2], row[5], row[6])] = row[8:]
    assert set(alone) <= set(subtree)
    leaves = Department.objects.filter(children__isnull=True).values_list("code", flat=True)
    leaf_lines = [key for key in alone if key[0] in set(leaves)]
    assert leaf_lines
    for key in leaf_lines:
        assert subtree[key] == alone[key]
    parent = corp["ops"].code
    assert any(subtree[key] != alone[key] for key in alone if key[0] == parent)


def test_a_department_that_gains_a_sub_department_keeps_its_earlier_figures(corp, cycles):
    leaf = corp["ops_a"]
    first = cycles.run(edge_types=["function"], score=lambda req, crit: 2)
    alone = results.department_dashboard(leaf, first)["overall"]
    assert alone.raters and not alone.suppressed
    Department.objects.create(code="OPS_A1", name="运营一组一班", parent=leaf)
    second = cycles.run(edge_types=["function"], score=lambda req, crit: 4)
    assert Rollup.objects.filter(cycle=second, scope="tree", department=leaf).exists()
    assert not Rollup.objects.filter(cycle=first, scope="tree", department=leaf).exists()
    context = results.department_dashboard(leaf, second)
    assert context["overall"].raters == alone.raters
    assert context["overall"].change == pytest.approx(2.0)
    overall = context["trend"]["series"][0]  # the overall line comes first
    assert context["trend"]["cycles"] == [first.name, second.name]
    assert overall["data"] == [pytest.approx(2.0), pytest.approx(4.0)]


def test_no_department_is_paired_with_itself_in_the_gaps_or_the_weakest(db, thresholds):
    # The demo's processes have consecutive steps inside one department: 销售部 | 销售部 filled
    # 6 of the top page's 10 rows.
    from relations import demo as org_demo
    from relations.models import Department
    from reviews.demo import load_review_demo
    from reviews.models import Cycle, CycleStatus

    org_demo.load_demo()
    load_review_demo()
    cycle = Cycle.objects.filter(status=CycleStatus.CLOSED).order_by("-deadline").first()
    root = Department.objects.get(parent__isnull=True)
    page = results.department_dashboard(root, cycle)
    assert page["gaps"] and page["weakest"]
    assert all(gap["a"] != gap["b"] for gap in page["gaps"])
    assert all(row["provider"] != row["customer"] for row in page["weakest"])
