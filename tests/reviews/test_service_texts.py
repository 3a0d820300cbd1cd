"""Service texts ICR generates read in the reader's language; HR's read as written; a
relationship nobody described says what it is."""

import importlib

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import translation

from relations import services as graph
from relations.models import RANK_TASK_SERVICE, Edge, EdgeType, RankKind
from reviews.models import ReviewRequest

migration = importlib.import_module("reviews.migrations.0020_generated_service_texts_as_keys")


def inbox(client, user, language):
    client.force_login(user)
    client.cookies["django_language"] = language
    return client.get(reverse("reviews:inbox")).content.decode()


def test_rank_texts_written_under_chinese_are_stored_as_keys(company):
    with translation.override("zh-hans"):
        graph.sync_rank_edges()
    services = set(Edge.objects.filter(type=EdgeType.RANK).values_list("service", flat=True))
    assert services == {"Work results on assigned tasks", "Resources, opportunities and support"}


def test_generated_texts_read_in_the_readers_language_and_hr_texts_as_written(
    client, org, open_cycle
):
    seller = org["seller"].user
    zh = inbox(client, seller, "zh-hans")
    assert "所分配任务的工作成果" not in zh  # the seller rates their head: a condition edge
    assert "资源、机会与支持" in zh and "Resources, opportunities and support" not in zh
    assert "客户需求与订单信息" not in zh and "合同审核" in zh  # HR's text, as written
    en = inbox(client, seller, "en")
    assert "Resources, opportunities and support" in en and "合同审核" in en


def test_a_relationship_without_a_description_says_what_it_is(client, org):
    import datetime as dt

    from django.utils import timezone

    from reviews import services

    graph.create_pair(EdgeType.FUNCTION, org["hq"], org["sales"], service="", reverse_service="")
    cycle = services.create_cycle(name="Q", deadline=timezone.now() + dt.timedelta(days=7))
    services.open_cycle(cycle)
    request = ReviewRequest.objects.get(cycle=cycle, rater=org["seller"], provider_name="总部")
    assert request.service == ""
    zh = inbox(client, org["seller"].user, "zh-hans")
    assert "总部 为 销售部 提供的服务" in zh
    rate = client.get(reverse("reviews:rate", args=[request.pk])).content.decode()
    assert "总部 为 销售部 提供的服务" in rate


@pytest.mark.django_db
def test_the_migration_turns_stored_translations_into_keys_and_leaves_hr_texts(company):
    graph.sync_rank_edges()
    Edge.objects.filter(rank_kind=RankKind.TASK).update(service="所分配任务的工作成果")
    hr_text = graph.create_pair(
        EdgeType.FUNCTION, company["commerce"], company["sales"], service="所分配任务的工作成果"
    )
    migration.to_keys(apps, None)
    assert set(Edge.objects.filter(rank_kind=RankKind.TASK).values_list("service", flat=True)) == {
        RANK_TASK_SERVICE
    }
    hr_text.refresh_from_db()
    assert hr_text.service == "所分配任务的工作成果"
