"""Reading raw bytes into JSON values, with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import InputError

DEFAULT_MAX_BYTES = 200 * 1024 * 1024


def read_text(path: Path, source: str) -> str:
    """The file as text; invalid UTF-8 is an error naming the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(source, f"invalid UTF-8 (byte {exc.start})", line) from None


def load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not valid JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:
        raise InputError(source, "JSON nested too deeply; store trees flat (id, parent_id)") from None


def iter_jsonl(text: str, source: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(source, f"not valid JSON: {exc.msg}", number) from None
        except RecursionError:
            raise InputError(source, "JSON nested too deeply", number) from None


def json_documents(text: str, source: str) -> list[tuple[int | None, Any]]:
    """(line, value) per line of a JSONL file, or [(None, value)] for one JSON document."""
    first, _, rest = text.lstrip().partition("\n")
    if rest.strip() and _is_json_object(first):
        return list(iter_jsonl(text, source))
    return [(None, load_json(text, source))]


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (json.JSONDecodeError, RecursionError):
        return False


def short(text: Any, limit: int = 80) -> str:
    """A value quoted for an error message, cut to one short line."""
    s = str(text).replace("\n", " ")
    return s if len(s) <= limit else s[: limit - 1] + "…"
