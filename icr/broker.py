"""Kombu's filesystem transport (the broker of `make run` and of the SQLite tests), with each
message appearing in the queue folder whole.

Kombu's `Channel._put` creates the message file under its final name and then writes into it;
`Channel._get` takes any file with a message name, without the writer's lock, moves it away,
reads it and deletes it. A consumer polling between the two read an empty or partial message,
failed on it with a JSONDecodeError and had already deleted it: the task was lost
(celery/kombu#1551). Settings select this transport through `CELERY_BROKER_TRANSPORT`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: written under a temporary name, then renamed.

        The temporary name starts with a dot, so `_get`, `_size` and `_purge` (which take files
        named `<anything>.<queue>.msg`) never see it. A rename within one folder is atomic, so a
        consumer finds either no message or the whole one.
        """
        folder = self.data_folder_out
        # kombu's own name: consumers take messages in the order of its leading milliseconds.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        data = str_to_bytes(dumps(payload))
        try:
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        except OSError as exc:
            raise ChannelError(f"Cannot add a file to directory {folder!r}") from exc
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temporary, os.path.join(folder, name))
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(temporary)
            raise ChannelError(f"Cannot add file {name!r} to directory {folder!r}") from exc


class Transport(filesystem.Transport):
    Channel = Channel
