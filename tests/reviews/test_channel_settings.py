"""HR's "Channels and sign-in" page: the channel, each platform's configuration as set / not
set (never a value), the sign-in methods, and a test message to oneself on the channel."""

import pytest
from django.urls import reverse
from django.utils import translation

from reviews import channels
from reviews.models import Channel, MessagingSettings
from tests import fake_platforms
from tests.conftest import PASSWORD, sign_in_request

URL = reverse("admin:reviews_messagingsettings_changelist")
SECRET = "s3cr3t-do-not-show"


@pytest.fixture
def platform_server(settings):
    with fake_platforms.Server() as server:
        for name, value in fake_platforms.settings_for(server.url).items():
            setattr(settings, name, value)
        settings.ICR_WECOM_SECRET = SECRET
        fake_platforms.CREDENTIALS["wecom"] = ("ww-corp", SECRET)
        channels.forget_platforms()
        yield server.platforms
        fake_platforms.CREDENTIALS["wecom"] = ("ww-corp", "wecom-secret")
        channels.forget_platforms()


@pytest.fixture
def hr(client, hr_user, company):
    """HR's login is 李销售's, whose WeCom ID is li."""
    employee = company["sales_head"]
    employee.user = hr_user
    employee.im_user_id = "li"
    employee.save(update_fields=["user", "im_user_id"])
    client.login(username="hr", password=PASSWORD, request=sign_in_request())
    return client


def test_the_page_says_set_or_not_set_and_never_shows_a_secret(hr, platform_server, settings):
    settings.ICR_FEISHU_APP_SECRET = ""
    response = hr.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert SECRET not in html and "ww-corp" not in html
    rows = response.context["platforms"]
    by_label = {row["label"]: row for row in rows}
    assert by_label[Channel.WECOM.label]["configured"] is True
    assert dict(by_label[Channel.FEISHU.label]["values"])["ICR_FEISHU_APP_SECRET"] is False
    assert "not configured" in html


def test_the_sign_in_methods_show_as_configured_or_by_default(hr, settings):
    settings.ICR_OIDC_ENABLED = True
    if hasattr(settings, "ICR_PASSWORD_LOGIN"):
        del settings.ICR_PASSWORD_LOGIN
    sign_in = {name: on for name, _label, on in hr.get(URL).context["sign_in"]}
    assert sign_in["ICR_OIDC_ENABLED"] is True
    assert sign_in["ICR_PASSWORD_LOGIN"] is True  # the default before sign-in is configured
    assert sign_in["ICR_LDAP_ENABLED"] is False


def test_hr_chooses_the_channel_and_the_audit_trail_says_who(hr, hr_user):
    response = hr.post(URL, {"channel": Channel.DINGTALK, "_save": "1"})
    assert response.status_code == 302
    assert MessagingSettings.current_channel() == Channel.DINGTALK
    (version,) = MessagingSettings.history.all()
    assert (version.channel, version.history_user_id) == (Channel.DINGTALK, hr_user.pk)


def test_the_test_message_reaches_hr_on_the_platform(hr, platform_server):
    MessagingSettings.objects.create(channel=Channel.WECOM)
    response = hr.post(URL, {"_test": "1"}, follow=True)
    assert [m["user"] for m in platform_server.to(Channel.WECOM)] == ["li"]
    assert platform_server.malformed == []
    assert "A test message went to you by WeCom" in response.content.decode()


def test_a_refused_test_message_says_so(hr, platform_server):
    MessagingSettings.objects.create(channel=Channel.FEISHU)
    platform_server.refuse = {"li"}
    response = hr.post(URL, {"_test": "1"}, follow=True)
    assert platform_server.sent == []
    assert "refused your ID “li”" in response.content.decode()


def test_only_hr_gets_the_page(client, company):
    client.login(
        username=company["seller"].employee_id, password=PASSWORD, request=sign_in_request()
    )
    assert client.get(URL).status_code == 302  # to the admin's sign-in
    assert client.post(URL, {"channel": Channel.WECOM}).status_code == 302
    assert MessagingSettings.current_channel() == Channel.EMAIL


def test_the_page_speaks_chinese(hr):
    with translation.override("zh-hans"):
        html = hr.get(URL, headers={"accept-language": "zh-hans"}).content.decode()
    assert "渠道与登录" in html and "给我发一条测试消息" in html
