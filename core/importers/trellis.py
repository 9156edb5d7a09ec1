"""Trellis's own format: one JSON document per trace, or JSONL for big traces."""

from __future__ import annotations

import codecs
from pathlib import Path

from pydantic import ValidationError

from core.errors import InputError
from core.importers.base import ParsedTrace, describe
from core.importers.reading import read_text
from core.models import Trace, TraceDocument
from core.store.jsonl import read_trellis_jsonl


def parse(path: Path, source: str) -> list[ParsedTrace]:
    if _is_jsonl(path):
        return _parse_jsonl(path, source)
    text = read_text(path, source)
    try:
        document = TraceDocument.model_validate_json(text)
    except ValidationError as exc:
        raise InputError(source, describe(exc)) from None
    return [ParsedTrace(trace=document.trace, nodes=document.nodes)]


def _parse_jsonl(path: Path, source: str) -> list[ParsedTrace]:
    parsed = []
    for header, line, table in read_trellis_jsonl(path, source):
        try:
            trace = Trace.model_validate(header)
        except ValidationError as exc:
            raise InputError(source, "trace." + describe(exc), line) from None
        parsed.append(ParsedTrace(trace=trace, nodes=table))
    if not parsed:
        raise InputError(source, "no trace header line")
    return parsed


def _is_jsonl(path: Path) -> bool:
    """A document whose first line is a whole JSON object with more lines after it."""
    with path.open("rb") as f:
        first = f.readline().removeprefix(codecs.BOM_UTF8).strip()
        return first.startswith(b"{") and first.endswith(b"}") and bool(f.read(4096).strip())
