"""Reading Trellis JSONL with DuckDB's JSON reader (multi-threaded, C++), on a connection of its own.

The importer (core.importers.trellis) calls this; the rules a node must meet are
the Node model's, stated here once more in SQL so a million-line file is checked
in the engine rather than line by line in Python.
"""

from __future__ import annotations

import codecs
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from core.errors import InputError
from core.models import (
    MAX_NESTING,
    MAX_NODE_BYTES,
    MB,
    NODE_LIMIT,
    NON_FINITE,
    TOO_DEEP,
    Node,
    NodeKind,
    Status,
    nested_too_deep,
    non_finite_at,
    whole_number_problem,
)
from core.node_table import NODE_ARROW_SCHEMA
from core.store.connection import ROW_GROUP

# The same columns as DuckDB types, for reading Trellis JSONL straight into the engine.
_DUCK_TYPES = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE"}
_JSONL_COLUMNS = {
    f.name: ("TIMESTAMPTZ" if pa.types.is_timestamp(f.type) else _DUCK_TYPES[f.type]) for f in NODE_ARROW_SCHEMA
}
_JSONL_COLUMNS["metadata"] = "JSON"
_JSONL_COLUMNS |= {"format": "VARCHAR", "version": "VARCHAR", "trace": "JSON"}


def read_trellis_jsonl(path: Path, source: str) -> list[tuple[dict[str, Any], int, pa.Table]]:
    """Parse a Trellis JSONL file with DuckDB's JSON reader (multi-threaded, C++).

    Returns (trace header as a dict, header line, node table) per trace. Types
    and value rules are checked here; tree shape is checked by core.tree.
    """
    node_columns = ", ".join(_JSONL_DEFAULTS.get(n, f'"{n}"') for n in NODE_ARROW_SCHEMA.names)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        try:
            with _without_bom(path) as readable:
                # One row per non-blank line, in file order: row i is "record" i.
                # Streamed in row-group-sized batches: faster than one table, and what the insert wants.
                records = con.execute(
                    f"SELECT {node_columns}, format, version, trace::VARCHAR AS trace "
                    f"FROM read_json(?, format='newline_delimited', columns={_JSONL_COLUMNS!r}, "
                    f"maximum_object_size={MAX_NODE_BYTES})",
                    [str(readable)],
                ).to_arrow_reader(ROW_GROUP).read_all()
                unknown = con.execute(
                    "SELECT DISTINCT k FROM (SELECT unnest(json_keys(json)) AS k "
                    f"FROM read_json_objects(?, format='newline_delimited', maximum_object_size={MAX_NODE_BYTES})) "
                    "WHERE k NOT IN (SELECT unnest(?::VARCHAR[])) LIMIT 1",
                    [str(readable), list(_JSONL_COLUMNS)],
                ).fetchone()
        except duckdb.Error as exc:
            raise _jsonl_error(path, source, exc) from None
        if unknown:
            raise InputError(source, f"unknown field {unknown[0]!r}", _line_with_key(path, unknown[0]))

        records = records.append_column("record", pa.array(np.arange(records.num_rows, dtype=np.int64)))
        con.register("records", records)
        headers = con.execute(
            "SELECT record, format, version, trace, json_extract(trace, '$.metadata')::VARCHAR "
            "FROM records WHERE trace IS NOT NULL ORDER BY record"
        ).fetchall()
        first_header = headers[0][0] if headers else None
        bad = con.execute(_JSONL_RULES, [first_header]).fetchone()
        if bad:
            record, problem = bad
            raise InputError(source, problem, _line_of_record(path, record))
        for record, metadata in con.execute(_JSONL_DEEP_CANDIDATES).fetchall():
            if nested_too_deep(metadata):
                raise InputError(source, TOO_DEEP, _line_of_record(path, record))
        for record, metadata in con.execute(_JSONL_NON_FINITE_CANDIDATES).fetchall():
            _load_finite(metadata, source, _line_of_record(path, record), "metadata")
        result = []
        ends = [h[0] for h in headers[1:]] + [records.num_rows]
        nodes = records.select(NODE_ARROW_SCHEMA.names)
        for (record, fmt, version, trace_json, metadata_json), end in zip(headers, ends, strict=True):
            line = _line_of_record(path, record)
            if fmt != "trellis" or version != "1":
                raise InputError(source, 'header must say "format": "trellis", "version": 1', line)
            table = nodes.slice(record + 1, end - record - 1).cast(NODE_ARROW_SCHEMA)
            if metadata_json and nested_too_deep(metadata_json):
                raise InputError(source, f"trace: {TOO_DEEP}", line)
            result.append((_load_finite(trace_json, source, line, "trace"), line, table))
        return result
    finally:
        con.close()


@contextmanager
def _without_bom(path: Path) -> Iterator[Path]:
    """The file, or a copy without the byte-order mark some Windows tools write, which DuckDB refuses."""
    with path.open("rb") as f:
        if f.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            yield path
            return
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / path.name
            with copy.open("wb") as out:
                shutil.copyfileobj(f, out)
            yield copy


def _load_finite(json_text: str, source: str, line: int, what: str) -> Any:
    """A JSON text DuckDB accepted, as Python; a NaN or Infinity in it is an InputError."""
    try:
        value = json.loads(json_text)
    except ValueError:  # DuckDB also reads nan and inf in any letter case; Python's json does not
        raise InputError(source, f"{what}: {NON_FINITE}", line) from None
    found = non_finite_at(value)
    if found:
        raise InputError(source, f"{what}: {NON_FINITE} ({found})", line)
    return value


def _sql_literal(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


_JSONL_DEFAULTS = {
    name: f"coalesce(\"{name}\", {_sql_literal(Node.model_fields[name].default)}) AS \"{name}\""
    for name in ("order", "kind", "status")
}
_KINDS = ", ".join(f"'{k.value}'" for k in NodeKind)
_STATUSES = ", ".join(f"'{s.value}'" for s in Status)
_NON_NEGATIVE = [name for name, f in Node.model_fields.items() if any(getattr(m, "ge", None) == 0 for m in f.metadata)]
_FLOATS = [f.name for f in NODE_ARROW_SCHEMA if f.type == pa.float64()]

# The first record that breaks a rule the Node model states, with what is wrong.
# Nulls for `order`, `kind` and `status` take the model's defaults below.
_JSONL_RULES = f"""
SELECT record, CASE
    WHEN $1 IS NULL OR record < $1 THEN 'node before the trace header line'
    WHEN trace IS NOT NULL AND id IS NOT NULL THEN 'a line is either a trace header or a node, not both'
    WHEN trace IS NOT NULL THEN NULL
    WHEN id IS NULL OR id = '' THEN 'node has no id'
    WHEN length(id) > 200 THEN 'node id longer than 200 characters'
    WHEN kind NOT IN ({_KINDS}) THEN 'kind ' || kind || ' is not one of {_KINDS.replace("'", "")}'
    WHEN status NOT IN ({_STATUSES}) THEN 'status ' || status || ' is not one of {_STATUSES.replace("'", "")}'
    WHEN metadata IS NOT NULL AND json_type(metadata) <> 'OBJECT' THEN 'metadata must be an object'
    {" ".join(f"WHEN NOT isfinite({n}) THEN '{n}: {NON_FINITE}'" for n in _FLOATS)}
    {" ".join(f"WHEN {n} < 0 THEN '{n} must not be negative'" for n in _NON_NEGATIVE)}
    END AS problem
FROM records WHERE problem IS NOT NULL ORDER BY record LIMIT 1
"""

# Only metadata with more opening brackets than MAX_NESTING can nest that deep; Python checks those few.
_JSONL_DEEP_CANDIDATES = f"""
SELECT record, metadata::VARCHAR FROM records
WHERE length(metadata::VARCHAR) > {MAX_NESTING}
  AND length(metadata::VARCHAR) - length(replace(replace(metadata::VARCHAR, '{{', ''), '[', '')) > {MAX_NESTING}
ORDER BY record
"""

# Metadata that may hold NaN or Infinity (which DuckDB reads in any letter case) or a number too
# big for a double; text inside strings can match too, so Python decides.
_JSONL_NON_FINITE_CANDIDATES = r"""
SELECT record, metadata::VARCHAR FROM records
WHERE regexp_matches(metadata::VARCHAR, '[:\[,]\s*-?(nan|inf)|[0-9]e\+?[0-9]{3}', 'i')
ORDER BY record
"""


def _jsonl_error(path: Path, source: str, exc: duckdb.Error) -> InputError:
    message = str(exc).split("\n")[0]
    if "maximum_object_size" in message:  # DuckDB names neither the line nor our limit
        line, size = next(((n, len(text)) for n, text in _lines(path) if len(text) > MAX_NODE_BYTES), (None, 0))
        return InputError(source, f"line holds {size / MB:.1f} MB, over {NODE_LIMIT}", line)
    cast = re.search(r"in line (\d+): Failed to cast value to numerical: (.*)", message)
    if cast:  # DuckDB's "line" counts non-blank lines, and it names the value but not the field
        line = _line_of_record(path, int(cast.group(1)) - 1)
        return InputError(source, _whole_number_field_problem(path, line, cast.group(2)), line)
    line = re.search(r"line (\d+)", message)
    if "end of data" in message:  # DuckDB names the line after a truncated last record
        line = re.search(r"(\d+)", str(_line_of_record(path, -1)))
    detail = re.sub(r'^.*?(in file "[^"]*",? ?)', "", message)
    detail = re.sub(r"^(at byte \d+ )?in line \d+: ", "", detail)
    if "Malformed JSON" in message:
        detail = f"not valid JSON: {detail}"
    return InputError(source, detail.strip(), int(line.group(1)) if line else None)


def _line_of_record(path: Path, record: int) -> int:
    """Line number of the record-th (0-based) non-blank line, or the last one; only used for errors."""
    seen, last = -1, 1
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                seen, last = seen + 1, number
                if seen == record:
                    return number
    return last


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        yield from enumerate(f, start=1)


def _whole_number_field_problem(path: Path, line: int, shown: str) -> str:
    """What is wrong with the value `shown` on that line of a file, which DuckDB could not read as a whole number."""
    text = next((text for n, text in _lines(path) if n == line), b"")
    try:
        record, value = json.loads(text), json.loads(shown)
    except (ValueError, RecursionError):
        record, value = {}, None
    if not isinstance(record, dict):
        record = {}
    fields = [k for k, v in record.items() if v == value and _JSONL_COLUMNS.get(k) == "BIGINT"]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    whole = isinstance(value, int) and not isinstance(value, bool)
    problem = (whole and whole_number_problem(value)) or f"should be a whole number, got {shown[:40]}"
    return f"{fields[0]}: {problem}" if fields else problem


def _line_with_key(path: Path, key: str) -> int | None:
    needle = json.dumps(key).encode()
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if needle in line:
                return number
    return None
