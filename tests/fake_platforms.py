"""WeCom, DingTalk and Feishu as a local HTTP server (loopback, a thread): their token and
application-message endpoints, checked against the documented request formats, answering with
their documented error codes.

Used by tests/reviews/test_channels.py and bench/messaging.py. A request whose body does not
have the documented shape is answered with the platform's "invalid parameter" code and kept in
`malformed`, so a test fails on it. Scenarios: `refuse` (user IDs the platform does not know),
`limit_next` (the next N sends are answered "rate limited"), `fail_next` (HTTP 500),
`expire_tokens()` (every token issued so far becomes invalid), `limits` (a sliding window per
platform: more calls than the platform allows are answered "rate limited", and counted).
"""

from __future__ import annotations

import collections
import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CREDENTIALS = {
    "wecom": ("ww-corp", "wecom-secret"),
    "dingtalk": ("ding-key", "ding-secret"),
    "feishu": ("cli_app", "feishu-secret"),
}
WECOM_AGENT_ID = "1000002"
DINGTALK_AGENT_ID = "2000003"


def settings_for(base_url: str) -> dict[str, str]:
    """The ICR settings that point every platform at this server."""
    return {
        "ICR_WECOM_API": base_url,
        "ICR_WECOM_CORP_ID": CREDENTIALS["wecom"][0],
        "ICR_WECOM_SECRET": CREDENTIALS["wecom"][1],
        "ICR_WECOM_AGENT_ID": WECOM_AGENT_ID,
        "ICR_DINGTALK_API": base_url,
        "ICR_DINGTALK_APP_KEY": CREDENTIALS["dingtalk"][0],
        "ICR_DINGTALK_APP_SECRET": CREDENTIALS["dingtalk"][1],
        "ICR_DINGTALK_AGENT_ID": DINGTALK_AGENT_ID,
        "ICR_FEISHU_API": base_url,
        "ICR_FEISHU_APP_ID": CREDENTIALS["feishu"][0],
        "ICR_FEISHU_APP_SECRET": CREDENTIALS["feishu"][1],
    }


class Platforms:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens: dict[str, str] = {}  # token → platform
        self.token_calls: collections.Counter = collections.Counter()
        self.sent: list[dict] = []  # {"platform", "user", "id_type", "body"}
        self.malformed: list[tuple[str, str]] = []
        self.refuse: set[str] = set()
        self.limit_next = 0
        self.fail_next = 0
        self.limited = collections.Counter()  # "rate limited" answers given, per platform
        self.limits: dict[str, tuple[int, float]] = {}  # platform → (calls, window seconds)
        self.calls: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.keep_records = True
        self.count_by_user: collections.Counter = collections.Counter()

    def reset(self) -> None:
        with self.lock:
            self.sent.clear()
            self.malformed.clear()
            self.refuse = set()
            self.limit_next = self.fail_next = 0
            self.limited.clear()
            self.limits.clear()
            self.calls.clear()
            self.token_calls.clear()
            self.count_by_user.clear()

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def to(self, platform: str) -> list[dict]:
        return [m for m in self.sent if m["platform"] == platform]

    # What the handler asks
    def issue_token(self, platform: str) -> str:
        token = secrets.token_hex(16)
        with self.lock:
            self.tokens[token] = platform
            self.token_calls[platform] += 1
        return token

    def valid(self, platform: str, token: str) -> bool:
        with self.lock:
            return self.tokens.get(token) == platform

    def admit(self, platform: str) -> str:
        """ "ok", "limited" or "fail" for one send call."""
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return "fail"
            if self.limit_next > 0:
                self.limit_next -= 1
                self.limited[platform] += 1
                return "limited"
            limit = self.limits.get(platform)
            if limit:
                calls, window = limit
                now = time.monotonic()
                seen = self.calls[platform]
                while seen and seen[0] <= now - window:
                    seen.popleft()
                if len(seen) >= calls:
                    self.limited[platform] += 1
                    return "limited"
                seen.append(now)
            return "ok"

    def record(self, platform: str, user: str, body: dict, id_type: str = "user_id") -> None:
        with self.lock:
            self.count_by_user[(platform, user)] += 1
            if self.keep_records:
                self.sent.append(
                    {"platform": platform, "user": user, "id_type": id_type, "body": body}
                )


def _check_wecom(body: dict) -> str | None:
    """发送应用消息, msgtype template_card, card_type text_notice: what the doc requires."""
    if not isinstance(body.get("touser"), str) or not body["touser"]:
        return "touser"
    if not isinstance(body.get("agentid"), int):
        return "agentid"
    if body.get("msgtype") != "template_card":
        return "msgtype"
    card = body.get("template_card") or {}
    if card.get("card_type") != "text_notice":
        return "card_type"
    title = (card.get("main_title") or {}).get("title")
    if not title and not card.get("sub_title_text"):
        return "main_title.title or sub_title_text"
    action = card.get("card_action") or {}
    if action.get("type") != 1 or not str(action.get("url", "")).startswith("http"):
        return "card_action (type 1 needs url)"
    for jump in card.get("jump_list", []):
        if jump.get("type") != 1 or not jump.get("title") or not jump.get("url"):
            return "jump_list"
    if len(card.get("jump_list", [])) > 3 or len(card.get("horizontal_content_list", [])) > 6:
        return "too many entries"
    return None


def _check_dingtalk(body: dict) -> str | None:
    """工作通知 asyncsend_v2 with msgtype action_card (独立跳转 buttons)."""
    if not isinstance(body.get("agent_id"), int):
        return "agent_id"
    users = body.get("userid_list")
    if not isinstance(users, str) or not users or len(users.split(",")) > 5000:
        return "userid_list"
    msg = body.get("msg") or {}
    if msg.get("msgtype") != "action_card":
        return "msgtype"
    card = msg.get("action_card") or {}
    if not card.get("title") or not card.get("markdown"):
        return "title/markdown"
    buttons = card.get("btn_json_list")
    if buttons is None and not (card.get("single_title") and card.get("single_url")):
        return "single_title/single_url or btn_json_list"
    for button in buttons or []:
        if not button.get("title") or not button.get("action_url"):
            return "btn_json_list"
    return None


def _check_feishu(body: dict, id_type: str) -> str | None:
    """im/v1/messages, msg_type interactive: content is the card as a JSON string."""
    if id_type not in {"open_id", "union_id", "user_id", "email", "chat_id"}:
        return "receive_id_type"
    if not body.get("receive_id"):
        return "receive_id"
    if body.get("msg_type") != "interactive":
        return "msg_type"
    if not isinstance(body.get("content"), str):
        return "content must be a string"
    card = json.loads(body["content"])
    header = card.get("header") or {}
    if (header.get("title") or {}).get("tag") != "plain_text":
        return "header.title"
    elements = card.get("elements")
    if not isinstance(elements, list) or not elements:
        return "elements"
    for element in elements:
        if element.get("tag") not in {"div", "hr", "action", "note", "markdown", "img"}:
            return f"element {element.get('tag')}"
        for action in element.get("actions", []):
            if action.get("tag") != "button" or (action.get("text") or {}).get("tag") not in {
                "plain_text",
                "lark_md",
            }:
                return "button"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    platforms: Platforms

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold each answer on a kept-alive connection for 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reply(self, data: dict, status: int = 200) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw)
        except ValueError:
            return {}

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        p = self.platforms
        if url.path == "/cgi-bin/gettoken":
            if (query.get("corpid"), query.get("corpsecret")) != CREDENTIALS["wecom"]:
                return self._reply({"errcode": 40001, "errmsg": "invalid credential"})
            return self._reply(
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "access_token": p.issue_token("wecom"),
                    "expires_in": 7200,
                }
            )
        if url.path == "/gettoken":
            if (query.get("appkey"), query.get("appsecret")) != CREDENTIALS["dingtalk"]:
                return self._reply({"errcode": 40089, "errmsg": "invalid appkey or appsecret"})
            return self._reply(
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "access_token": p.issue_token("dingtalk"),
                    "expires_in": 7200,
                }
            )
        return self._reply({"errcode": 404, "errmsg": "not found"}, 404)

    def do_POST(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self._body()
        p = self.platforms
        if url.path == "/open-apis/auth/v3/tenant_access_token/internal":
            if (body.get("app_id"), body.get("app_secret")) != CREDENTIALS["feishu"]:
                return self._reply({"code": 10014, "msg": "app secret invalid"}, 400)
            return self._reply(
                {
                    "code": 0,
                    "msg": "ok",
                    "tenant_access_token": p.issue_token("feishu"),
                    "expire": 7200,
                }
            )
        if url.path == "/cgi-bin/message/send":
            if not p.valid("wecom", query.get("access_token", "")):
                return self._reply({"errcode": 42001, "errmsg": "access_token expired"})
            problem = _check_wecom(body)
            if problem:
                p.malformed.append(("wecom", problem))
                return self._reply({"errcode": 40058, "errmsg": f"invalid {problem}"})
            verdict = p.admit("wecom")
            if verdict == "fail":
                return self._reply({"errcode": -1, "errmsg": "system busy"}, 500)
            if verdict == "limited":
                return self._reply({"errcode": 45009, "errmsg": "api freq out of limit"})
            user = body["touser"]
            if user in p.refuse:
                return self._reply(
                    {
                        "errcode": 81013,
                        "errmsg": "user & party & tag all invalid",
                        "invaliduser": user,
                    }
                )
            p.record("wecom", user, body)
            return self._reply(
                {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": secrets.token_hex(8)}
            )
        if url.path == "/topapi/message/corpconversation/asyncsend_v2":
            if not p.valid("dingtalk", query.get("access_token", "")):
                return self._reply({"errcode": 40014, "errmsg": "不合法的access_token"})
            problem = _check_dingtalk(body)
            if problem:
                p.malformed.append(("dingtalk", problem))
                return self._reply({"errcode": 400002, "errmsg": f"invalid {problem}"})
            verdict = p.admit("dingtalk")
            if verdict == "fail":
                return self._reply({"errcode": -1, "errmsg": "系统繁忙"}, 500)
            if verdict == "limited":
                return self._reply(
                    {"errcode": 90018, "errmsg": "当前企业调用该接口的QPS超过了限制"}
                )
            user = body["userid_list"]
            if user in p.refuse:
                return self._reply({"errcode": 33012, "errmsg": "无效的USERID"})
            p.record("dingtalk", user, body)
            return self._reply(
                {"errcode": 0, "errmsg": "ok", "task_id": 1, "request_id": secrets.token_hex(6)}
            )
        if url.path == "/open-apis/im/v1/messages":
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            if not p.valid("feishu", token):
                return self._reply({"code": 99991663, "msg": "Invalid access token"}, 400)
            id_type = query.get("receive_id_type", "")
            problem = _check_feishu(body, id_type)
            if problem:
                p.malformed.append(("feishu", problem))
                return self._reply({"code": 230001, "msg": f"invalid {problem}"}, 400)
            verdict = p.admit("feishu")
            if verdict == "fail":
                return self._reply({"code": 1500, "msg": "internal error"}, 500)
            if verdict == "limited":
                return self._reply(
                    {"code": 99991400, "msg": "request trigger frequency limit"}, 429
                )
            user = body["receive_id"]
            if user in p.refuse:
                return self._reply(
                    {"code": 230013, "msg": "Bot has NO availability to this user."}, 400
                )
            p.record("feishu", user, body, id_type)
            return self._reply(
                {"code": 0, "msg": "success", "data": {"message_id": "om_" + secrets.token_hex(8)}}
            )
        return self._reply({"errcode": 404, "errmsg": "not found"}, 404)


class Server:
    """Start with `with Server() as server:`; `server.url`, `server.platforms`."""

    def __init__(self) -> None:
        self.platforms = Platforms()
        handler = type("Handler", (_Handler,), {"platforms": self.platforms})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
