"""A loaded trace with its tree index: what the explorer, the critics and the figures all read.

A ``TraceView`` is built once per trace and shared by every view of it, so what
is derived from it (subtree totals, the search index) is kept on it, computed on
first use through ``cached``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.models import LoadedTrace, Node, Trace, collector_paused
from core.text import shorten
from core.tree import TreeIndex

T = TypeVar("T")


@dataclass
class TraceView:
    """A trace with its tree index, ready for the explorer's views."""

    trace: Trace
    nodes: dict[str, Node]  # by id, in import order
    tree: TreeIndex
    preorder: list[str]
    position: dict[str, int]  # index in preorder; a subtree is preorder[position : position + size]
    subtree_size: dict[str, int]
    # What is derived from the view, by key, built on first use: most pages need only a few of them.
    derived: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, loaded: LoadedTrace) -> TraceView:
        # Building 100,000 nodes' index sets off repeated full garbage collections
        # that free nothing; pausing the collector makes this about a third faster.
        with collector_paused():
            nodes = {n.id: n for n in loaded.nodes}
            tree = TreeIndex.build([(n.id, n.parent_id, n.order) for n in loaded.nodes])
            preorder = tree.preorder()
            sizes = tree.subtree_sizes(preorder)
            position = dict(zip(preorder, range(len(preorder))))
            return cls(loaded.trace, nodes, tree, preorder, position, sizes)

    def cached(self, key: Hashable, build: Callable[[], T]) -> T:
        """What ``build`` makes of this view, made once and kept with it."""
        if key not in self.derived:
            self.derived[key] = build()
        return self.derived[key]

    def subtree(self, node_id: str) -> list[str]:
        """The node and its descendants, in tree order."""
        start = self.position[node_id]
        return self.preorder[start : start + self.subtree_size[node_id]]

    @property
    def root(self) -> str:
        return self.tree.root

    def children(self, node_id: str) -> list[str]:
        return self.tree.children.get(node_id, [])

    def siblings(self, node_id: str) -> list[str]:
        """The node and its siblings, in order (just the node for the root)."""
        parent_id = self.tree.parent[node_id]
        return [node_id] if parent_id is None else self.children(parent_id)

    def neighbour(self, node_id: str, step: int) -> str | None:
        """The previous (step=-1) or next (step=1) sibling, if there is one."""
        siblings = self.siblings(node_id)
        i = siblings.index(node_id) + step
        return siblings[i] if 0 <= i < len(siblings) else None

    def subtree_totals(self, measure: str) -> dict[str, float]:
        """Each node's measure summed over its subtree: 'tokens', 'cost' (in micro-dollars) or 'nodes'."""
        return self.cached(("subtree totals", measure), lambda: self._sum_over_subtrees(_OWN_MEASURES[measure]))

    def _sum_over_subtrees(self, own: Callable[[Node], float]) -> dict[str, float]:
        totals = {node_id: own(self.nodes[node_id]) for node_id in self.preorder}
        for node_id in reversed(self.preorder):
            parent_id = self.tree.parent[node_id]
            if parent_id is not None:
                totals[parent_id] += totals[node_id]
        return totals

    def label(self, node_id: str, limit: int = 60) -> str:
        """A one-line name for a node: its sub-problem, else its name, else its id."""
        node = self.nodes[node_id]
        return shorten(node.subproblem or node.name or node.id, limit)


# Cost is summed in whole micro-dollars so that a parent's total is exactly the
# sum of its children's; plotly drops segments whose float sums disagree.
_OWN_MEASURES: dict[str, Callable[[Node], float]] = {
    "tokens": lambda n: n.tokens,
    "cost": lambda n: round((n.cost or 0) * 1_000_000),
    "nodes": lambda n: 1,
}
MEASURES = tuple(_OWN_MEASURES)
