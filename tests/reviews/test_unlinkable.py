"""Answers of a closed cycle, read by someone who has the database but not the secret.

The attacker knows who answered and when (`ReviewRequest.status`, `answered_at`) and tries to
line answers up with requests through what the answer rows carry: a reference to the
relationship (one person on a person's edge), the transaction that wrote them (PostgreSQL's
`xmin`), or an order that follows answer time (score ids, physical row order). A group of
eight raters of one group (same provider department, type and customer department) answers
at eight different times; the cycle closes and its follow-up task runs, as in production.

Where an assertion is about a shuffle, eight raters leave a chance of 1/8! = 1/40320 that
the shuffle reproduces the answer order by luck: accepted (the test then fails once).
"""

import datetime as dt
import logging

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from relations import services as graph
from relations.models import Department, Edge, EdgeType, Employee, RelationPair
from reviews import services
from reviews.close import compute_rollups
from reviews.models import (
    Answer,
    AnswerScore,
    Cycle,
    NotificationLog,
    ResultComment,
    ReviewRequest,
    Rollup,
)

SELLERS = 6  # with the head and the seller of the company fixture: 8 raters of the group
# The order in which the group's raters answer: not the order of their requests' ids.
ANSWER_ORDER = [5, 2, 7, 0, 3, 6, 1, 4]


def build_cycle(company) -> Cycle:
    """Eight sales people rate 商务部's service (one group); every other request is answered
    too (the rank ones: a superior and a direct report, one person at each end)."""
    for i in range(SELLERS):
        graph.hire_employee(
            employee_id=f"E1{i:02d}",
            name=f"销售{i}",
            department=company["sales"],
            manager=company["sales_head"],
        )
    graph.create_pair(
        EdgeType.FUNCTION,
        company["commerce"],
        company["sales"],
        service="合同审核",
        reverse_service="客户需求与订单信息",
    )
    opens = timezone.now()
    cycle = services.create_cycle(name="2026 Q4", opens_at=opens, deadline=opens + dt.timedelta(7))
    services.open_cycle(cycle, now=opens)
    requests = list(
        ReviewRequest.objects.filter(cycle=cycle).select_related("cycle").order_by("pk")
    )
    group = [r for r in requests if in_group(r, company)]
    assert len(group) == 8
    others = [r for r in requests if r not in group]
    ordered = [group[i] for i in ANSWER_ORDER] + others
    for minutes, request in enumerate(ordered, start=1):
        criteria = services.applicable_criteria(cycle, request.edge_type, request.rank_kind)
        services.submit_answer(
            request,
            # Each rater's scores differ a little, and the comment tells the test (not the
            # attacker) whose answer a row is.
            scores={c.pk: 1 + (minutes + c.pk) % 5 for c in criteria},
            comment=f"r{request.pk}",
            now=opens + dt.timedelta(minutes=minutes),
        )
    services.close_cycle(cycle, now=opens + dt.timedelta(days=1))
    cycle.refresh_from_db()
    return cycle


def in_group(request: ReviewRequest, company) -> bool:
    return (
        request.edge_type == EdgeType.FUNCTION
        and request.provider_department_id == company["commerce"].pk
    )


def answer_order(cycle: Cycle, requests=None) -> list[str]:
    """The comments (who answered) in the order the requests record answer time."""
    rows = ReviewRequest.objects.filter(cycle=cycle).exclude(answered_at=None)
    if requests is not None:
        rows = rows.filter(pk__in=[r.pk for r in requests])
    return [f"r{pk}" for pk in rows.order_by("answered_at").values_list("pk", flat=True)]


def the_group(cycle: Cycle) -> list[ReviewRequest]:
    commerce = Department.objects.get(code="COM")
    return list(
        ReviewRequest.objects.filter(
            cycle=cycle, edge_type=EdgeType.FUNCTION, provider_department=commerce
        ).order_by("pk")
    )


def rows(sql: str, params: list, *, whole: bool = False) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row if whole else row[0] for row in cursor.fetchall()]


def physical_order() -> str:
    return "ctid" if connection.vendor == "postgresql" else "rowid"


def comments_by(cycle: Cycle, order: str) -> list[str]:
    return rows(
        f"SELECT comment FROM reviews_answer WHERE cycle_id = %s ORDER BY {order}",
        [cycle.pk],
    )


def score_owners_by(cycle: Cycle, order: str) -> list[str]:
    """Whose answer each score belongs to, scores in `order`, each answer at its first score."""
    owners = rows(
        "SELECT a.comment FROM reviews_answerscore s "
        f"JOIN reviews_answer a ON a.id = s.answer_id WHERE a.cycle_id = %s ORDER BY s.{order}",
        [cycle.pk],
    )
    return list(dict.fromkeys(owners))


def only(order: list[str], wanted: list[str]) -> list[str]:
    return [x for x in order if x in set(wanted)]


@pytest.fixture
def closed_cycle(transactional_db, company, caplog):
    """Real commits (so real transaction ids), and the follow-up runs after the close's."""
    with CaptureQueriesContext(connection) as queries:
        cycle = build_cycle(company)
    # The follow-up runs as an on-commit callback, whose errors are logged, not raised.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    cycle.queries = [q["sql"] for q in queries.captured_queries]
    return cycle


# --- What the rows carry ------------------------------------------------------------------


# Every column an answer or a score may have: its group, its content, its own ids. A column
# added later has to be judged (and added here) before it can go in.
ALLOWED_COLUMNS = {
    Answer: {
        "id",
        "cycle_id",
        "key",
        "edge_type",
        "rank_kind",
        "provider_employee_id",
        "provider_department_id",
        "customer_department_id",
        "submitted",
        "not_received",
        "reason",
        "comment",
    },
    AnswerScore: {"id", "answer_id", "criterion_id", "score"},
}


def test_no_column_of_an_answer_or_score_references_an_edge_request_or_rater(closed_cycle):
    forbidden = {Edge, RelationPair, ReviewRequest, NotificationLog, get_user_model()}
    for model, allowed in ALLOWED_COLUMNS.items():
        for field in model._meta.concrete_fields:
            assert field.related_model not in forbidden, (model, field.name)
            if field.related_model is Employee:
                # The provider is who is rated, never who rates.
                assert field.name == "provider_employee", (model, field.name)
        assert {f.column for f in model._meta.concrete_fields} <= allowed
        # What the database holds is what the model says: no column left behind.
        with connection.cursor() as cursor:
            table = connection.introspection.get_table_description(cursor, model._meta.db_table)
        assert {c.name for c in table} == {f.column for f in model._meta.concrete_fields}
    assert (
        Answer.objects.filter(cycle=closed_cycle).count()
        == ReviewRequest.objects.filter(cycle=closed_cycle).count()
    )


@pytest.mark.postgresql  # xmin, the writing transaction's id, is PostgreSQL's
def test_answers_share_no_transaction_with_requests(closed_cycle):
    answer_xmins = set(
        rows("SELECT xmin::text FROM reviews_answer WHERE cycle_id = %s", [closed_cycle.pk])
    )
    score_xmins = set(
        rows(
            "SELECT s.xmin::text FROM reviews_answerscore s "
            "JOIN reviews_answer a ON a.id = s.answer_id WHERE a.cycle_id = %s",
            [closed_cycle.pk],
        )
    )
    request_xmins = set(
        rows("SELECT xmin::text FROM reviews_reviewrequest WHERE cycle_id = %s", [closed_cycle.pk])
    )
    assert len(answer_xmins) == 1
    assert score_xmins == answer_xmins
    assert not answer_xmins & request_xmins


def test_the_old_row_versions_are_vacuumed_after_the_commit(closed_cycle):
    vacuums = [sql for sql in closed_cycle.queries if sql.startswith("VACUUM")]
    if connection.vendor != "postgresql":
        # SQLite keeps no old row versions to vacuum, and its VACUUM rewrites the whole file.
        assert vacuums == []
        return
    assert len(vacuums) == 1
    assert "reviews_answer" in vacuums[0] and "reviews_answerscore" in vacuums[0]


def test_no_order_of_answers_or_scores_follows_answer_time(closed_cycle):
    group = [f"r{r.pk}" for r in the_group(closed_cycle)]  # in the order of request ids
    assert len(group) == 8
    answered = answer_order(closed_cycle)
    assert only(answered, group) != group  # the group answered in another order
    observed = {}
    for order in ("id", physical_order()):
        observed[f"answers by {order}"] = comments_by(closed_cycle, order)
        observed[f"scores by {order}"] = score_owners_by(closed_cycle, order)
    for sequence in observed.values():
        assert sorted(sequence) == sorted(answered)
    # Neither the group's order nor the whole cycle's follows answer time, by any of them.
    reproduced = [
        name
        for name, sequence in observed.items()
        if only(sequence, group) == only(answered, group) or sequence == answered
    ]
    assert reproduced == []


def test_a_closed_cycle_is_unlinked_once(closed_cycle):
    def snapshot():
        return (
            sorted(
                rows(
                    f"SELECT id, CAST({physical_order()} AS TEXT), key, comment "
                    "FROM reviews_answer WHERE cycle_id = %s",
                    [closed_cycle.pk],
                    whole=True,
                )
            ),
            sorted(
                AnswerScore.objects.filter(answer__cycle=closed_cycle).values_list(
                    "id", "answer_id", "criterion_id", "score"
                )
            ),
        )

    closed_cycle.refresh_from_db()
    assert closed_cycle.answers_unlinked_at is not None
    before = snapshot()
    assert services.unlink_answers(closed_cycle) == 0
    assert snapshot() == before


# --- The results do not change --------------------------------------------------------------


def stored_results(cycle: Cycle) -> tuple:
    fields = [f.attname for f in Rollup._meta.concrete_fields if f.attname != "id"]
    return (
        sorted(Rollup.objects.filter(cycle=cycle).values_list(*fields), key=repr),
        sorted(ResultComment.objects.filter(cycle=cycle).values_list("department_id", "text")),
    )


def test_unlinking_changes_no_rollup_and_changes_every_answer(db, company, settings):
    settings.ICR_MIN_RATERS = 3
    settings.ICR_MIN_COMMENT_RATERS = 5
    cycle = build_cycle(company)  # in the test's transaction: the follow-up has not run
    assert cycle.answers_unlinked_at is None
    results = stored_results(cycle)
    assert results[0] and results[1]
    assert Rollup.objects.filter(cycle=cycle, suppressed=False).exists()
    old_ids = set(Answer.objects.filter(cycle=cycle).values_list("id", flat=True))
    old_keys = set(Answer.objects.filter(cycle=cycle).values_list("key", flat=True))
    old_scores = set(AnswerScore.objects.filter(answer__cycle=cycle).values_list("id", flat=True))
    content = sorted(
        Answer.objects.filter(cycle=cycle).values_list(
            "comment", "edge_type", "provider_department_id", "customer_department_id"
        )
    )
    by_criterion = sorted(
        AnswerScore.objects.filter(answer__cycle=cycle).values_list(
            "answer__comment", "criterion_id", "score"
        )
    )

    assert services.unlink_answers(cycle) == len(old_ids)

    answers = Answer.objects.filter(cycle=cycle)
    assert not old_ids & set(answers.values_list("id", flat=True))
    assert not old_keys & set(answers.values_list("key", flat=True))
    assert not old_scores & set(
        AnswerScore.objects.filter(answer__cycle=cycle).values_list("id", flat=True)
    )
    assert all(len(key) == 64 for key in answers.values_list("key", flat=True))
    assert (
        sorted(
            answers.values_list(
                "comment", "edge_type", "provider_department_id", "customer_department_id"
            )
        )
        == content
    )
    assert (
        sorted(
            AnswerScore.objects.filter(answer__cycle=cycle).values_list(
                "answer__comment", "criterion_id", "score"
            )
        )
        == by_criterion
    )
    # The rater's own answer is no longer found through the key (nothing needs it once closed).
    request = ReviewRequest.objects.filter(cycle=cycle).first()
    assert services.current_answer(request) is None
    compute_rollups(cycle)
    assert stored_results(cycle) == results


def test_an_open_cycle_is_not_unlinked(db, company):
    opens = timezone.now()
    cycle = services.create_cycle(name="open", opens_at=opens, deadline=opens + dt.timedelta(7))
    services.open_cycle(cycle, now=opens)
    request = ReviewRequest.objects.filter(cycle=cycle).select_related("cycle").first()
    criteria = services.applicable_criteria(cycle, request.edge_type, request.rank_kind)
    services.submit_answer(request, scores={c.pk: 4 for c in criteria}, now=opens)
    assert services.unlink_answers(cycle) == 0
    assert services.current_answer(request) is not None
