"""Text helpers every part of Trellis shares: cutting text to one line, snippets, and the words that count."""

from __future__ import annotations

import re

# Most characters of one text a page sends to the browser; the rest is a download. Everything else
# Trellis shows of a trace is cut much shorter (shorten), so no message grows with the size of a field.
SHOWN_CHARS = 20_000


def shorten(text: object, limit: int = 80) -> str:
    """``text`` on one line, each run of whitespace one space, cut to at most ``limit`` characters with "…"
    at the end when cut. None is the empty string."""
    if text is None:
        return ""
    text = str(text)
    # Only the start can be shown: a 60,000-character context costs no more than a short one.
    line = _WHITESPACE.sub(" ", text[: limit * 4])
    if len(line) <= limit and len(text) <= limit * 4:
        return line
    return line[: limit - 1] + "…"


_WHITESPACE = re.compile(r"\s+")


def snippet(text: str, at: int, length: int, around: int = 50) -> str:
    """One line of ``text`` around the ``length`` characters found at ``at``, with "…" where it was cut."""
    start, end = max(0, at - around), min(len(text), at + length + around)
    return ("…" if start else "") + " ".join(text[start:end].split()) + ("…" if end < len(text) else "")


def short_number(value: float) -> str:
    """1234 as 1.2k, 5_600_000 as 5.6M: a number that fits a badge or a metric."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:g}"


# Words too common in task descriptions and trace text to tell one step, scaffold or summary from another.
STOPWORDS = frozenset(
    "the and for with from into that this then than each its their which what when where who whom all any are was "
    "were been being has have had not but per via our your you they them use using used can will should must may "
    "task tasks like given find make how why did does done about after before also only other some such more most "
    "very just over under above again against there these those while would could whose between because below "
    "during section sections".split()
)

# Plural and verb endings a word loses before it is compared, so "clauses" meets "clause"; only words longer
# than STEM_MIN_LENGTH lose them, so short words ("has", "bus") stay whole. The store's SQL uses the same rule.
STEM_ENDING = "(ies|es|s|ing|ed)$"
STEM_MIN_LENGTH = 5


def stem(word: str) -> str:
    return re.sub(STEM_ENDING, "", word) if len(word) > STEM_MIN_LENGTH else word


_FENCED = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def json_object_text(answer: str) -> str:
    """The JSON object in a model's answer: inside a Markdown fence, or from its first "{" to its last "}",
    since small models wrap their JSON in prose; the answer as it is when it has neither."""
    text = answer.strip()
    fenced = _FENCED.search(text)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if 0 <= start < end else text
