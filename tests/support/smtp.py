"""An SMTP server on loopback (aiosmtpd) that keeps the messages it accepts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[Any]]]:
    """(port, the messages received so far) of a running SMTP server."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list[Any] = []

    class Keep(Message):  # type: ignore[misc]
        def handle_message(self, message: Any) -> None:
            received.append(message)

    with socket.socket() as probe:  # aiosmtpd checks the port it is given, so not 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()
