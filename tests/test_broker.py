"""The filesystem broker of `make run` and the SQLite tests: a consumer never takes a message
before it is whole (icr/broker.py)."""

import contextlib
import sys
import threading
from queue import Empty

import pytest
from kombu import Connection

from icr import broker

# Python's audit hooks run at every file operation of a publish (open, lock, rename…); while a
# test publishes, the hook polls the queue there, in the publishing thread. Hooks cannot be
# removed, so one is added for the process and does nothing outside `polling_at_every_step`.
_poll_at_step = None
_hook_added = False


def _audit(event, args):
    global _poll_at_step
    poll = _poll_at_step
    if poll is None or threading.get_ident() != poll[0]:
        return
    _poll_at_step = None  # the poll's own file operations do not poll again
    try:
        poll[1]()
    finally:
        _poll_at_step = poll


@pytest.fixture
def polling_at_every_step():
    global _hook_added
    if not _hook_added:
        sys.addaudithook(_audit)
        _hook_added = True

    class Polling:
        steps = 0

        def __init__(self, poll):
            self.poll = poll

        def __enter__(self):
            global _poll_at_step

            def counted():
                self.steps += 1
                self.poll()

            _poll_at_step = (threading.get_ident(), counted)
            return self

        def __exit__(self, *exc):
            global _poll_at_step
            _poll_at_step = None

    return Polling


def _channel(folder, transport):
    options = {"data_folder_in": folder, "data_folder_out": folder, "control_folder": folder}
    return Connection("filesystem://", transport=transport, transport_options=options).channel()


def test_a_consumer_polling_during_a_publish_gets_the_whole_message_or_none(
    tmp_path, polling_at_every_step
):
    producer = _channel(str(tmp_path), broker.Transport)
    consumer = _channel(str(tmp_path), broker.Transport)
    message = {"body": "x" * 100_000, "headers": {"task": "relations.tasks.sync_graph"}}
    received = []

    def poll():
        with contextlib.suppress(Empty):
            received.append(consumer._get("celery"))

    with polling_at_every_step(poll) as polling:
        producer._put("celery", message)
    poll()

    assert polling.steps > 0
    assert received == [message]
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind
