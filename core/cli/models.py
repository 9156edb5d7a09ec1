"""`trellis model serve | stop | status | list`: the local model server (core.runtime).

While it runs, `--teacher local` (and the pages' model choices) reach it through litellm like any
provider. It is recorded beside the database (--db, default $TRELLIS_STORE or ./trellis.lake) as
DB.model.json, so the app and the CLI serving that database find it; the database is not opened.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from core import runtime
from core.cli.common import Commands
from core.cli.output import print_records
from core.store import default_db_path

STATE_COLUMNS = [
    ("pid", lambda s: s.pid), ("url", lambda s: s.url), ("model", lambda s: s.alias),
    ("context", lambda s: s.context), ("started", lambda s: f"{s.started:%Y-%m-%d %H:%M:%S}"), ("log", lambda s: s.log),
]
MODEL_COLUMNS = [
    ("name", lambda m: m.name), ("licence", lambda m: m.licence), ("MB", lambda m: m.size_mb),
    ("context", lambda m: m.context), ("installed", lambda m: "yes" if m.installed else "no"),
    ("default", lambda m: "yes" if m.default else ""),
    ("packages", lambda m: m.packages[0] + (f" (+{len(m.packages) - 1} more)" if len(m.packages) > 1 else "")),
]


def register(commands: Commands) -> None:
    model = commands.group("model", "Serve a local model (shipped weights, llama.cpp, loopback only) for --teacher local.")
    sub = model.add("serve", _serve, "Start the local model server on a free loopback port and record it.")
    sub.add_argument("--model", metavar="NAME", help="a shipped model (`trellis model list`; default: the first installed)")
    sub.add_argument("--port", type=int, help="loopback port (default: a free one)")
    sub.add_argument("--ctx", type=int, default=runtime.DEFAULT_CONTEXT,
                     help=f"context window in tokens (default {runtime.DEFAULT_CONTEXT})")
    sub.add_argument("--threads", type=int, default=1, help="CPU threads (default 1: steady on a loaded machine)")
    model.add("stop", _stop, "Stop the recorded local model server (its pid, and only while it is still ours).")
    model.add("status", _status, "Show the running local model server.", json=True)
    model.add("list", _list, "List the models Trellis can serve locally, and which are installed.", db=False,
              json=True)


def _serve(args: argparse.Namespace) -> None:
    print("… loading the model", file=sys.stderr)
    state = runtime.serve(args.model, port=args.port, context=args.ctx, threads=args.threads, db=_db(args))
    print(f"serving {state.alias} at {state.url} (pid {state.pid}); `--teacher local` reaches it; "
          "`trellis model stop` ends it", file=sys.stderr)
    print_records([state], as_json=False, columns=STATE_COLUMNS)


def _stop(args: argparse.Namespace) -> None:
    state = runtime.stop(_db(args))
    print(f"stopped {state.alias} (pid {state.pid}, port {state.port})")


def _status(args: argparse.Namespace) -> None:
    state = runtime.status(_db(args))
    if args.json:  # one object either way: "running" says which, the rest is null when nothing runs
        fields = {f.name: getattr(state, f.name) if state else None for f in dataclasses.fields(runtime.ServerState)}
        print_records([{"running": state is not None, **fields}], as_json=True, single=True)
    elif state is None:
        print("no local model is being served (`trellis model serve` starts one)")
    else:
        print_records([state], as_json=False, columns=STATE_COLUMNS)


def _list(args: argparse.Namespace) -> None:
    print_records(runtime.list_models(), as_json=args.json, columns=MODEL_COLUMNS)


def _db(args: argparse.Namespace) -> str:
    return args.db or default_db_path()
