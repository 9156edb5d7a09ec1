"""Tree algorithms over flat (id, parent_id) lists.

Everything here is iterative: a 10,000-level chain costs the same stack as a
flat list, so no trace is ever limited by Python's recursion depth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.errors import TreeError

Column = Sequence[str | None] | pa.Array | pa.ChunkedArray


def check_tree(ids: Column, parent_ids: Column) -> np.ndarray:
    """Depth of every node, or TreeError saying why the nodes are not one tree.

    Works on whole columns (Arrow and NumPy) rather than node by node: this
    is the hot path of importing a million-node trace. Breadth-first, one
    level per step, so a 10,000-level chain needs no recursion either.
    """
    ids, parent_ids = _strings(ids), _strings(parent_ids)
    n = len(ids)
    if ids.null_count:
        raise TreeError(f"node {pc.index(ids.is_null(), True).as_py()} has no id")
    # One hash of the ids answers both "which id came first" and "which node is
    # each parent"; -1 where a parent id is null or not an id at all.
    lookup = pc.index_in(pa.chunked_array(ids.chunks + parent_ids.chunks), value_set=ids).fill_null(-1).to_numpy()
    first_seen, parent = lookup[:n], lookup[n:].astype(np.int64)
    repeated = np.flatnonzero(first_seen != np.arange(n))
    if repeated.size:
        raise TreeError(f"duplicate node id {ids[int(repeated[0])].as_py()!r}")
    missing = np.flatnonzero((parent < 0) & parent_ids.is_valid().to_numpy(zero_copy_only=False))
    if missing.size:
        i = int(missing[0])
        raise TreeError(f"node {ids[i].as_py()!r}: parent_id {parent_ids[i].as_py()!r} is not a node of this trace")
    roots = np.flatnonzero(parent < 0)
    if len(roots) == 0:
        raise TreeError("no root node (every node has a parent, so the parents form a cycle)")
    if len(roots) > 1:
        names = ", ".join(repr(ids[int(i)].as_py()) for i in roots[:3])
        raise TreeError(f"{len(roots)} root nodes ({names}{', …' if len(roots) > 3 else ''}); a trace has exactly one")

    # Node indices grouped by parent: the root first, then node 0's children, node 1's, ...
    by_parent = np.argsort(parent, kind="stable")
    child_count = np.bincount(parent + 1, minlength=n + 1)[1:]
    first_child = 1 + np.cumsum(child_count) - child_count
    depth = np.full(n, -1, dtype=np.int64)
    frontier, level = roots, 0
    while frontier.size:
        depth[frontier] = level
        counts = child_count[frontier]
        total = int(counts.sum())
        if total == 0:
            break
        # Positions of all the frontier's children in by_parent, range by range.
        offsets = np.repeat(first_child[frontier] - np.cumsum(counts) + counts, counts)
        frontier = by_parent[offsets + np.arange(total)]
        level += 1
    unreached = np.flatnonzero(depth < 0)
    if unreached.size:
        raise TreeError(f"node {ids[int(unreached[0])].as_py()!r} is part of a parent cycle")
    return depth


def _strings(column: Column) -> pa.ChunkedArray:
    # Chunks as they come: joining a million-row column into one array costs a copy.
    if isinstance(column, pa.ChunkedArray):
        return column.cast(pa.string())
    return pa.chunked_array([pa.array(column, pa.string())])


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

    def subtree_sizes(self, preorder: list[str] | None = None) -> dict[str, int]:
        """Nodes in each subtree, itself included; pass the preorder if you already have it."""
        sizes = dict.fromkeys(self.parent, 1)
        for node_id in reversed(preorder or self.preorder()):
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
