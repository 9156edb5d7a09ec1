"""Reading raw bytes into JSON values, with errors that name the file and line."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from json.decoder import scanstring
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.models import MB

DEFAULT_MAX_BYTES = 200 * MB


def check_file(path: Path, source: str, max_bytes: int) -> None:
    """A file to read: it exists, and is neither empty nor over ``max_bytes``; else a one-line InputError."""
    if not path.is_file():
        raise InputError(source, "no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(source, f"file is {size / MB:.1f} MB, over the {max_bytes / MB:.1f} MB limit")
    if size == 0:
        raise InputError(source, "file is empty")


def read_text(path: Path, source: str) -> str:
    """The file as text, without the byte-order mark some Windows tools write; invalid UTF-8 is an error naming the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        line = data.count(b"\n", 0, start) + 1
        raise InputError(source, f"invalid UTF-8 (byte {start})", line) from None


def load_json(text: str, source: str, line: int | None = None) -> Any:
    """A JSON value, however deeply nested (nested run trees and RLM logs can go past Python's recursion limit)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not valid JSON: {exc.msg}", exc.lineno if line is None else line) from None
    except RecursionError:
        try:
            return loads_iterative(text)
        except ValueError as exc:
            raise InputError(source, f"not valid JSON: {exc}", line) from None


def iter_jsonl(text: str, source: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, load_json(line, source, number)


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


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_CONSTANTS = {
    "null": None,
    "true": True,
    "false": False,
    "NaN": float("nan"),
    "Infinity": float("inf"),
    "-Infinity": float("-inf"),
}


def loads_iterative(text: str) -> Any:
    """``json.loads`` without recursion, for values nested deeper than the recursion limit."""
    n = len(text)
    stack: list[tuple[dict | list, str | None]] = []  # open containers and, for objects, the pending key
    i = _WS.match(text, 0).end()
    while True:
        if i >= n:
            raise ValueError(f"expecting a value at character {i}")
        c = text[i]
        if c == "{" or c == "[":
            i = _WS.match(text, i + 1).end()
            if i < n and text[i] == ("}" if c == "{" else "]"):
                value: Any = {} if c == "{" else []
                i += 1
            elif c == "{":
                key, i = _key(text, i)
                stack.append(({}, key))
                continue
            else:
                stack.append(([], None))
                continue
        elif c == '"':
            value, i = scanstring(text, i + 1, True)
        else:
            match = _NUMBER.match(text, i)
            if match:
                integer, fraction, exponent = match.groups()
                value = float(integer + (fraction or "") + (exponent or "")) if fraction or exponent else int(integer)
                i = match.end()
            else:
                for word, constant in _CONSTANTS.items():
                    if text.startswith(word, i):
                        value, i = constant, i + len(word)
                        break
                else:
                    raise ValueError(f"expecting a value at character {i}")
        while True:  # hand the value to its container; close every container that ends here
            if not stack:
                i = _WS.match(text, i).end()
                if i != n:
                    raise ValueError(f"extra data at character {i}")
                return value
            container, key = stack[-1]
            if isinstance(container, dict):
                container[key] = value
            else:
                container.append(value)
            i = _WS.match(text, i).end()
            if i < n and text[i] == ",":
                i = _WS.match(text, i + 1).end()
                if isinstance(container, dict):
                    key, i = _key(text, i)
                    stack[-1] = (container, key)
                break
            if i < n and text[i] == ("}" if isinstance(container, dict) else "]"):
                stack.pop()
                value, i = container, i + 1
                continue
            raise ValueError(f"expecting ',' or a closing bracket at character {i}")


def _key(text: str, i: int) -> tuple[str, int]:
    if i >= len(text) or text[i] != '"':
        raise ValueError(f"expecting a property name in double quotes at character {i}")
    key, i = scanstring(text, i + 1, True)
    i = _WS.match(text, i).end()
    if i >= len(text) or text[i] != ":":
        raise ValueError(f"expecting ':' at character {i}")
    return key, _WS.match(text, i + 1).end()

