import asyncio
import datetime as dt
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from icr.celery import app as celery_app
from relations import services as graph
from relations.models import EdgeType
from reviews import services


@pytest.fixture(autouse=True)
def eager_celery(request):
    """Unit tests run tasks in-process; tests marked `celery` use a real worker instead."""
    if request.node.get_closest_marker("celery"):
        yield
        return
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_eager_propagates = False


@pytest.fixture
def org(company):
    """The company of tests/conftest.py plus a function relationship 商务部 → 销售部."""
    edge = graph.create_pair(
        EdgeType.FUNCTION,
        company["commerce"],
        company["sales"],
        service="合同审核",
        reverse_service="客户需求与订单信息",
    )
    return {**company, "function_edge": edge}


@pytest.fixture
def open_cycle(org):
    now = timezone.now()
    cycle = services.create_cycle(name="2026 Q4", deadline=now + dt.timedelta(days=7))
    services.open_cycle(cycle)
    cycle.refresh_from_db()
    return cycle


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """What the SMTP server on loopback received; `fail_next` makes it refuse messages."""

    def __init__(self):
        self.messages = []
        self.fail_next = 0

    async def handle_DATA(self, server, session, envelope):
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 Requested action aborted: try again later"
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str):
        return [m for m in self.messages if address in m["To"]]


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback; Django's SMTP backend delivers to it."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    inbox.port = port
    try:
        yield inbox
    finally:
        controller.stop()
        asyncio.set_event_loop(None)
