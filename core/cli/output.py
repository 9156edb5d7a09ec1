"""The one printer of records: a rich table, or with ``--json`` the command's one JSON shape.

A table goes to a terminal; to a pipe or a file the same rows go as tab-separated lines, a header
first, nothing cut (``trellis list | cut -f1``). In a terminal table the id column is never cut either:
it is what people copy.

A command that lists things prints a JSON list of objects; a command about one thing prints one
object (docs/cli.md names each command's fields). A record is a dataclass, a pydantic model or a
dict: its fields are the object's keys, datetimes become ISO-8601 strings and enums their value.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date, time
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

Column = tuple[str, Callable[[Any], object]]  # a header, and the cell of a record in that column


def print_records(records: Sequence[Any], *, as_json: bool, columns: Sequence[Column] = (),
                  single: bool = False, empty: str = "") -> None:
    """Print ``records`` as JSON (with ``single``, the one record as an object) or as a table with
    ``columns``; a cell that is None or blank shows ``empty``."""
    if as_json:
        print(json.dumps(plain(records[0]) if single else [plain(r) for r in records], indent=2))
        return
    rows = [[_cell(cell(record), empty) for _, cell in columns] for record in records]
    if not sys.stdout.isatty():
        for line in [[header for header, _ in columns], *([c.plain for c in row] for row in rows)]:
            print("\t".join(" ".join(value.split()) for value in line))  # a tab or newline inside a value: a space
        return
    table = Table()
    for i, (header, _) in enumerate(columns):
        if header == "id":
            table.add_column(header, no_wrap=True, min_width=max((len(row[i]) for row in rows), default=2))
        else:
            table.add_column(header)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def write_schema(schema: dict, out: Path | None) -> None:
    """A JSON Schema to ``out``, or to stdout when there is none."""
    text = json.dumps(schema, indent=2) + "\n"
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        print(text, end="")


def _cell(value: object, empty: str) -> Text:
    """Always literal text: what a trace or a person wrote is never read as rich markup."""
    return Text(empty if value is None or value == "" else str(value))


def plain(value: Any) -> Any:
    """``value`` as JSON holds it: objects, lists, strings, numbers, booleans and null."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (date, time)):  # a datetime is a date
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float)):
        return value
    return str(value)
