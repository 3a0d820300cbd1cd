"""Invitations, reminders and notices on WeCom, DingTalk and Feishu, against a local server that
plays each platform's API (tests/fake_platforms.py): one card per rater and event, the signed
deep link on its button, e-mail for whoever the platform refuses or who has no ID there."""

import datetime as dt
import json
from urllib.parse import urlsplit

import pytest
import time_machine
from django.utils import timezone

from reviews import channels, emails, services, tasks
from reviews.models import (
    Channel,
    MessagingSettings,
    NotificationLog,
    NotificationStatus,
    RateBucket,
    RequestStatus,
    ReviewRequest,
)
from reviews.rollup_models import CommentReply, ResultComment
from reviews.tokens import read_request_token
from tests import fake_platforms


@pytest.fixture(scope="module")
def platform_server():
    with fake_platforms.Server() as server:
        yield server


@pytest.fixture
def platforms(platform_server, settings, monkeypatch):
    """The fake platforms, emptied, with ICR's settings pointing at them; no real waiting."""
    for name, value in fake_platforms.settings_for(platform_server.url).items():
        setattr(settings, name, value)
    platform_server.platforms.reset()
    channels.forget_platforms()
    sleeps = []
    monkeypatch.setattr(channels.time, "sleep", sleeps.append)
    platform_server.platforms.sleeps = sleeps
    yield platform_server.platforms
    channels.forget_platforms()


def use(channel: str) -> None:
    MessagingSettings.objects.update_or_create(pk=1, defaults={"channel": channel})


@pytest.fixture
def ids(org):
    """王总 and 李销售 have IDs on the platform, 赵商务 one the platform refuses (and no e-mail);
    张三 has none, only an e-mail address."""
    for key, im_id in (("ceo", "wang"), ("sales_head", "li"), ("commerce_head", "zhao")):
        employee = org[key]
        employee.im_user_id = im_id
        employee.save(update_fields=["im_user_id"])
    return org


def open_new_cycle(capture):
    cycle = services.create_cycle(name="2026 Q4", deadline=timezone.now() + dt.timedelta(days=7))
    with capture(execute=True):
        services.open_cycle(cycle)
    return cycle


def card_link(message: dict) -> str:
    body = message["body"]
    if message["platform"] == Channel.WECOM:
        return body["template_card"]["card_action"]["url"]
    if message["platform"] == Channel.DINGTALK:
        return body["msg"]["action_card"]["btn_json_list"][0]["action_url"]
    card = json.loads(body["content"])
    return card["elements"][-1]["actions"][0]["url"]


def card_text(message: dict) -> str:
    return json.dumps(message["body"], ensure_ascii=False)


def channels_by_rater(cycle) -> dict[str, tuple[str, str]]:
    return {
        log.rater.employee_id: (log.status, log.channel)
        for log in NotificationLog.objects.filter(cycle=cycle).select_related("rater")
    }


@pytest.mark.parametrize("channel", [Channel.WECOM, Channel.DINGTALK, Channel.FEISHU])
def test_invitations_go_as_cards_with_the_signed_link_and_e_mail_as_fallback(
    channel, platforms, ids, smtp, django_capture_on_commit_callbacks
):
    use(channel)
    platforms.refuse = {"zhao"}
    cycle = open_new_cycle(django_capture_on_commit_callbacks)

    assert platforms.malformed == []
    cards = platforms.to(channel)
    by_user = {m["user"]: m for m in cards}
    if channel == Channel.FEISHU:
        # Feishu reaches someone without a user ID by their e-mail address.
        assert sorted(by_user) == ["li", "wang", "zhang@example.com"]
        assert by_user["zhang@example.com"]["id_type"] == "email"
        assert smtp.messages == []
        zhang = ("sent", channel)
    else:
        assert sorted(by_user) == ["li", "wang"]
        assert [m["To"] for m in smtp.messages] == ["zhang@example.com"]
        zhang = ("sent", Channel.EMAIL)
    # The log says who got what on which channel; 赵商务 was refused and has no e-mail.
    assert channels_by_rater(cycle) == {
        "E001": ("sent", channel),
        "E002": ("sent", channel),
        "E003": zhang,
        "E004": (NotificationStatus.SKIPPED, ""),
    }
    # The button opens the rating form of one of the person's own pending requests, through
    # the same signed link as the e-mail's.
    link = card_link(by_user["li"])
    assert link.startswith("http://")
    request_id, _cycle_id = read_request_token(urlsplit(link).path.split("/")[-2])
    request = ReviewRequest.objects.get(pk=request_id)
    assert (request.rater, request.cycle_id, request.status) == (
        ids["sales_head"],
        cycle.pk,
        RequestStatus.PENDING,
    )
    assert "2026 Q4" in card_text(by_user["li"])


def test_a_card_is_in_the_raters_language(platforms, ids, smtp, django_capture_on_commit_callbacks):
    use(Channel.WECOM)
    ids["sales_head"].language = "en"
    ids["sales_head"].save(update_fields=["language"])
    open_new_cycle(django_capture_on_commit_callbacks)
    by_user = {m["user"]: card_text(m) for m in platforms.to(Channel.WECOM)}
    assert "Please rate the services you received" in by_user["li"]
    assert "请为您获得的服务评分" in by_user["wang"]


def test_a_rate_limited_send_waits_and_is_sent_once(
    platforms, ids, smtp, django_capture_on_commit_callbacks
):
    use(Channel.DINGTALK)
    platforms.limit_next = 1
    cycle = open_new_cycle(django_capture_on_commit_callbacks)
    assert platforms.limited[Channel.DINGTALK] == 1
    assert sorted(m["user"] for m in platforms.to(Channel.DINGTALK)) == ["li", "wang", "zhao"]
    assert platforms.sleeps and max(platforms.sleeps) <= 5
    assert NotificationLog.objects.filter(cycle=cycle, channel=Channel.DINGTALK).count() == 3


def invitations_recorded():
    cycle = services.create_cycle(name="Q", deadline=timezone.now() + dt.timedelta(days=7))
    services.open_cycle(cycle)
    services.record_notifications(cycle.pk, "invitation")
    return list(NotificationLog.objects.filter(cycle=cycle).values_list("id", flat=True))


def test_a_platform_that_keeps_limiting_gives_the_batch_back_for_a_retry(platforms, ids, smtp):
    use(Channel.FEISHU)
    log_ids = invitations_recorded()
    platforms.limit_next = channels.Sender.LIMITED_TRIES
    with pytest.raises(channels.RateLimited):
        emails.send_batch(log_ids)
    # Nothing was sent, nothing is held: the task's retry (with backoff) sends them.
    assert platforms.sent == [] and smtp.messages == []
    assert set(NotificationLog.objects.values_list("status", flat=True)) == {"pending"}
    assert emails.send_batch(log_ids) == 4
    assert len(platforms.to(Channel.FEISHU)) == 4
    assert emails.send_batch(log_ids) == 0  # and never again


def test_a_platform_that_stays_down_is_replaced_by_e_mail(platforms, ids, smtp, settings):
    settings.ICR_MESSAGING_MAX_ATTEMPTS = 2
    use(Channel.WECOM)
    log_ids = invitations_recorded()
    platforms.fail_next = 1000
    for _attempt in range(2):
        with pytest.raises(channels.Unavailable):
            emails.send_batch(log_ids)
    assert smtp.messages == [] and platforms.sent == []
    # The third claim exceeds the attempts: whoever has an e-mail address gets the e-mail.
    assert emails.send_batch(log_ids) == 2
    assert sorted(m["To"] for m in smtp.messages) == ["li@example.com", "zhang@example.com"]
    assert sorted(NotificationLog.objects.values_list("status", "channel")) == [
        ("sent", "email"),
        ("sent", "email"),
        ("skipped", ""),
        ("skipped", ""),
    ]


def test_the_send_task_retries_a_platforms_errors_with_backoff():
    task = tasks.send_notification_batch
    for error in (channels.RateLimited, channels.Unavailable):
        assert issubclass(error, tuple(task.autoretry_for))
    assert task.retry_backoff and task.retry_jitter and task.max_retries >= 3


def test_an_expired_access_token_is_fetched_again(platforms, ids, smtp):
    use(Channel.WECOM)
    log_ids = invitations_recorded()
    first, rest = log_ids[:1], log_ids[1:]
    emails.send_batch(first)
    platforms.expire_tokens()
    emails.send_batch(rest)
    assert platforms.token_calls[Channel.WECOM] == 2
    assert sorted(m["user"] for m in platforms.to(Channel.WECOM)) == ["li", "wang", "zhao"]


def test_an_unconfigured_platform_means_e_mail(platforms, ids, smtp, settings):
    use(Channel.FEISHU)
    settings.ICR_FEISHU_APP_SECRET = ""
    log_ids = invitations_recorded()
    assert emails.send_batch(log_ids) == 2
    assert platforms.sent == []
    assert sorted(m["To"] for m in smtp.messages) == ["li@example.com", "zhang@example.com"]


def test_the_rate_bucket_never_lets_more_than_the_limit_through(db):
    capacity, rate = channels.bucket_shape(10_000, 60)
    assert capacity + rate * 60 <= 10_000
    capacity, rate = channels.bucket_shape(20, 1)
    assert capacity + rate * 1 <= 20
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert channels.take_tokens("t", 10, 5, 2.0) == (5, 0.0)
        granted, wait = channels.take_tokens("t", 10, 5, 2.0)
        assert granted == 0 and wait == pytest.approx(0.5)
        clock.shift(dt.timedelta(seconds=1.5))
        assert channels.take_tokens("t", 10, 5, 2.0)[0] == 3
        clock.shift(dt.timedelta(hours=1))
        assert channels.take_tokens("t", 10, 5, 2.0)[0] == 5  # never more than the capacity
    assert RateBucket.objects.get(platform="t").tokens == pytest.approx(0)


def test_the_bucket_holds_when_another_worker_took_tokens_meanwhile(db, monkeypatch):
    """A worker that read the bucket before another wrote it reads it again (compare-and-set)
    instead of handing out the same tokens twice."""
    channels.take_tokens("race", 1, 4, 0.001)  # 3 left
    real_update = channels.RateBucket.objects.filter

    raced = []

    def filter_then_race(*args, **kwargs):
        qs = real_update(*args, **kwargs)
        if "tokens" in kwargs and not raced:
            raced.append(True)
            # Another worker takes 2 between this one's read and its write.
            channels.take_tokens("race", 2, 4, 0.001)
        return qs

    monkeypatch.setattr(channels.RateBucket.objects, "filter", filter_then_race)
    granted, _wait = channels.take_tokens("race", 3, 4, 0.001)
    assert raced and granted == 1


def test_a_departments_answer_to_a_comment_is_told_to_its_raters_once(
    platforms, ids, smtp, django_capture_on_commit_callbacks
):
    cycle = open_new_cycle(django_capture_on_commit_callbacks)
    smtp.messages.clear()
    platforms.reset()
    for request in ReviewRequest.objects.filter(cycle=cycle, provider_department=ids["commerce"]):
        scores = {
            c.pk: 4
            for c in services.applicable_criteria(cycle, request.edge_type, request.rank_kind)
        }
        services.submit_answer(request, scores=scores)
    raters = set(
        ReviewRequest.objects.filter(cycle=cycle, provider_department=ids["commerce"]).values_list(
            "rater__employee_id", flat=True
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.close_cycle(cycle)
    smtp.messages.clear()
    platforms.reset()
    use(Channel.WECOM)
    comment = ResultComment.objects.create(cycle=cycle, department=ids["commerce"], text="慢")
    CommentReply.objects.create(comment=comment, text="已改进")
    with django_capture_on_commit_callbacks(execute=True):
        created = services.queue_reply_notices(comment)
    assert created == len(raters) > 0
    # Again (the answer edited): nobody is told twice.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.queue_reply_notices(comment) == 0
    told = {
        log.rater.employee_id
        for log in NotificationLog.objects.filter(kind="reply", status="sent").select_related(
            "rater"
        )
    }
    assert told == raters - {"E004"}  # 赵商务: refused by the platform, no e-mail
    for message in platforms.to(Channel.WECOM):
        assert card_link(message).endswith("/results/me/")
        assert "商务部" in card_text(message)
    for message in smtp.messages:
        assert "商务部" in message.get_content() and "/results/me/" in message.get_content()
