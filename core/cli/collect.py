"""`trellis collect`: receive OpenTelemetry spans live, over OTLP/HTTP, into the store (core.ingest)."""

from __future__ import annotations

import argparse

from core import ingest
from core.cli.common import Commands, acting, open_store
from core.models import MB


def register(commands: Commands) -> None:
    sub = commands.add(
        "collect", _collect, "Receive OpenTelemetry spans (OTLP/HTTP, POST /v1/traces) into the store as they come.",
        epilog="Protobuf or JSON, gzipped or not. A request is answered 200 once its spans are stored; "
               "a span already stored is not stored again. Ctrl-C or SIGTERM stops it, after storing what it accepted.")
    sub.add_argument("--host", default=ingest.DEFAULT_HOST,
                     help=f"address to listen on (default {ingest.DEFAULT_HOST}: this machine only; "
                          "anyone who reaches the port can add spans)")
    sub.add_argument("--port", type=int, default=ingest.DEFAULT_PORT,
                     help=f"port to listen on (default {ingest.DEFAULT_PORT}, OTLP/HTTP's; 0: a free one)")
    sub.add_argument("--queue-size", type=_positive, default=ingest.DEFAULT_QUEUE,
                     help=f"requests waiting to be stored before more are answered 503 (default {ingest.DEFAULT_QUEUE})")
    sub.add_argument("--max-mb", type=float, default=ingest.DEFAULT_MAX_BYTES / MB,
                     help=f"largest request body, unpacked, in MB (default {ingest.DEFAULT_MAX_BYTES // MB}); "
                          "a larger one is answered 413")


def _collect(args: argparse.Namespace) -> None:
    from core.ingest import collector  # the server and protobuf: only when it runs, so other commands start fast

    with open_store(args, create=True) as store:
        stored = collector.serve(store, acting(store), host=args.host, port=args.port, queue_size=args.queue_size,
                                 max_bytes=int(args.max_mb * MB), announce=lambda line: print(line, flush=True))
    print(f"stopped; {stored} new spans stored", flush=True)


def _positive(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number above 0")
    return number
