"""What the trace explorer shows, computed from one trace view: the part of the tree worth drawing,
the whole trace's statistics, and how a student's tree differs from its teacher's.

Nothing here draws: ``core.dot`` and ``core.figures`` do that.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from core.align import Alignment
from core.models import Node, TraceSummary
from core.traceview import TraceView

# ------------------------------------------------------------ tree window


@dataclass(frozen=True)
class WindowEntry:
    """One box in the drawn tree: a node, or a stand-in for nodes left out.

    ``hidden`` counts the nodes an entry hides: for a node, its descendants
    when none of its children are drawn ("+N hidden"); for a stand-in, all
    the nodes it stands for.
    """

    key: str | tuple  # a node id, or a tuple for a stand-in (so it never clashes with an id)
    parent_key: str | tuple | None
    node_id: str | None  # None for a stand-in
    hidden: int = 0
    note: str = ""  # for a stand-in: what it stands for

    @property
    def is_node(self) -> bool:
        return self.node_id is not None


def tree_window(
    view: TraceView,
    selected: str,
    *,
    depth: int = 2,
    expanded: Iterable[str] = (),
    collapsed: Iterable[str] = (),
    budget: int = 300,
    max_siblings: int = 10,
    max_path: int = 40,
) -> list[WindowEntry]:
    """The part of the tree worth drawing around the selected node, parents before children.

    Shown, in order of priority while ``budget`` entries last: the path from
    the root (its middle elided when longer than ``max_path``), siblings
    around each node on the path (fewer further up), the selected node's
    descendants ``depth`` levels down, and the children of ``expanded``
    nodes. ``collapsed`` nodes show no children unless the path runs through
    them. Everything left out is counted on a node ("+N hidden") or on a
    stand-in ("+N more").
    """
    collapsed = set(collapsed)
    path = [*view.tree.ancestors(selected), selected]
    shown: set[str] = set(path)
    # Entries drawn so far: each path node may also need a stand-in for the siblings before and after it.
    cost = 3 * len(path)

    # A very deep selection: keep the top and the bottom of the path.
    elided: tuple | None = None
    if len(path) > max_path:
        keep_top = 3
        first_kept_below = len(path) - (max_path - keep_top - 1)
        for node_id in path[keep_top:first_kept_below]:
            shown.discard(node_id)
        elided = ("elided", path[keep_top - 1], path[first_kept_below])
        cost = 3 * max_path
    path_children = dict(pairwise(path))
    elided_parent = elided[1] if elided else None

    def room(n: int) -> bool:
        return cost + n <= budget

    # Siblings around the path, most around the selection and fewer further up.
    for distance, node_id in enumerate(reversed(path)):
        parent_id = view.tree.parent[node_id]
        if parent_id is None or node_id not in shown or parent_id not in shown or parent_id == elided_parent:
            continue
        width = max_siblings if distance == 0 else max(0, max_siblings // (2 * distance))
        siblings = view.children(parent_id)
        start = max(0, min(siblings.index(node_id) - width // 2, len(siblings) - width))
        picked = [s for s in siblings[start : start + width] if s not in shown]
        if picked and room(len(picked)):
            shown.update(picked)
            cost += len(picked)

    def show_children(node_id: str) -> list[str]:
        nonlocal cost
        children = [c for c in view.children(node_id)[:max_siblings] if c not in shown]
        if not children or not room(len(children) + 1):
            return []
        shown.update(children)
        cost += len(children) + 1
        return children

    # The selection's descendants, level by level.
    level = [selected]
    for _ in range(depth):
        following = []
        for node_id in level:
            if node_id in collapsed:
                continue
            show_children(node_id)
            following.extend(c for c in view.children(node_id) if c in shown)
        level = following

    # Children of expanded nodes that are shown, and of their children that are expanded too.
    expanded = set(expanded)
    queue = sorted((node_id for node_id in expanded if node_id in shown), key=view.position.__getitem__)
    while queue:
        node_id = queue.pop(0)
        if node_id != elided_parent:
            queue.extend(c for c in show_children(node_id) if c in expanded)

    return _window_entries(view, shown, path_children, elided, collapsed)


def _window_entries(
    view: TraceView, shown: set[str], path_children: dict[str, str], elided: tuple | None, collapsed: set[str]
) -> list[WindowEntry]:
    """Lay the shown nodes out in preorder, with a stand-in for each run of left-out children."""
    entries: list[WindowEntry] = []
    # Items are (node id, parent key) to expand, or stand-ins ready to emit.
    stack: list[tuple[str, str | tuple | None] | WindowEntry] = [(view.root, None)]
    while stack:
        item = stack.pop()
        if isinstance(item, WindowEntry):
            entries.append(item)
            continue
        node_id, parent_key = item
        if elided and node_id == elided[1]:
            below = elided[2]
            hidden = view.subtree_size[node_id] - 1 - view.subtree_size[below]
            levels = view.tree.depth[below] - view.tree.depth[node_id] - 1
            entries.append(WindowEntry(node_id, parent_key, node_id))
            entries.append(WindowEntry(elided, node_id, None, hidden, f"… {levels:,} levels, {hidden:,} nodes …"))
            stack.append((below, elided))
            continue
        children = view.children(node_id)
        drawn = {c for c in children if c in shown and (node_id not in collapsed or c == path_children.get(node_id))}
        hidden = view.subtree_size[node_id] - 1 if children and not drawn else 0
        entries.append(WindowEntry(node_id, parent_key, node_id, hidden))
        if not drawn:
            continue
        following: list[tuple[str, str] | WindowEntry] = []
        left_out: list[str] = []
        for child in [*children, None]:
            if child is not None and child not in drawn:
                left_out.append(child)
                continue
            if left_out:
                following.append(_stand_in(view, node_id, left_out))
                left_out = []
            if child is not None:
                following.append((child, node_id))
        stack.extend(reversed(following))  # the stack pops last-in first
    return entries


def _stand_in(view: TraceView, parent_id: str, left_out: list[str]) -> WindowEntry:
    count = sum(view.subtree_size[c] for c in left_out)
    note = f"+{len(left_out):,} more" + (f" ({count:,} nodes)" if count != len(left_out) else "")
    return WindowEntry(("more", parent_id, left_out[0]), parent_id, None, count, note)


def neighbourhood(view: TraceView, selected: str, *, depth: int = 1, siblings: int = 4, children: int = 6) -> list[WindowEntry]:
    """A small picture around the selected node: its parent, a few siblings on each side, and ``depth``
    levels of its children (the first ``children`` of each), parents before children.

    Few enough boxes that the picture can be drawn at a readable size; the tree lists everything else.
    Left-out siblings and children are counted on a stand-in ("+N more"), a node's undrawn subtree on
    the node ("+N hidden").
    """
    parent_id = view.tree.parent[selected]
    shown = {selected}
    if parent_id is not None:
        shown.add(parent_id)
        around = view.siblings(selected)
        at = around.index(selected)
        shown.update(around[max(0, at - siblings) : at + siblings + 1])
    level = [selected]
    for _ in range(depth):
        level = [c for node_id in level for c in view.children(node_id)[:children]]
        shown.update(level)
    top = parent_id if parent_id is not None else selected
    entries = _window_entries(view, shown | set(view.tree.ancestors(top)), {}, None, set())
    # Keep the part from ``top`` down; ancestors above it are the inspector's path line.
    keep = {top}
    kept = []
    for entry in entries:
        if entry.key == top or entry.parent_key in keep:
            keep.add(entry.key)
            kept.append(entry if entry.key != top else WindowEntry(entry.key, None, entry.node_id, entry.hidden))
    return kept


# ------------------------------------------------------------- statistics


@dataclass(frozen=True)
class TraceStats:
    nodes: int
    depth: int  # deepest level; the root is level 0
    leaves: int
    mean_branching: float  # children per node that has children
    max_branching: int
    nodes_per_kind: dict[str, int]
    nodes_per_level: list[int]
    tokens_per_level: list[int]
    tokens: int
    cost: float | None
    failed: list[str]  # node ids with status error
    depth_limit_hits: int
    depth_limit_rule: str  # how depth_limit_hits was counted, in words
    started: datetime | None
    ended: datetime | None


def trace_stats(view: TraceView) -> TraceStats:
    depth_of = view.tree.depth
    deepest = max(depth_of.values())
    nodes_per_level = [0] * (deepest + 1)
    tokens_per_level = [0] * (deepest + 1)
    for node_id, level in depth_of.items():
        nodes_per_level[level] += 1
        tokens_per_level[level] += view.nodes[node_id].tokens
    fanouts = [len(c) for c in view.tree.children.values() if c]
    nodes = view.nodes.values()
    costs = [n.cost for n in nodes if n.cost is not None]
    starts = [n.start_time for n in nodes if n.start_time is not None]
    ends = [n.end_time for n in nodes if n.end_time is not None]
    hits, rule = depth_limit_hits(view)
    return TraceStats(
        nodes=len(view.nodes),
        depth=deepest,
        leaves=len(view.nodes) - len(fanouts),
        mean_branching=sum(fanouts) / len(fanouts) if fanouts else 0.0,
        max_branching=max(fanouts, default=0),
        nodes_per_kind=dict(Counter(n.kind for n in nodes).most_common()),
        nodes_per_level=nodes_per_level,
        tokens_per_level=tokens_per_level,
        tokens=sum(tokens_per_level),
        cost=sum(costs) if costs else None,
        failed=[n.id for n in nodes if n.status == "error"],
        depth_limit_hits=hits,
        depth_limit_rule=rule,
        started=min(starts, default=None),
        ended=max(ends, default=None),
    )


# An error that says the call ran into the recursion limit, in the words runtimes use for it.
_DEPTH_LIMIT_ERROR = re.compile(r"depth[ _-]?limit|recursion limit|max(imum)?[ _-]?(recursion[ _-]?)?depth", re.IGNORECASE)


def hit_depth_limit(node: Node) -> bool:
    """The node ran into the recursion depth limit: its importer marked it, or its error says so."""
    return bool(node.metadata.get("depth_limit_hit")) or bool(node.error and _DEPTH_LIMIT_ERROR.search(node.error))


def depth_limit_hits(view: TraceView) -> tuple[int, str]:
    """How many nodes ran into the recursion depth limit, and how that was decided.

    A node hit the limit when its importer marked it (``metadata.depth_limit_hit``), its error says so
    ("maximum recursion depth exceeded", "depth limit reached"), or it sits at the limit the trace records
    (``metadata.max_depth``). Being at the deepest level is no sign of it: most traces simply end there.
    """
    hits = sum(1 for n in view.nodes.values() if hit_depth_limit(n))
    if hits:
        return hits, "nodes marked depth_limit_hit or whose error says they hit a depth limit"
    limit = view.trace.metadata.get("max_depth")
    if isinstance(limit, int) and not isinstance(limit, bool):
        at_limit = sum(1 for d in view.tree.depth.values() if d >= limit)
        return at_limit, f"nodes at the trace's recorded max_depth ({limit}), where no call may recurse further"
    return 0, "no node is marked as having hit a depth limit, nor failed on one"


# ------------------------------------------------------------- comparison


@dataclass(frozen=True)
class MatchedPair:
    number: int  # 1-based, in the left tree's order; drawn on both trees
    left: str
    right: str
    score: float
    depth_shift: int  # right depth minus left depth
    token_change: int  # right tokens minus left tokens (the nodes' own)
    cost_change: float | None


@dataclass(frozen=True)
class Comparison:
    pairs: list[MatchedPair]
    left_only: list[str]
    right_only: list[str]
    depth_shifts: int  # matched pairs at different depths
    tokens: tuple[int, int]
    cost: tuple[float | None, float | None]


def compare(left: TraceView, right: TraceView, alignment: Alignment) -> Comparison:
    """Per matched pair, how the right (typically the student) differs from the left (the teacher)."""
    pairs = []
    for number, match in enumerate(alignment.matches, start=1):
        a, b = left.nodes[match.left], right.nodes[match.right]
        cost_change = None if a.cost is None and b.cost is None else (b.cost or 0) - (a.cost or 0)
        pairs.append(
            MatchedPair(
                number, a.id, b.id, match.score, right.tree.depth[b.id] - left.tree.depth[a.id], b.tokens - a.tokens,
                cost_change,
            )
        )

    def total_cost(view: TraceView) -> float | None:
        costs = [n.cost for n in view.nodes.values() if n.cost is not None]
        return sum(costs) if costs else None

    return Comparison(
        pairs=pairs,
        left_only=alignment.left_only,
        right_only=alignment.right_only,
        depth_shifts=sum(1 for p in pairs if p.depth_shift),
        tokens=(sum(n.tokens for n in left.nodes.values()), sum(n.tokens for n in right.nodes.values())),
        cost=(total_cost(left), total_cost(right)),
    )


def teacher_student_pairs(summaries: Sequence[TraceSummary]) -> list[tuple[str, str]]:
    """(teacher id, student id) for each task class that has both, the largest teacher and student first."""
    pairs = []
    by_class: dict[str, list[TraceSummary]] = {}
    for s in summaries:
        if s.task_class:
            by_class.setdefault(s.task_class, []).append(s)
    for task_class in sorted(by_class):
        teachers = sorted((s for s in by_class[task_class] if s.role == "teacher"), key=lambda s: -s.node_count)
        students = sorted((s for s in by_class[task_class] if s.role == "student"), key=lambda s: -s.node_count)
        if teachers and students:
            pairs.append((teachers[0].id, students[0].id))
    return pairs


# -------------------------------------------------------------- the whole tree, flat


def tree_rows(view: TraceView) -> str:
    """Every node of the trace as flat columns, in tree order, as JSON: what the browser's tree is built from.

    ``parent`` and ``depth`` are per row (the parent as a row number, -1 for the root), ``kind`` a number
    into ``kinds``, ``status`` 1 for a failed call. Built once per trace (a 100,000-node trace is ~8 MB).
    """

    def build() -> str:
        ids = view.preorder
        kinds: dict[str, int] = {}
        parent = view.tree.parent
        depth = view.tree.depth
        rows = {
            "ids": ids,
            "parent": [-1 if parent[i] is None else view.position[parent[i]] for i in ids],
            "depth": [depth[i] for i in ids],
            "label": [view.label(i, 120) for i in ids],
            "kind": [kinds.setdefault(view.nodes[i].kind, len(kinds)) for i in ids],
            "status": [int(view.nodes[i].status == "error") for i in ids],
        }
        rows["kinds"] = list(kinds)
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))

    return view.cached("tree rows", build)
