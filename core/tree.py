"""Tree algorithms over flat (id, parent_id) lists.

Everything here is iterative: a 10,000-level chain costs the same stack as a
flat list, so no trace is ever limited by Python's recursion depth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import TreeError


def check_tree(ids: Sequence[str], parent_ids: Sequence[str | None]) -> list[int]:
    """Depth of every node, or TreeError saying why the nodes are not one tree."""
    index = dict(zip(ids, range(len(ids))))
    if len(index) != len(ids):
        seen = set()
        duplicate = next(node_id for node_id in ids if node_id in seen or seen.add(node_id))
        raise TreeError(f"duplicate node id {duplicate!r}")
    missing = set(parent_ids).difference(index, (None,))
    if missing:
        i = next(i for i, parent in enumerate(parent_ids) if parent in missing)
        raise TreeError(f"node {ids[i]!r}: parent_id {parent_ids[i]!r} is not a node of this trace")
    roots = [i for i, parent in enumerate(parent_ids) if parent is None]
    if not roots:
        raise TreeError("no root node (every node has a parent, so the parents form a cycle)")
    if len(roots) > 1:
        names = ", ".join(repr(ids[i]) for i in roots[:3])
        raise TreeError(f"{len(roots)} root nodes ({names}{', …' if len(roots) > 3 else ''}); a trace has exactly one")

    children: dict[str, list[int]] = defaultdict(list)
    for i, parent in enumerate(parent_ids):
        children[parent].append(i)
    depth = [-1] * len(ids)
    depth[roots[0]] = 0
    frontier, level = [roots[0]], 0
    while frontier:
        level += 1
        following = [child for i in frontier for child in children.get(ids[i], ())]
        for child in following:
            depth[child] = level
        frontier = following
    if len(ids) - 1 > sum(1 for d in depth if d > 0):
        raise TreeError(f"node {ids[depth.index(-1)]!r} is part of a parent cycle")
    return depth


@dataclass(frozen=True)
class TreeIndex:
    """Parent/children lookups for one trace, built once and shared by views."""

    root: str
    parent: dict[str, str | None]
    children: dict[str, list[str]]  # in sibling order
    depth: dict[str, int]

    @classmethod
    def build(cls, rows: Sequence[tuple[str, str | None, int]]) -> TreeIndex:
        """From (id, parent_id, order) rows of a valid tree."""
        parent = {node_id: parent_id for node_id, parent_id, _ in rows}
        children: dict[str, list[str]] = defaultdict(list)
        for node_id, parent_id, _ in sorted(rows, key=lambda r: r[2]):
            if parent_id is not None:
                children[parent_id].append(node_id)
        root = next(node_id for node_id, parent_id, _ in rows if parent_id is None)
        depth = {root: 0}
        for node_id in _preorder(root, children):
            for child in children.get(node_id, ()):
                depth[child] = depth[node_id] + 1
        return cls(root=root, parent=parent, children=dict(children), depth=depth)

    def preorder(self, start: str | None = None) -> list[str]:
        return _preorder(start or self.root, self.children)

    def ancestors(self, node_id: str) -> list[str]:
        """From the root down to, not including, node_id."""
        chain = []
        current = self.parent.get(node_id)
        while current is not None:
            chain.append(current)
            current = self.parent[current]
        return chain[::-1]

    def subtree_sizes(self) -> dict[str, int]:
        sizes = dict.fromkeys(self.parent, 1)
        for node_id in reversed(self.preorder()):
            parent_id = self.parent[node_id]
            if parent_id is not None:
                sizes[parent_id] += sizes[node_id]
        return sizes


def _preorder(start: str, children: dict[str, list[str]]) -> list[str]:
    order, stack = [], [start]
    while stack:
        node_id = stack.pop()
        order.append(node_id)
        stack.extend(reversed(children.get(node_id, ())))
    return order
