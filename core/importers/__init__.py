"""Reading trace files of every supported format into validated traces.

``read_file`` parses and checks a file without touching the store;
``import_files`` reads every file first and then stores them all in one
transaction, so a bad file leaves nothing behind.
"""

from __future__ import annotations

import codecs
import hashlib
import importlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.auth import Action, Actor, local_actor
from core.errors import InputError, TreeError
from core.importers.base import ParsedTrace
from core.importers.reading import DEFAULT_MAX_BYTES, check_file, load_json, read_text
from core.models import MAX_NODE_BYTES, MAX_WHOLE, MB, NODE_LIMIT, Trace
from core.node_table import largest_node, nodes_to_arrow
from core.store import Store
from core.tree import check_tree

PARSERS = ("trellis", "rlm", "otlp", "langsmith")  # each a module here with parse(path, source)
FORMATS = ("auto", *PARSERS)


def _parser(format: str):
    return importlib.import_module(f"core.importers.{format}")


class UnknownFormat(InputError):
    """A file whose format is not recognised: who shows the error says how to choose one there
    (the command line's --format, the app's Format list)."""


@dataclass
class ReadTrace:
    """A trace read from a file and checked to be one tree, ready to store."""

    trace: Trace
    nodes: pa.Table
    depth: np.ndarray
    source: str
    warnings: list[str] = field(default_factory=list)
    content_hash: str | None = None  # sha256 of the file's bytes

    @property
    def node_count(self) -> int:
        return self.nodes.num_rows


def read_file(path: str | Path, format: str = "auto", *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[ReadTrace]:
    path = Path(path)
    source = str(path)
    if format not in FORMATS:
        raise InputError(source, f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    check_file(path, source, max_bytes)
    if format == "auto":
        format = detect_format(path, source)
    return [checked(parsed, source) for parsed in _parser(format).parse(path, source)]


def checked(parsed: ParsedTrace, source: str) -> ReadTrace:
    """A parsed trace checked to be one tree the store can keep (node sizes, totals); else an InputError."""
    nodes = parsed.nodes if isinstance(parsed.nodes, pa.Table) else nodes_to_arrow(parsed.nodes)
    if nodes.num_rows == 0:
        raise InputError(source, f"trace {parsed.trace.id!r} has no nodes")
    row, node_bytes = largest_node(nodes)
    if node_bytes > MAX_NODE_BYTES:
        node_id = nodes.column("id")[row].as_py()
        raise InputError(source, f"node {node_id!r} holds {node_bytes / MB:.1f} MB of text, over {NODE_LIMIT}")
    problem = _totals_problem(nodes)
    if problem:
        raise InputError(source, f"trace {parsed.trace.id!r}: {problem}")
    try:
        depth = check_tree(nodes.column("id"), nodes.column("parent_id"))
    except TreeError as exc:
        raise InputError(source, f"trace {parsed.trace.id!r}: {exc}") from None
    return ReadTrace(parsed.trace, nodes, depth, source, parsed.warnings)


def _totals_problem(nodes: pa.Table) -> str | None:
    """Why the trace's totals, which the store keeps beside it, cannot be stored."""
    # decimal128: the sum of int64 columns would wrap around silently
    tokens = sum(pc.sum(nodes.column(name).cast(pa.decimal128(38, 0))).as_py() or 0 for name in ("tokens_in", "tokens_out"))
    if tokens > MAX_WHOLE:
        return "its nodes' tokens add up to more than the largest whole number Trellis stores (2^63-1)"
    if not math.isfinite(pc.sum(nodes.column("cost")).as_py() or 0):
        return "its nodes' costs add up to more than the largest number Trellis stores"
    return None


def import_files(
    store: Store,
    paths: list[str | Path],
    format: str = "auto",
    *,
    replace: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    on_identical: Callable[[str], None] = lambda message: None,
    actor: Actor | None = None,
) -> list[ReadTrace]:
    """Read every file (a folder means the .json and .jsonl files in it), then store all their traces in one transaction.

    A file whose exact bytes were imported before is not read again (unless ``replace``): it is
    skipped with a message to ``on_identical``, so a rerun after a crash or an interruption costs nothing.
    ``actor`` is who imports (the local account by default); checked before anything is read.
    """
    actor = actor or local_actor()
    actor.require(Action.IMPORT)
    traces = []
    for path in expand_paths(paths):
        content_hash = _content_hash(path) if path.is_file() and path.stat().st_size <= max_bytes else None
        stored = store.traces_with_content(content_hash) if content_hash and not replace else []
        if stored:
            names = f"trace{'s' if len(stored) > 1 else ''} {', '.join(stored)}"
            on_identical(f"{path}: already imported as {names} (identical content); nothing to do")
            continue
        for t in read_file(path, format, max_bytes=max_bytes):
            t.content_hash = content_hash
            traces.append(t)
    seen: dict[str, str] = {}
    for t in traces:
        if t.trace.id in seen:
            raise InputError(t.source, f"trace id {t.trace.id!r} also comes from {seen[t.trace.id]}")
        seen[t.trace.id] = t.source
    store.add_traces([(t.trace, t.nodes, t.depth, t.source, t.content_hash) for t in traces], actor=actor, replace=replace)
    return traces


def _content_hash(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def expand_paths(paths: list[str | Path]) -> list[Path]:
    expanded = []
    for path in map(Path, paths):
        if path.is_dir():
            expanded.extend(sorted(p for p in path.iterdir() if p.suffix in (".json", ".jsonl") and p.is_file()))
        else:
            expanded.append(path)
    return expanded


_SNIFF_BYTES = 64 * 1024
_SIGNATURES = [
    ("trellis", re.compile(rb'"format"\s*:\s*"trellis"')),
    ("otlp", re.compile(rb'"resourceSpans"\s*:')),
    ("langsmith", re.compile(rb'"(child_runs|dotted_order|parent_run_id)"\s*:')),
]


def detect_format(path: Path, source: str) -> str:
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES).removeprefix(codecs.BOM_UTF8)
    first_line = head.split(b"\n", 1)[0].strip()
    try:
        first = json.loads(first_line)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        first = None
    if isinstance(first, dict) and first.get("type") in ("metadata", "run_context", "iteration"):
        return "rlm"  # a log missing its metadata line still gets the RLM importer's precise error
    for name, signature in _SIGNATURES:
        if signature.search(head):
            return name
    if not head.lstrip().startswith((b"{", b"[")):
        raise InputError(source, "not JSON or JSONL (expected a Trellis, RLM, OTLP/JSON or LangSmith trace file)", 1)
    value = load_json(read_text(path, source), source) if first is None else first
    for name in ("otlp", "langsmith"):
        if _parser(name).looks_like(value):
            return name
    raise UnknownFormat(source, "unknown trace format: not Trellis JSON, an RLM log, OTLP/JSON or a LangSmith run tree")
