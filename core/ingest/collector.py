"""`trellis collect`: an OTLP/HTTP receiver at POST /v1/traces whose one writer commits what requests bring.

Each request is read and checked in its own thread (core.ingest.wire) and put on a bounded queue; a full queue
is answered 503 with Retry-After at once. The writer takes everything queued (at most one queue's worth),
stores it in one transaction (core.store.ingest) and only then answers those requests 200: an answer means
the spans are committed, so a client that gets none sends them again, and the store keeps each span once.
A commit that meets another process's change is tried again after a short wait.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb

from core.auth import Actor
from core.errors import StoreBusy, StoreError, TrellisError
from core.ingest import DEFAULT_HOST, DEFAULT_MAX_BYTES, DEFAULT_PORT, DEFAULT_QUEUE, wire
from core.models import MB
from core.store import Store
from core.store.ingest import ReceivedSpan

PATH = "/v1/traces"
RETRY_AFTER = 1  # seconds, in a 503's Retry-After
DISCARD_BYTES = 256 * MB  # of a body over the limit, read this much at most before the 413 (then hang up)
COMMIT_ATTEMPTS = 8  # waiting 0.05 s, then twice as long each time: about 6 s in all
COMPACT_EVERY = 200  # batches between compactions of a lake store (`trellis store compact`)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


@dataclass
class _Waiting:
    """One request's spans on the queue, and its answer once the writer is done with them."""

    spans: list[ReceivedSpan]
    done: threading.Event = field(default_factory=threading.Event)
    failure: tuple[int, str] | None = None  # (status, reason) when they were not stored


class Writer:
    """The queue, and the one thread that stores what is on it."""

    def __init__(self, store: Store, actor: Actor, queue_size: int = DEFAULT_QUEUE, *,
                 on_warning: Callable[[str], None] = warn):
        self._store, self._actor, self._warn = store, actor, on_warning
        self._queue: queue.Queue[_Waiting | None] = queue.Queue(maxsize=queue_size)
        self._accepting = threading.Lock()
        self._closing = False
        self.spans_stored = 0
        self._batches = 0
        self._thread = threading.Thread(target=self._run, name="trellis-collect-writer")
        self._thread.start()

    def submit(self, spans: list[ReceivedSpan]) -> _Waiting | None:
        """Queue a request's spans; None when the queue is full or the collector is stopping."""
        waiting = _Waiting(spans)
        with self._accepting:
            if self._closing:
                return None
            try:
                self._queue.put_nowait(waiting)
            except queue.Full:
                return None
        return waiting

    def close(self) -> None:
        """Stop accepting, store and answer everything accepted, and end the writer."""
        with self._accepting:
            self._closing = True
        self._queue.put(None)  # after every accepted request: the writer ends when it reaches this
        self._thread.join()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._queue.maxsize:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._store_batch([waiting for waiting in batch if waiting is not None])
            self._batches += 1
            if self._store.place.shared and self._batches % COMPACT_EVERY == 0:
                self._compact()
            if None in batch:
                return

    def _compact(self) -> None:
        # Each batch adds data files of its own; left alone, reading a trace would open thousands of them.
        try:
            self._store.compact()
        except (StoreError, duckdb.Error) as exc:  # a later batch tries again; nothing is lost meanwhile
            self._warn(f"could not compact the store: {exc}")

    def _store_batch(self, batch: list[_Waiting]) -> None:
        if not batch:
            return
        spans = [span for waiting in batch for span in waiting.spans]
        failure = None
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                receipt = self._store.receive_spans(spans, wire.rebuild, actor=self._actor)
            except (StoreBusy, duckdb.TransactionException) as exc:  # another process's commit met ours
                if attempt == COMMIT_ATTEMPTS - 1:
                    failure = (503, f"the store is busy; nothing was stored: {exc}")
                    self._warn(failure[1])
                else:
                    time.sleep(0.05 * 2 ** attempt)
                continue
            except Exception as exc:  # noqa: BLE001 - a fault of ours: answer it, and keep serving the others
                failure = (500, f"nothing was stored: {type(exc).__name__}: {exc}")
                self._warn(failure[1])
            else:
                self.spans_stored += receipt.stored
                for trace_id, why in receipt.not_rebuilt.items():
                    self._warn(f"trace {trace_id} keeps its nodes as they were, its new spans stored: {why}")
            break
        for waiting in batch:
            waiting.failure = failure
            waiting.done.set()


class _Server(ThreadingHTTPServer):
    """Keeps count of the requests being answered, so that stopping waits for their answers to go out."""

    def __init__(self, address: tuple[str, int], writer: Writer, max_bytes: int):
        super().__init__(address, _Handler)
        self.writer, self.max_bytes = writer, max_bytes
        self._answering = 0
        self._answered = threading.Condition()

    @contextmanager
    def answering(self) -> Iterator[None]:
        with self._answered:
            self._answering += 1
        try:
            yield
        finally:
            with self._answered:
                self._answering -= 1
                self._answered.notify_all()

    def wait_for_answers(self, timeout: float) -> None:
        with self._answered:
            self._answered.wait_for(lambda: self._answering == 0, timeout)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up needs no traceback
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: exporters send request after request on one connection
    timeout = 60  # a client that stops sending mid-request frees its thread
    server: _Server

    def do_POST(self) -> None:
        with self.server.answering():
            self._receive()

    def do_GET(self) -> None:
        self._fail(405 if self._path() == PATH else 404, self._where())

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _receive(self) -> None:
        if self._path() != PATH:
            return self._fail(404, self._where())
        media = wire.media_type(self.headers.get("Content-Type"))
        if media is None:
            return self._fail(415, f"Content-Type {self.headers.get('Content-Type')!r} is not OTLP's: "
                                   f"send {wire.PROTOBUF} or {wire.JSON}")
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            return self._fail(411, "a request needs a Content-Length", media)
        if int(length) > self.server.max_bytes:
            self._discard(int(length))
            return self._fail(413, f"the body is {int(length) / MB:.1f} MB, over the "
                                   f"{self.server.max_bytes / MB:.1f} MB limit", media)
        body = self.rfile.read(int(length))
        try:
            spans = wire.read_spans(body, media, self.headers.get("Content-Encoding"), self.server.max_bytes)
        except wire.Rejected as exc:
            return self._fail(exc.status, exc.reason, media)
        waiting = self.server.writer.submit(spans)
        if waiting is None:
            return self._fail(503, "the collector's queue is full or it is stopping; nothing was stored, retry", media)
        waiting.done.wait()
        if waiting.failure:
            return self._fail(*waiting.failure, media)
        self._send(200, media, wire.success(media))

    def _discard(self, length: int) -> None:
        """Read a refused body (up to DISCARD_BYTES), so that the client, still sending it, reads the answer."""
        left = min(length, DISCARD_BYTES)
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            left -= len(chunk)

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _where(self) -> str:
        return f"nothing at {self.command} {self._path()}: OTLP traces are POSTed to {PATH}"

    def _fail(self, status: int, reason: str, media: str | None = None) -> None:
        content_type, body = wire.failure(media, status, reason)
        self.close_connection = True  # what is left of an unread body must not be read as the next request
        self._send(status, content_type, body, {"Retry-After": str(RETRY_AFTER)} if status == 503 else {})

    def _send(self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass  # a line per request would bury the collector's warnings


def serve(store: Store, actor: Actor, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          queue_size: int = DEFAULT_QUEUE, max_bytes: int = DEFAULT_MAX_BYTES,
          announce: Callable[[str], None] = print) -> int:
    """Receive spans into the store until SIGINT or SIGTERM; then store what was accepted, answer it and
    return how many new spans were stored."""
    writer = Writer(store, actor, queue_size)
    try:
        server = _Server((host, port), writer, max_bytes)
    except OSError as exc:
        writer.close()
        raise TrellisError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    listener = threading.Thread(target=server.serve_forever, name="trellis-collect-listener")
    listener.start()
    try:
        announce(f"listening on http://{host}:{server.server_port}{PATH}, storing into {store.path}; Ctrl-C stops")
        stop.wait()
    finally:
        server.shutdown()  # no new connections; a request on an open one is answered 503 from here on
        listener.join()
        writer.close()  # every accepted request stored and its answer ready
        server.wait_for_answers(timeout=10)
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return writer.spans_stored
