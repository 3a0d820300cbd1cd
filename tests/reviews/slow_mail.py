"""An e-mail backend for the tests that kill a Celery worker in the middle of a batch.

Each message becomes one file in ICR_TEST_MAIL_DIR, written aside and renamed into place: a
message is delivered whole or not at all, as an SMTP server accepts it or not, and the files
outlive the worker. ICR_TEST_MAIL_DELAY: seconds spent on each message before it is delivered.
ICR_TEST_MAIL_HANG_AFTER: once this process delivered that many, the next message hangs before
delivery, so the test kills the worker while it holds the rest of its batch.
"""

import os
import time
import uuid
from email import message_from_bytes, policy
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    delivered = 0  # by this process

    def send_messages(self, email_messages) -> int:
        folder = Path(os.environ["ICR_TEST_MAIL_DIR"])
        delay = float(os.environ.get("ICR_TEST_MAIL_DELAY", "0"))
        hang_after = int(os.environ.get("ICR_TEST_MAIL_HANG_AFTER", "0"))
        for message in email_messages:
            if hang_after and EmailBackend.delivered >= hang_after:
                time.sleep(3600)
            time.sleep(delay)
            name = uuid.uuid4().hex
            aside = folder / f".{name}.tmp"
            aside.write_bytes(message.message().as_bytes())
            os.replace(aside, folder / f"{name}.eml")
            EmailBackend.delivered += 1
        return len(email_messages)


def delivered(folder: Path) -> list[str]:
    """The recipients of the messages delivered to `folder`, one entry per message."""
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)["To"]
        for path in sorted(folder.glob("*.eml"))
    ]
