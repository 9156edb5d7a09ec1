"""The `trellis` command line (`python -m core` too): one parser, a module per feature.

- core.cli.traces: import, list, show, export, delete, rename, tag, untag, schema
- core.cli.critique: critique, annotations, review accept | reject
- core.cli.access: user grant | list, audit
- core.cli.scaffolds: scaffold extract | list | show | submit | approve | reject | deprecate | export | find
- core.cli.tasks: tasks validate | list | check | schema
- core.cli.runs: run, runs
- core.cli.experiments: experiment run | list | show | export
- core.cli.models: model serve | stop | status | list
- core.cli.store: store migrate | compact
- core.cli.collect: collect (OTLP/HTTP spans, live)

Shared options (--db, --json), the store and the acting identity live in core.cli.common; every
record a command prints goes through core.cli.output. docs/cli.md lists each command's JSON shape.
Errors go to stderr as one line, ``error: FILE[:LINE]: what is wrong``, with exit code 1. A reader that
stops reading (``trellis list | head``) ends the command quietly, with the exit code of a pipe closed early (141).
"""

from __future__ import annotations

import argparse
import os
import sys

from core.cli import access, collect, critique, experiments, models, runs, scaffolds, store, tasks, traces
from core.cli.common import Commands
from core.errors import TrellisError

FEATURES = (traces, critique, access, scaffolds, tasks, runs, experiments, models, store, collect)
CLOSED_PIPE = 128 + 13  # what a shell reports for a command ended by SIGPIPE, as `yes | head` is


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.run(args) or 0
        sys.stdout.flush()  # here, not at exit: a closed pipe must be caught like any other
        return code
    except BrokenPipeError:
        # Whoever read stdout has all they wanted; Python would complain again when it flushes at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return CLOSED_PIPE
    except TrellisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing was stored", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trellis", description="Inspect, critique and reuse recursive agent traces.")
    commands = Commands(parser.add_subparsers(required=True, metavar="COMMAND"))
    for feature in FEATURES:
        feature.register(commands)
    return parser
