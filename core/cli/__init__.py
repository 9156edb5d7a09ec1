"""The `trellis` command line (`python -m core` too): one parser, a module per feature.

- core.cli.traces: import, list, show, export, schema
- core.cli.critique: critique, annotations
- core.cli.access: user grant | list, audit
- core.cli.scaffolds: scaffold extract | list | show | submit | approve | reject | deprecate | export | find
- core.cli.tasks: tasks validate | list | check | schema
- core.cli.runs: run, runs
- core.cli.experiments: experiment run | list | show | export
- core.cli.models: model serve | stop | status | list

Shared options (--db, --json), the store and the acting identity live in core.cli.common; every
record a command prints goes through core.cli.output. docs/cli.md lists each command's JSON shape.
Errors go to stderr as one line, ``error: FILE[:LINE]: what is wrong``, with exit code 1.
"""

from __future__ import annotations

import argparse
import sys

from core.cli import access, critique, experiments, models, runs, scaffolds, tasks, traces
from core.cli.common import Commands
from core.errors import TrellisError

FEATURES = (traces, critique, access, scaffolds, tasks, runs, experiments, models)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
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
