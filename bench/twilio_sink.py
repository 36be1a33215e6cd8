"""A Twilio-shaped SMS provider on loopback, for bench/crash_window.py.

It answers ``POST /2010-04-01/Accounts/{sid}/Messages.json`` as Twilio does (201, a message
resource with a fresh ``sid``) after a random latency, and keeps every message it accepted.
Like Twilio, it accepts a message when the request arrives: a client that dies while
waiting for the answer has still sent an SMS. When the form carries a ``StatusCallback``
URL it then posts Twilio's status callback there (form-encoded, ``X-Twilio-Signature``
signed with the auth token), as Twilio does whether or not its answer reached the client.
"""

from __future__ import annotations

import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

from journeys.api.signatures import twilio_signature


@dataclass
class Accepted:
    to: str
    sid: str
    received: float  # time.monotonic()
    answered: float | None = None  # when the 201 was written (None: still waiting)


class TwilioSink:
    def __init__(
        self,
        auth_token: str,
        latency: tuple[float, float] = (0.2, 1.5),
        callback_delay: tuple[float, float] = (0.2, 1.0),
    ) -> None:
        self.auth_token = auth_token
        self.latency = latency
        self.callback_delay = callback_delay
        self.lock = threading.Lock()
        self.accepted: list[Accepted] = []
        self.callbacks_failed = 0
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> TwilioSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received_for(self, numbers: set[str]) -> list[Accepted]:
        with self.lock:
            return [a for a in self.accepted if a.to in numbers]

    def in_flight(self, numbers: set[str]) -> int:
        """Messages accepted whose answer has not been written yet."""
        with self.lock:
            return sum(1 for a in self.accepted if a.to in numbers and a.answered is None)

    def repeats(self, numbers: set[str]) -> int:
        """Messages beyond the first per number (each bench customer gets one SMS)."""
        counts = Counter(a.to for a in self.received_for(numbers))
        return sum(n - 1 for n in counts.values())

    def accept(self, form: dict[str, str]) -> Accepted:
        message = Accepted(form.get("To", ""), "SM" + uuid.uuid4().hex, time.monotonic())
        with self.lock:
            self.accepted.append(message)
        return message

    def report(self, callback: str, message: Accepted, form: dict[str, str]) -> None:
        """Twilio's status callback for an accepted message, posted a moment later."""
        time.sleep(random.uniform(*self.callback_delay))
        params = [
            ("AccountSid", form.get("AccountSid", "")),
            ("MessageSid", message.sid),
            ("SmsSid", message.sid),
            ("MessageStatus", "sent"),
            ("SmsStatus", "sent"),
            ("To", message.to),
            ("From", form.get("From", "")),
        ]
        request = urllib.request.Request(
            callback,
            data=urlencode(params).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": twilio_signature(self.auth_token, callback, params),
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except (urllib.error.URLError, OSError):
            with self.lock:
                self.callbacks_failed += 1


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a worker killed mid-request resets its connection: expected here


def _handler(sink: TwilioSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = -1

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            if not self.path.endswith("/Messages.json") or "To" not in form:
                self._answer(404, b'{"code": 20404, "message": "not found"}')
                return
            message = sink.accept(form)
            callback = form.get("StatusCallback")
            if callback:
                threading.Thread(
                    target=sink.report, args=(callback, message, form), daemon=True
                ).start()
            time.sleep(random.uniform(*sink.latency))
            body = f'{{"sid": "{message.sid}", "status": "queued", "to": "{message.to}"}}'
            self._answer(201, body.encode())
            with sink.lock:
                message.answered = time.monotonic()

        def _answer(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the worker died while waiting: the message was accepted all the same

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
