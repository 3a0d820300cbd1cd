"""Messages on the company's messaging platform: WeCom, DingTalk, Feishu, beside e-mail.

Each platform is called through its application-message API (never a group webhook), so a
message reaches one person: an access token from the platform's token endpoint (kept per
process until shortly before it expires, fetched again when the platform calls it invalid),
then one call per person with an interactive card whose button opens the signed deep link
(`emails.request_link`, the same signed token as the e-mail's).

- WeCom (企业微信): `GET /cgi-bin/gettoken`, `POST /cgi-bin/message/send`, msgtype
  `template_card` of card_type `text_notice`.
- DingTalk (钉钉): `GET /gettoken`, `POST /topapi/message/corpconversation/asyncsend_v2`
  (工作通知), msgtype `action_card`.
- Feishu (飞书): `POST /open-apis/auth/v3/tenant_access_token/internal`,
  `POST /open-apis/im/v1/messages`, msg_type `interactive`; a person without a user ID is
  reached by e-mail address (receive_id_type=email), which Feishu offers.

What a platform answers decides what `emails.send_batch` does next: `Refused` (the person is
unknown to the platform or outside the app's visible range) sends the e-mail instead, in the
same claim; `RateLimited` waits and tries again, then gives the batch back to Celery's retry
with backoff; `Unavailable` (down, busy, misconfigured) does the latter at once.

Rate limits: one token bucket per platform in the database (`models.RateBucket`), taken from
by every worker process with a compare-and-set UPDATE, so the company's workers together stay
under the platform's documented limit.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import requests
from django.conf import settings
from django.utils import timezone

from .models import Channel, RateBucket

TIMEOUT_SECONDS = 10
# A token is fetched again this long before the platform said it expires.
TOKEN_MARGIN_SECONDS = 300


class ChannelError(OSError):
    """The platform could not take the message now; the batch is retried (an OSError, which
    the send task retries with backoff)."""


class Unavailable(ChannelError):
    """Down, busy, or an answer ICR does not expect (configuration, format)."""


class RateLimited(ChannelError):
    """The platform says too many calls; `retry_after` seconds is a reasonable wait."""

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


class Refused(Exception):
    """The platform does not know this person (or the app may not reach them): use e-mail."""


@dataclass
class Notice:
    """What a card shows, already in the rater's language."""

    title: str
    lines: list[str]
    link: str
    link_label: str
    more_link: str = ""
    more_label: str = ""
    # Unique per notification row: platforms that deduplicate by it drop a resent copy.
    key: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Recipient:
    """Whom to address on a platform: their user ID, or (Feishu) their e-mail address."""

    id: str
    id_type: str = "user_id"


# --- Rate limits -----------------------------------------------------------------------------


def bucket_shape(limit: int, window_seconds: float) -> tuple[float, float]:
    """(capacity, refill per second) of a bucket that never lets more than `limit` calls into
    any `window_seconds`: at most capacity + rate × window calls fit into one window."""
    capacity = max(1.0, min(limit / 100, limit / window_seconds))
    rate = (limit - capacity) / window_seconds
    return capacity, max(rate, 0.001)


def take_tokens(name: str, wanted: int, capacity: float, rate: float) -> tuple[int, float]:
    """Take up to `wanted` calls from the shared bucket `name`: (granted, seconds to wait
    before asking again when none were granted).

    A compare-and-set on the row (tokens and time as read): of two processes that read the
    same state, one writes and the other reads again, on either database, without a lock held
    across the computation.
    """
    while True:
        now = timezone.now()
        row = RateBucket.objects.filter(platform=name).values_list("tokens", "updated_at").first()
        if row is None:
            RateBucket.objects.bulk_create(
                [RateBucket(platform=name, tokens=capacity, updated_at=now)],
                ignore_conflicts=True,
            )
            continue
        tokens, updated_at = row
        elapsed = max((now - updated_at).total_seconds(), 0.0)
        available = min(capacity, tokens + elapsed * rate)
        granted = min(wanted, int(available))
        left = available - granted
        written = RateBucket.objects.filter(
            platform=name, tokens=tokens, updated_at=updated_at
        ).update(tokens=left, updated_at=max(now, updated_at))
        if written:
            return granted, 0.0 if granted else (1.0 - left) / rate


# --- Platforms -------------------------------------------------------------------------------


class Platform:
    code: str = ""
    label: str = ""
    # (limit, window in seconds) of the send API, from the platform's documentation.
    limit: tuple[int, float] = (1, 1.0)
    setting_names: tuple[str, ...] = ()
    # Values that are secrets: the settings page says only whether they are set.
    secret_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.session = requests.Session()
        self._token: tuple[str, float] | None = None

    # Configuration
    def configured(self) -> bool:
        return all(getattr(settings, name, "") for name in self.setting_names)

    @property
    def api(self) -> str:
        return getattr(settings, f"ICR_{self.code.upper()}_API").rstrip("/")

    def bucket(self) -> tuple[float, float]:
        return bucket_shape(*self.limit)

    def recipient(self, employee) -> Recipient | None:
        if employee.im_user_id:
            return Recipient(employee.im_user_id)
        return None

    # Calls
    def token(self, *, fresh: bool = False) -> str:
        if not fresh and self._token and self._token[1] > time.monotonic():
            return self._token[0]
        value, expires_in = self.fetch_token()
        self._token = (value, time.monotonic() + max(expires_in - TOKEN_MARGIN_SECONDS, 60))
        return value

    def fetch_token(self) -> tuple[str, int]:
        raise NotImplementedError

    def _json(self, response: requests.Response) -> dict:
        if response.status_code == 429:
            raise RateLimited(f"{self.code}: HTTP 429", _retry_after(response))
        if response.status_code >= 500:
            raise Unavailable(f"{self.code}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise Unavailable(f"{self.code}: not JSON (HTTP {response.status_code})") from exc
        if not isinstance(data, dict):
            raise Unavailable(f"{self.code}: unexpected answer")
        return data

    def request(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.session.request(
                method, self.api + path, timeout=TIMEOUT_SECONDS, **kwargs
            )
        except requests.RequestException as exc:
            raise Unavailable(f"{self.code}: {exc}") from exc
        return self._json(response)

    def send(self, recipient: Recipient, notice: Notice) -> None:
        """Deliver one card; raises Refused, RateLimited or Unavailable."""
        for attempt in (1, 2):
            try:
                self.send_once(self.token(fresh=attempt == 2), recipient, notice)
                return
            except _TokenExpired:
                if attempt == 2:
                    raise Unavailable(f"{self.code}: the access token is refused") from None

    def send_once(self, token: str, recipient: Recipient, notice: Notice) -> None:
        raise NotImplementedError

    def card(self, recipient: Recipient, notice: Notice) -> dict:
        raise NotImplementedError


class _TokenExpired(Exception):
    pass


def _retry_after(response: requests.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "1")), 0.1)
    except ValueError:
        return 1.0


class WeCom(Platform):
    """企业微信 application messages (发送应用消息)."""

    code = Channel.WECOM
    label = "WeCom"
    setting_names = ("ICR_WECOM_CORP_ID", "ICR_WECOM_AGENT_ID", "ICR_WECOM_SECRET")
    secret_names = ("ICR_WECOM_SECRET",)
    # Global error codes: 40003 invalid UserID, 81013 user & party & tag all invalid,
    # 60111 userid not found; 45009 / 45033 API call frequency / concurrency over the limit;
    # 40014 / 42001 invalid / expired access_token.
    REFUSED = {40003, 81013, 60111, 40031}
    LIMITED = {45009, 45033, 45011}
    EXPIRED = {40014, 42001, 41001}

    @property
    def limit(self):
        return (settings.ICR_WECOM_RATE_PER_MINUTE, 60.0)

    def fetch_token(self) -> tuple[str, int]:
        data = self.request(
            "GET",
            "/cgi-bin/gettoken",
            params={"corpid": settings.ICR_WECOM_CORP_ID, "corpsecret": settings.ICR_WECOM_SECRET},
        )
        if data.get("errcode", 0) != 0 or not data.get("access_token"):
            raise Unavailable(f"wecom gettoken: {data.get('errcode')} {data.get('errmsg')}")
        return data["access_token"], int(data.get("expires_in", 7200))

    def card(self, recipient: Recipient, notice: Notice) -> dict:
        card = {
            "card_type": "text_notice",
            "source": {"desc": "ICR"},
            "main_title": {"title": notice.title[:60], "desc": notice.lines[0][:60]},
            "sub_title_text": "\n".join(notice.lines[1:])[:112],
            "card_action": {"type": 1, "url": notice.link},
            "jump_list": [{"type": 1, "title": notice.link_label, "url": notice.link}],
        }
        if notice.facts:
            card["horizontal_content_list"] = [
                {"keyname": k[:10], "value": v[:30]} for k, v in notice.facts[:6]
            ]
        if notice.more_link:
            card["jump_list"].append(
                {"type": 1, "title": notice.more_label, "url": notice.more_link}
            )
        return {
            "touser": recipient.id,
            "msgtype": "template_card",
            "agentid": int(settings.ICR_WECOM_AGENT_ID),
            "template_card": card,
        }

    def send_once(self, token: str, recipient: Recipient, notice: Notice) -> None:
        data = self.request(
            "POST",
            "/cgi-bin/message/send",
            params={"access_token": token},
            json=self.card(recipient, notice),
        )
        code = data.get("errcode")
        if code in self.EXPIRED:
            raise _TokenExpired
        if code in self.REFUSED:
            raise Refused(f"wecom {code}")
        if code in self.LIMITED:
            raise RateLimited(f"wecom {code}", 1.0)
        if code != 0:
            raise Unavailable(f"wecom {code}: {data.get('errmsg')}")
        invalid = str(data.get("invaliduser") or "").split("|")
        if recipient.id in invalid:
            raise Refused("wecom invaliduser")


class DingTalk(Platform):
    """钉钉 work notifications (工作通知, asyncsend_v2)."""

    code = Channel.DINGTALK
    label = "DingTalk"
    setting_names = ("ICR_DINGTALK_APP_KEY", "ICR_DINGTALK_APP_SECRET", "ICR_DINGTALK_AGENT_ID")
    secret_names = ("ICR_DINGTALK_APP_SECRET",)
    # Global error codes: 33012 invalid USERID, 40003 invalid UserID; 90018 / 90002 calls
    # over the company's limit; 40014 / 42001 invalid / expired access_token.
    REFUSED = {33012, 40003}
    LIMITED = {90018, 90002, 90006}
    EXPIRED = {40014, 42001, 40001}

    @property
    def limit(self):
        return (settings.ICR_DINGTALK_RATE_PER_SECOND, 1.0)

    def fetch_token(self) -> tuple[str, int]:
        data = self.request(
            "GET",
            "/gettoken",
            params={
                "appkey": settings.ICR_DINGTALK_APP_KEY,
                "appsecret": settings.ICR_DINGTALK_APP_SECRET,
            },
        )
        if data.get("errcode", 0) != 0 or not data.get("access_token"):
            raise Unavailable(f"dingtalk gettoken: {data.get('errcode')} {data.get('errmsg')}")
        return data["access_token"], int(data.get("expires_in", 7200))

    def card(self, recipient: Recipient, notice: Notice) -> dict:
        text = "\n\n".join([f"### {notice.title}", *notice.lines])
        if notice.facts:
            text += "\n\n" + "\n\n".join(f"**{k}**: {v}" for k, v in notice.facts)
        buttons = [{"title": notice.link_label, "action_url": notice.link}]
        if notice.more_link:
            buttons.append({"title": notice.more_label, "action_url": notice.more_link})
        return {
            "agent_id": int(settings.ICR_DINGTALK_AGENT_ID),
            "userid_list": recipient.id,
            "msg": {
                "msgtype": "action_card",
                "action_card": {
                    "title": notice.title[:64],
                    "markdown": text[:5000],
                    "btn_orientation": "1",
                    "btn_json_list": buttons,
                },
            },
        }

    def send_once(self, token: str, recipient: Recipient, notice: Notice) -> None:
        data = self.request(
            "POST",
            "/topapi/message/corpconversation/asyncsend_v2",
            params={"access_token": token},
            json=self.card(recipient, notice),
        )
        code = data.get("errcode")
        if code in self.EXPIRED or (code == 88 and str(data.get("sub_code")) in {"40014"}):
            raise _TokenExpired
        if code in self.REFUSED:
            raise Refused(f"dingtalk {code}")
        if code in self.LIMITED:
            raise RateLimited(f"dingtalk {code}", 1.0)
        if code != 0:
            raise Unavailable(f"dingtalk {code}: {data.get('errmsg')}")


class Feishu(Platform):
    """飞书 messages sent as the app's bot (im/v1/messages)."""

    code = Channel.FEISHU
    label = "Feishu"
    setting_names = ("ICR_FEISHU_APP_ID", "ICR_FEISHU_APP_SECRET")
    secret_names = ("ICR_FEISHU_APP_SECRET",)
    # 99991400 request trigger frequency limit; 230013 the bot has no availability to this
    # user; 99992360 / 99992361 / 99992364 an ID that is invalid or from another app;
    # 99991661 / 99991663 / 99991668 a missing or invalid tenant_access_token.
    REFUSED = {230013, 99992360, 99992361, 99992364, 230001}
    LIMITED = {99991400}
    EXPIRED = {99991661, 99991663, 99991668}

    @property
    def limit(self):
        return (settings.ICR_FEISHU_RATE_PER_MINUTE, 60.0)

    def recipient(self, employee) -> Recipient | None:
        if employee.im_user_id:
            return Recipient(employee.im_user_id, "user_id")
        if employee.email:
            return Recipient(employee.email, "email")
        return None

    def fetch_token(self) -> tuple[str, int]:
        data = self.request(
            "POST",
            "/open-apis/auth/v3/tenant_access_token/internal",
            json={
                "app_id": settings.ICR_FEISHU_APP_ID,
                "app_secret": settings.ICR_FEISHU_APP_SECRET,
            },
        )
        if data.get("code") != 0 or not data.get("tenant_access_token"):
            raise Unavailable(f"feishu token: {data.get('code')} {data.get('msg')}")
        return data["tenant_access_token"], int(data.get("expire", 7200))

    def card(self, recipient: Recipient, notice: Notice) -> dict:
        text = "\n".join(notice.lines)
        if notice.facts:
            text += "\n" + "\n".join(f"**{k}**: {v}" for k, v in notice.facts)
        actions = [
            {
                "tag": "button",
                "text": {"tag": "plain_text", "content": notice.link_label},
                "type": "primary",
                "url": notice.link,
            }
        ]
        if notice.more_link:
            actions.append(
                {
                    "tag": "button",
                    "text": {"tag": "plain_text", "content": notice.more_label},
                    "type": "default",
                    "url": notice.more_link,
                }
            )
        card = {
            "config": {"wide_screen_mode": True},
            "header": {
                "title": {"tag": "plain_text", "content": notice.title},
                "template": "blue",
            },
            "elements": [
                {"tag": "div", "text": {"tag": "lark_md", "content": text}},
                {"tag": "action", "actions": actions},
            ],
        }
        body = {
            "receive_id": recipient.id,
            "msg_type": "interactive",
            "content": json.dumps(card, ensure_ascii=False),
        }
        if notice.key:
            body["uuid"] = notice.key[:50]  # Feishu drops a second message with it (1 hour)
        return body

    def send_once(self, token: str, recipient: Recipient, notice: Notice) -> None:
        try:
            response = self.session.post(
                self.api + "/open-apis/im/v1/messages",
                params={"receive_id_type": recipient.id_type},
                headers={"Authorization": f"Bearer {token}"},
                json=self.card(recipient, notice),
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            raise Unavailable(f"feishu: {exc}") from exc
        if response.status_code >= 500:
            raise Unavailable(f"feishu: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise Unavailable(f"feishu: not JSON (HTTP {response.status_code})") from exc
        code = data.get("code")
        if code in self.EXPIRED:
            raise _TokenExpired
        if code in self.LIMITED or response.status_code == 429:
            raise RateLimited(f"feishu {code}", _retry_after(response))
        if code in self.REFUSED:
            raise Refused(f"feishu {code}")
        if code != 0:
            raise Unavailable(f"feishu {code}: {data.get('msg')}")


PLATFORMS: dict[str, type[Platform]] = {
    Channel.WECOM: WeCom,
    Channel.DINGTALK: DingTalk,
    Channel.FEISHU: Feishu,
}
_instances: dict[str, Platform] = {}


def platform(channel: str) -> Platform | None:
    """The platform object of a channel (one per process: its token and connections are
    reused), or None for e-mail or a platform whose settings are incomplete."""
    cls = PLATFORMS.get(channel)
    if cls is None:
        return None
    instance = _instances.get(channel)
    if instance is None:
        instance = _instances[channel] = cls()
    return instance if instance.configured() else None


def forget_platforms() -> None:
    """Drop the per-process platform objects (their tokens): after the settings changed."""
    _instances.clear()


class Sender:
    """Sends one batch's cards on one platform within its shared rate limit."""

    # Calls taken from the bucket at a time: few enough that workers share it fairly.
    CHUNK = 20
    # Waits on a platform's "rate limited" before giving the batch back to Celery's retry.
    LIMITED_TRIES = 3

    def __init__(self, platform: Platform, *, keep_alive=lambda: None, wanted: int = 1):
        self.platform = platform
        self.keep_alive = keep_alive
        self.allowance = 0
        self.wanted = wanted
        self.name = platform.code
        self.capacity, self.rate = platform.bucket()

    def _acquire(self) -> None:
        while self.allowance == 0:
            granted, wait = take_tokens(
                self.name, max(1, min(self.CHUNK, self.wanted)), self.capacity, self.rate
            )
            self.allowance = granted
            if not granted:
                time.sleep(min(wait, 1.0))
                self.keep_alive()

    def send(self, recipient: Recipient, notice: Notice) -> None:
        """Raises Refused (use e-mail) or ChannelError (retry the batch later)."""
        delay = 0.5
        for attempt in range(1, self.LIMITED_TRIES + 1):
            self._acquire()
            self.allowance -= 1
            self.wanted = max(self.wanted - 1, 1)
            try:
                self.platform.send(recipient, notice)
                return
            except RateLimited as limited:
                if attempt == self.LIMITED_TRIES:
                    raise
                time.sleep(min(max(limited.retry_after, delay), 5.0))
                delay *= 2
                self.keep_alive()
