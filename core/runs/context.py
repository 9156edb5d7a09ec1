"""Cutting a task's context into pieces a small model's window holds, and picking the pieces a step needs."""

from __future__ import annotations

import re

from core.text import STOPWORDS, stem

# Characters of context in one call: about 1,500 tokens, so a 2,048-token window keeps room for the
# instruction and the answer.
WINDOW_CHARS = 6_000
_WORD = re.compile(r"[a-z][a-z0-9]{2,}")


def pieces(text: str, size: int = WINDOW_CHARS) -> list[str]:
    """``text`` in consecutive pieces of at most ``size`` characters, cut at a paragraph or line break
    where there is one in the piece's second half, so a clause or a log line stays whole."""
    result, start = [], 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = max(text.rfind("\n\n", start + size // 2, end), text.rfind("\n", start + size // 2, end))
            if cut > start:
                end = cut + 1
        result.append(text[start:end])
        start = end
    return result


def words(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


def relevant_slice(text: str, query: str, size: int = WINDOW_CHARS) -> str:
    """The pieces of ``text`` sharing the most words with ``query``, in document order, within ``size``
    characters: what a scaffold step's "carry" hint asks for, as well as words can say it."""
    if len(text) <= size:
        return text
    wanted = words(query)
    parts = pieces(text, size // 3)
    ranked = sorted(range(len(parts)), key=lambda i: (-len(wanted & words(parts[i])), i))
    chosen, room = [], size
    for i in ranked:
        if len(parts[i]) <= room:
            chosen.append(i)
            room -= len(parts[i])
    return "".join(parts[i] for i in sorted(chosen))
