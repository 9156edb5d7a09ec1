"""A loopback HTTP listener that records every request and answers like an OpenAI-compatible chat
endpoint, so a test can see what the server sent where, and with which key.

It is bounded: it records at most `max_requests` requests (later ones get 503) and shuts itself down
after `lifetime` seconds even if a test never closes it. `answer` is the reply's text, or a function of the
request's last message that gives it. `replies` scripts a failing server instead: the N-th request gets the
N-th (status, content type, body), and after the last one the listener dies, refusing every later request. `delay` makes it a slow model: it waits that many
seconds before each answer.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20


class Listener:
    def __init__(self, answer: str | Callable[[str], str] = '{"findings": []}', *, max_requests: int = 20, lifetime: float = 300.0,
                 delay: float = 0.0, replies: list[tuple[int, str, str]] | None = None):
        self.answer = answer
        self.replies = replies
        self.delay = delay
        self.max_requests = max_requests
        self.requests: list[dict] = []  # {"method", "path", "headers", "body"}
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._record_and_answer()

            def do_POST(self):
                self._record_and_answer()

            def _record_and_answer(self):
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                body = self.rfile.read(length).decode("utf-8", "replace")
                headers = {name.lower(): value for name, value in self.headers.items()}
                with listener._lock:
                    number = len(listener.requests)
                    full = number >= listener.max_requests
                    if not full:
                        listener.requests.append({"method": self.command, "path": self.path, "headers": headers, "body": body})
                if listener.replies is not None:
                    status, content_type, text = listener._scripted(number)
                    reply = text.encode()
                else:
                    status, content_type = (503, "application/json") if full else (200, "application/json")
                    reply = b"" if full else json.dumps(listener._completion(body)).encode()
                time.sleep(listener.delay)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._timer = threading.Timer(lifetime, self.close)
        self._timer.daemon = True

    @property
    def url(self) -> str:
        """The base URL an OpenAI-compatible client is given."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def prompts(self) -> list[str]:
        """The last message of each request, in order."""
        with self._lock:
            return [json.loads(r["body"])["messages"][-1]["content"] for r in self.requests]

    def _scripted(self, number: int) -> tuple[int, str, str]:
        """The ``number``-th of ``replies``; after the last one nobody listens on the port, as after a crash."""
        if number + 1 >= len(self.replies):
            self.close()  # before the reply is sent: from here on, the port refuses
        if number < len(self.replies):
            return self.replies[number]
        return 503, "application/json", json.dumps({"error": {"message": "no more replies"}})

    def seen(self) -> str:
        """Everything received, as one string to search for a secret."""
        with self._lock:
            return json.dumps(self.requests)

    def _completion(self, body: str) -> dict:
        content = self.answer(json.loads(body)["messages"][-1]["content"]) if callable(self.answer) else self.answer
        return {
            "id": "chatcmpl-listener", "object": "chat.completion", "created": 0, "model": "listener",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def __enter__(self) -> Listener:
        # A short poll, so that a scripted crash (close() from a handler) stops listening at once.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; safe to call twice, and from the lifetime timer."""
        self._timer.cancel()
        with self._lock:
            closed, self._closed = self._closed, True
        if not closed:
            self._server.shutdown()
            self._server.server_close()

    _closed = False
