"""Checkers: score a model's answer to a task in [0, 1], with a sentence a person can read.

Model output is messy (small local models above all): chatty text around the answer, JSON, code
fences, lists, ``<think>`` blocks. Every checker first reads the answer out of it:

1. ``<think>...</think>`` reasoning is dropped (a truncated, unclosed one too);
2. a JSON value (the whole answer, a fenced block, or the first object or list in the text) gives
   its ``answer`` (``final_answer``, ``result``, ``value``, ``items``...) field, or itself;
3. the text after the last "Answer:" / "Final answer:" / "the answer is" marker;
4. the whole text, with code fences taken off.

Then ``exact``, ``set``, ``number`` and ``regex`` each read those candidates their own way
(docs/tasks.md gives examples of each).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.tasks.models import ExactChecker, NumberChecker, RegexChecker, SetChecker, Task
from core.text import shorten

# Longer answers are cut to their head and tail before checking: it bounds the time a pattern takes.
MAX_ANSWER_CHARS = 100_000
# An unmatched line of a set answer longer than this many words is commentary, not a wrong item.
COMMENTARY_WORDS = 12


@dataclass(frozen=True)
class Score:
    """How right an answer is: ``score`` in [0, 1] and why, in one sentence."""

    score: float
    explanation: str
    extracted: Any = None  # what the checker read out of the answer (a string, a list of items, a number)
    details: dict[str, Any] = field(default_factory=dict)  # e.g. precision, recall and f1 for a set


def check(task: Task, answer: str) -> Score:
    """Score ``answer`` (a model's raw output) against the task's expected answer with its checker."""
    return check_answer(task.checker, task.expected, answer)


def check_answer(checker: Any, expected: Any, answer: str) -> Score:
    answer = _clip(answer if isinstance(answer, str) else json.dumps(answer))
    if isinstance(checker, ExactChecker):
        return _exact(checker, expected, answer)
    if isinstance(checker, SetChecker):
        return _set(checker, expected, answer)
    if isinstance(checker, NumberChecker):
        return _number(checker, expected, answer)
    if isinstance(checker, RegexChecker):
        return _regex(checker, expected, answer)
    raise TypeError(f"not a checker: {checker!r}")


def expected_problem(checker: Any, expected: Any) -> str | None:
    """Why ``expected`` cannot be this checker's answer, or None if it can (the loader names the line)."""
    if isinstance(checker, NumberChecker):
        if isinstance(expected, bool) or not isinstance(expected, (int, float)):
            return f"a number checker needs a number, got {_kind_of(expected)}"
        return None if math.isfinite(expected) else "must be a finite number"
    if isinstance(checker, SetChecker):
        if not isinstance(expected, list) or not all(isinstance(item, str) for item in expected):
            return f"a set checker needs a list of strings, got {_kind_of(expected)}"
        if not expected:
            return "a set checker needs at least one item"
        seen: dict[str, str] = {}
        for item in expected:
            key = normalise(item)
            if not key:
                return f"item {item!r} is blank once normalised"
            if key in seen:
                return f"items {seen[key]!r} and {item!r} are the same once normalised"
            seen[key] = item
        unknown = [name for name in checker.aliases if name not in expected]
        return f"checker.aliases names {unknown[0]!r}, which is not an expected item" if unknown else None
    if not isinstance(expected, str):
        return f"a{'n' if checker.kind == 'exact' else ''} {checker.kind} checker needs a string, got {_kind_of(expected)}"
    if not normalise(expected):
        return "is blank once normalised"
    if isinstance(checker, RegexChecker) and _regex(checker, expected, expected).score < 1:
        return f"{shorten(expected, 60)!r} does not match the checker's own pattern ({checker.mode})"
    return None


def as_answer(task: Task) -> str:
    """The expected answer written out plainly, as a model that got it right might."""
    if isinstance(task.checker, SetChecker):
        return "\n".join(f"- {item}" for item in task.expected)
    if isinstance(task.expected, float) and task.expected.is_integer():
        return str(int(task.expected))
    return str(task.expected)


def _kind_of(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}
    shown = shorten(json.dumps(value), 40)
    return f"{names.get(type(value), type(value).__name__)} ({shown})"


# ------------------------------------------------------------- reading answers


_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S | re.I)
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\n?(.*?)(?:```|\Z)", re.S)
_MARKER = re.compile(r"(?i)\b(?:final\s+answer|answer)\b(?:\s*is\b\s*:?|\s*:|\s*=)[ \t]*")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
ANSWER_KEYS = ("answer", "final_answer", "finalanswer", "final", "result", "value", "items", "output", "response")


def _clip(answer: str) -> str:
    if len(answer) <= MAX_ANSWER_CHARS:
        return answer
    half = MAX_ANSWER_CHARS // 2
    return answer[:half] + "\n" + answer[-half:]


def _cleaned(answer: str) -> str:
    """The answer without reasoning blocks; text after a stray ``</think>`` only."""
    answer = _THINK.sub("", answer)
    if "</think>" in answer.lower():
        answer = answer[answer.lower().rindex("</think>") + len("</think>"):]
    return answer.strip()


def _unfenced(text: str) -> str:
    return _FENCE.sub(lambda m: "\n" + m.group(2) + "\n", text).strip()


def _json_values(text: str) -> Iterator[Any]:
    """JSON values the answer holds: the whole, each fenced block, then the first object or list in the text."""
    pieces = [text] + [m.group(2) for m in _FENCE.finditer(text)]
    for piece in pieces:
        piece = piece.strip()
        if piece[:1] in ("{", "[", '"'):
            try:
                yield json.loads(piece)
                continue
            except (json.JSONDecodeError, RecursionError):
                pass
    decoder = json.JSONDecoder()
    for tries, match in enumerate(re.finditer(r"[{\[]", text)):
        if tries >= 20:
            break
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(value, (dict, list)) and value:
            yield value
            break


def _answer_field(value: Any) -> Any:
    """A JSON answer's answer: its answer-like field, its only field, or the value itself."""
    if isinstance(value, dict):
        lowered = {str(k).lower().replace("-", "_").replace(" ", "_"): v for k, v in value.items()}
        for key in ANSWER_KEYS:
            if key in lowered:
                return _answer_field(lowered[key]) if isinstance(lowered[key], dict) else lowered[key]
        if len(value) == 1:
            return next(iter(value.values()))
        return None
    return value


@dataclass
class _Read:
    """The candidates an answer offers, best first."""

    json: list[Any]  # answer fields of the JSON values found
    marked: str | None  # text after the last answer marker
    text: str  # the whole, unfenced

    def texts(self) -> list[str]:
        out = [_as_text(v) for v in self.json if v is not None]
        if self.marked:
            out.append(self.marked)
        out.append(self.text)
        return [t for t in out if t.strip()]


def _read(answer: str) -> _Read:
    cleaned = _cleaned(answer)
    found = []
    for value in _json_values(cleaned):
        field_value = _answer_field(value)
        found.append(value if field_value is None else field_value)  # an object without one: its lists may be the answer
    text = _unfenced(cleaned)
    markers = list(_MARKER.finditer(text))
    marked = text[markers[-1].end():].strip() if markers else None
    return _Read([v for v in found if v not in (None, "", [], {})], marked or None, text)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_as_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(_as_text(v) for v in value.values())
    return json.dumps(value)


_SURROUNDING = " \t\r\n.,;:!?\"'`*_()[]{}<>«»“”‘’„·•–—-"
_LIST_MARK = re.compile(r"^\s*(?:[-*•·+]|\d{1,3}[.)]|\(?[a-z]\)|\[[ x]\])\s+", re.I)


def normalise(text: str) -> str:
    """Case, width and whitespace folded; surrounding punctuation, quotes and markdown emphasis off."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    text = _LIST_MARK.sub("", text)
    text = re.sub(r"\s+", " ", text).strip(_SURROUNDING)
    return re.sub(r"\s+", " ", text).strip()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------- exact


def _exact(checker: ExactChecker, expected: str, answer: str) -> Score:
    wanted = {normalise(expected), *(normalise(a) for a in checker.aliases)}
    read = _read(answer)
    seen = []
    for text in read.texts():
        lines = _lines(text)
        bold = {m.group(1) or m.group(2) for m in _BOLD.finditer(text)}
        options = [text, *(lines[:1] + lines[-1:] if len(lines) > 1 else []), *(bold if len(bold) == 1 else [])]
        for option in options:
            key = normalise(option)
            if key in wanted:
                return Score(1.0, f"right: {shorten(option.strip(), 80)!r}", option.strip())
            seen.append(option)
    shown = shorten(normalise(seen[0]) if seen else "", 80)
    return Score(0.0, f"expected {expected!r}; the answer reads {shown!r}" if shown else f"expected {expected!r}; the answer is empty",
                 seen[0].strip() if seen else None)


# --------------------------------------------------------------------- set


def _item_pattern(item: str) -> re.Pattern[str]:
    """An expected item anywhere in a normalised answer item, as whole words and whole numbers (4.4 is not in 14.4 or 4.4.1)."""
    return re.compile(r"(?<![\w])(?<![\w][.,])" + re.escape(item) + r"(?![\w])(?![.,][\w])")


def _answer_items(read: _Read) -> list[str]:
    for value in read.json:
        if isinstance(value, list):
            return [_as_text(v) for v in value if _as_text(v).strip()]
        if isinstance(value, dict):
            lists = [v for v in value.values() if isinstance(v, list)]
            if lists:
                return [_as_text(v) for v in lists[0] if _as_text(v).strip()]
    text = read.marked or read.text
    lines = _lines(text)
    listed = [line for line in lines if _LIST_MARK.match(line)]
    if len(listed) >= 1 and (len(listed) > 1 or len(lines) > 1):
        lines = listed
    items = []
    for line in lines:
        line = _LIST_MARK.sub("", line)
        items.extend(part for part in re.split(r"\s*[,;]\s*|\s+(?:and|&)\s+", line) if part.strip(_SURROUNDING))
    return items


def _set(checker: SetChecker, expected: list[str], answer: str) -> Score:
    read = _read(answer)
    items = [normalise(item) for item in _answer_items(read)]
    spellings = {item: [_item_pattern(normalise(s)) for s in [item, *checker.aliases.get(item, [])]] for item in expected}
    found: set[str] = set()
    matched = 0
    extras = []
    for item in items:
        hits = {name for name, patterns in spellings.items() if any(p.search(item) for p in patterns)}
        if hits:
            found |= hits
            matched += 1
        elif len(item.split()) <= COMMENTARY_WORDS and item:
            extras.append(item)
    counted = matched + len(extras)
    precision = matched / counted if counted else 0.0
    recall = len(found) / len(expected)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    details = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
               "found": [e for e in expected if e in found], "missing": [e for e in expected if e not in found],
               "extra": extras}
    score = {"f1": f1, "recall": recall, "precision": precision}[checker.score]
    parts = [f"{len(found)} of {len(expected)} items found"]
    if details["missing"]:
        parts.append("missing: " + ", ".join(shorten(m, 40) for m in details["missing"][:5])
                     + (f" and {len(details['missing']) - 5} more" if len(details["missing"]) > 5 else ""))
    if extras:
        parts.append(f"{len(extras)} not expected: " + ", ".join(repr(shorten(x, 30)) for x in extras[:3])
                     + (" ..." if len(extras) > 3 else ""))
    parts.append(f"{checker.score} {score:.2f}")
    return Score(round(score, 4), "; ".join(parts), [item for item in items if item], details)


# ------------------------------------------------------------------ number


_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty".split())}
_SCALES = {"%": 1, "percent": 1, "k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "mm": 1e6, "million": 1e6,
           "b": 1e9, "bn": 1e9, "billion": 1e9}
_NUMERAL = re.compile(
    r"(?P<sign>[-+])?(?P<cur>[$€£¥])?(?P<sign2>[-+])?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    r"(?P<suffix>%|[a-z]{1,12})?"
)
_STRIP = "()[]{}<>\"'`*_,;:!?.…~≈"


@dataclass(frozen=True)
class _Number:
    value: float  # as written
    scaled: float  # with its scale word applied ($31M is 31,000,000)
    unit: str | None  # the word after it (or its suffix), lower case
    text: str


def numbers_in(text: str) -> list[_Number]:
    """Every number in free text, in order: 1,234.5, -3, $31M, 12.5%, 47min, 'forty'... not Q2, v2.14.0, 08:47 or 9f3c2ab."""
    text = unicodedata.normalize("NFKC", text).replace("−", "-").replace("–", "-")
    tokens = re.findall(r"\S+", text)
    found = []
    for i, raw in enumerate(tokens):
        token = raw.strip(_STRIP).lower()
        following = tokens[i + 1].strip(_STRIP).lower() if i + 1 < len(tokens) else None
        match = _NUMERAL.fullmatch(token)
        if match:
            value = float(match["int"].replace(",", "") + (match["frac"] or ""))
            if "-" in ((match["sign"] or "") + (match["sign2"] or "")):
                value = -value
            suffix = match["suffix"]
            if suffix and suffix not in _SCALES and not suffix.isalpha():
                continue
            unit = suffix or following
            scale = _SCALES.get(suffix or "", None)
            if scale is None and following in _SCALES and following not in ("m", "b", "k"):
                scale = _SCALES[following]
            found.append(_Number(value, value * (scale or 1), unit, raw))
        elif token in _WORDS:
            found.append(_Number(float(_WORDS[token]), float(_WORDS[token]), following, raw))
    digits = [n for n in found if not n.text.strip(_STRIP).lower() in _WORDS]
    return digits or found


def _pick_number(checker: NumberChecker, read: _Read) -> _Number | None:
    units = [normalise(u) for u in checker.units]
    for value in read.json:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _Number(float(value), float(value), None, json.dumps(value))
    candidates = read.texts()
    bold = [m.group(1) or m.group(2) for m in _BOLD.finditer(read.text)]
    if bold:
        candidates.insert(len(candidates) - 1, "\n".join(bold))
    for text in candidates:
        numbers = numbers_in(text)
        if not numbers:
            continue
        if units:
            with_unit = [n for n in numbers if n.unit and any(n.unit.startswith(u) or u.startswith(n.unit) for u in units)]
            if with_unit:
                return with_unit[0]
        return numbers[0]
    return None


def _within(checker: NumberChecker, value: float, expected: float) -> bool:
    diff = abs(value - expected)
    if checker.abs_tol is None and checker.rel_tol is None:
        return diff <= 1e-9 * max(1.0, abs(expected))
    return (checker.abs_tol is not None and diff <= checker.abs_tol + 1e-12) or (
        checker.rel_tol is not None and diff <= checker.rel_tol * abs(expected) + 1e-12)


def _tolerance(checker: NumberChecker, expected: float) -> str:
    parts = []
    if checker.abs_tol:
        parts.append(f"± {_fmt(checker.abs_tol)}")
    if checker.rel_tol:
        parts.append(f"± {checker.rel_tol:.2%}".replace(".00%", "%"))
    return f"{_fmt(expected)} {' or '.join(parts)}".strip()


def _fmt(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.6g}"


def _number(checker: NumberChecker, expected: float, answer: str) -> Score:
    number = _pick_number(checker, _read(answer))
    wanted = _tolerance(checker, expected)
    if number is None:
        return Score(0.0, f"no number found in the answer (expected {wanted})")
    for value in dict.fromkeys((number.value, number.scaled)):
        if _within(checker, value, expected):
            return Score(1.0, f"right: {_fmt(value)} (expected {wanted})", value)
    return Score(0.0, f"read {_fmt(number.value)} from {shorten(number.text, 30)!r}; expected {wanted} "
                      f"(off by {_fmt(abs(number.value - expected))})", number.value)


# ------------------------------------------------------------------- regex


def _regex(checker: RegexChecker, expected: str, answer: str) -> Score:
    pattern = checker.compiled()
    read = _read(answer)
    if checker.mode == "search":
        texts = [_cleaned(answer), *read.texts()]
        for text in texts:
            match = pattern.search(text)
            if match:
                return Score(1.0, f"matches /{shorten(checker.pattern, 60)}/: {shorten(match.group(0), 60)!r}", match.group(0))
    else:
        for text in read.texts():
            lines = _lines(text)
            for option in [text, *(lines if len(lines) > 1 else [])]:
                for form in dict.fromkeys((option.strip(), option.strip(_SURROUNDING))):
                    if pattern.fullmatch(form):
                        return Score(1.0, f"matches /{shorten(checker.pattern, 60)}/ whole: {shorten(form, 60)!r}", form)
    shown = shorten(read.marked or read.text, 60)
    return Score(0.0, f"no {'part' if checker.mode == 'search' else 'line'} of the answer matches "
                      f"/{shorten(checker.pattern, 60)}/ (it reads {shown!r})")
