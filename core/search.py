"""Searching one trace's text, as fast as the browser needs: a few C-speed ``str.find`` calls per query.

The library-wide search runs in the store (``Store.search_nodes``); both report
a node once, on the first of ``SEARCHED_FIELDS`` that holds the query.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core.models import SEARCHED_FIELDS, NodeMatch
from core.text import snippet
from core.traceview import TraceView

_SEPARATOR = "\x00"


def search_trace(view: TraceView, query: str, limit: int = 200) -> tuple[list[NodeMatch], int]:
    """Nodes whose text contains ``query`` (any case), in tree order: the first ``limit``, and how many in all."""
    needle = query.strip().lower().replace(_SEPARATOR, "")
    if not needle:
        return [], 0
    index = view.cached("search index", lambda: [_FieldText.build(view, name) for name in SEARCHED_FIELDS])
    first_hit: dict[int, tuple[int, int]] = {}  # preorder index -> (field rank, offset in the field)
    for rank, field_text in enumerate(index):
        for at, offset in field_text.find_all(needle):
            if at not in first_hit:
                first_hit[at] = (rank, offset)
    matches = []
    for at in sorted(first_hit)[:limit]:
        rank, offset = first_hit[at]
        node = view.nodes[view.preorder[at]]
        field_name = SEARCHED_FIELDS[rank]
        text = getattr(node, field_name)
        matches.append(NodeMatch(view.trace.id, node.id, node.kind, field_name, snippet(text, offset, len(needle))))
    return matches, len(first_hit)


def nodes_in(matches: Sequence[NodeMatch]) -> set[str]:
    return {m.node_id for m in matches}


@dataclass(frozen=True)
class _FieldText:
    """One field of every node, lower-cased and joined, so a search is a few str.find calls."""

    text: str
    starts: list[int]  # where each node's text begins, in preorder

    @classmethod
    def build(cls, view: TraceView, field_name: str) -> _FieldText:
        pieces = [(getattr(view.nodes[node_id], field_name) or "").lower() for node_id in view.preorder]
        starts, at = [], 0
        for piece in pieces:
            starts.append(at)
            at += len(piece) + 1
        return cls(_SEPARATOR.join(pieces), starts)

    def find_all(self, needle: str) -> Iterator[tuple[int, int]]:
        """(node's preorder index, offset in its text) of the first occurrence in each node that has one."""
        at = self.text.find(needle)
        while at >= 0:
            index = bisect_right(self.starts, at) - 1
            yield index, at - self.starts[index]
            if index + 1 == len(self.starts):
                return
            at = self.text.find(needle, self.starts[index + 1])
