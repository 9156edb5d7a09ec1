"""Aligning two traces of the same task: which sub-problems correspond.

Used to compare a teacher's and a student's decomposition, and by critics
that need to say "the teacher split this sub-problem, the student did not".

The trees are aligned top-down: the roots correspond, and the children of
two matched nodes are matched to each other by how alike their sub-problem
text is (shared words, see ``similarity``), where they sit among their
siblings, and their kind. A second pass looks one level up or down for nodes left
unmatched, under the nearest matched ancestors, which is how a sub-problem
solved at a different depth is found. Work stays near linear: only siblings
(or a bounded set of nearby candidates) are ever compared, never all pairs.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.models import Node
from core.tree import TreeIndex

MIN_SCORE = 0.45  # below this two nodes are not the same sub-problem
MIN_TEXT = 0.5  # nor when their texts are less alike than this
STRONG_TEXT = 0.8  # texts this alike are the same sub-problem without looking further
LOOKAHEAD = 16  # children compared when deciding whether a match belongs one level down
TEXT_WEIGHT, POSITION_WEIGHT, KIND_WEIGHT = 0.75, 0.15, 0.10
SIBLING_BAND = 32  # in long sibling lists, compare only siblings this close in relative position
NEARBY_CANDIDATES = 64  # most candidates looked at for one node in the cross-level pass

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Match:
    left: str
    right: str
    score: float  # 0..1, how alike the two nodes are


@dataclass
class Alignment:
    matches: list[Match]  # in the left tree's order
    left_only: list[str]  # left nodes with no counterpart, in tree order
    right_only: list[str]
    left_to_right: dict[str, str] = field(repr=False)
    right_to_left: dict[str, str] = field(repr=False)


def tokens(text: str | None) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower())) if text else frozenset()


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """How alike two token sets are, 0..1; two empty texts count as alike.

    The mean of Jaccard similarity and containment (the shared share of the
    shorter text): a student often states a teacher's sub-problem in fewer
    words ("Review Section 10" against "Review Section 10 with the
    definitions it relies on"), which Jaccard alone scores low. Containment
    counts a one-word text as two words, so one word is not contained in everything.
    """
    if not a and not b:
        return 1.0
    shared = len(a & b)
    jaccard = shared / (len(a) + len(b) - shared)
    containment = shared / max(min(len(a), len(b)), 2)
    return (jaccard + containment) / 2


@dataclass
class _Side:
    tree: TreeIndex
    kind: dict[str, str]
    words: dict[str, frozenset[str]]
    preorder: list[str]
    position: dict[str, int]  # index in preorder
    size: dict[str, int]  # nodes in the subtree
    by_depth: dict[int, list[int]]  # preorder positions of the nodes at each depth, ascending

    @classmethod
    def build(cls, nodes: Sequence[Node]) -> _Side:
        tree = TreeIndex.build([(n.id, n.parent_id, n.order) for n in nodes])
        preorder = tree.preorder()
        by_depth: dict[int, list[int]] = defaultdict(list)
        for i, node_id in enumerate(preorder):
            by_depth[tree.depth[node_id]].append(i)
        return cls(
            tree=tree,
            kind={n.id: n.kind for n in nodes},
            # The sub-problem says what a node is about; a name or aggregation rule is the next best thing.
            words={n.id: tokens(n.subproblem or n.name or n.aggregation) for n in nodes},
            preorder=preorder,
            position={node_id: i for i, node_id in enumerate(preorder)},
            size=tree.subtree_sizes(preorder),
            by_depth=by_depth,
        )

    def children(self, node_id: str) -> list[str]:
        return self.tree.children.get(node_id, [])

    def at_depth_under(self, anchor: str, depth: int, around: float, count: int) -> list[str]:
        """Up to ``count`` nodes at ``depth`` inside anchor's subtree, around a relative position (0..1) in it.

        A subtree is a contiguous run of preorder, so this is two binary searches.
        """
        positions = self.by_depth.get(depth, [])
        start = self.position[anchor]
        lo = bisect_left(positions, start)
        hi = bisect_left(positions, start + self.size[anchor])
        centre = lo + round(around * (hi - lo))
        first = max(lo, min(centre - count // 2, hi - count))
        return [self.preorder[p] for p in positions[first : first + count]]


def align(left_nodes: Sequence[Node], right_nodes: Sequence[Node]) -> Alignment:
    """Match the nodes of two traces' trees; see the module docstring for how."""
    left, right = _Side.build(left_nodes), _Side.build(right_nodes)
    l2r: dict[str, str] = {left.tree.root: right.tree.root}
    r2l: dict[str, str] = {right.tree.root: left.tree.root}
    scores = {left.tree.root: _score(left, left.tree.root, 0, 1, right, right.tree.root, 0, 1)}

    def record(a: str, b: str, score: float) -> None:
        l2r[a], r2l[b], scores[a] = b, a, score

    def match_down(pairs: list[tuple[str, str]]) -> None:
        """Match the children of matched pairs, then their children, and so on."""
        while pairs:
            a, b = pairs.pop()
            for x, y, score in _match_siblings(
                left, [c for c in left.children(a) if c not in l2r], right, [c for c in right.children(b) if c not in r2l]
            ):
                record(x, y, score)
                pairs.append((x, y))

    match_down([(left.tree.root, right.tree.root)])

    # Cross-level pass: a node still unmatched may sit one level higher or lower on the other side.
    # A parent comes before its children in preorder, so each node's nearest matched ancestor is known when it is reached.
    anchor_of: dict[str, str] = {}
    for a in left.preorder:
        if a in l2r:
            continue
        parent = left.tree.parent[a]
        anchor = anchor_of[a] = parent if parent in l2r else anchor_of[parent]
        candidates = _nearby(left, a, anchor, right, l2r[anchor], r2l)
        best, best_score = None, MIN_SCORE
        for b in candidates:
            score = _score(left, a, 0, 1, right, b, 0, 1) - POSITION_WEIGHT  # position means nothing across levels
            if score >= best_score and similarity(left.words[a], right.words[b]) >= MIN_TEXT:
                best, best_score = b, score
        if best is not None:
            record(a, best, best_score)
            match_down([(a, best)])

    matches = [Match(a, l2r[a], round(scores[a], 3)) for a in left.preorder if a in l2r]
    return Alignment(
        matches=matches,
        left_only=[a for a in left.preorder if a not in l2r],
        right_only=[b for b in right.preorder if b not in r2l],
        left_to_right=l2r,
        right_to_left=r2l,
    )


@dataclass(frozen=True)
class SharedRow:
    """One row of two aligned trees read side by side: a matched pair, or a node found on one side only."""

    left: str | None  # None: a node only on the right
    right: str | None  # None: a node only on the left


def shared_rows(alignment: Alignment, left_preorder: Sequence[str], right_preorder: Sequence[str]) -> list[SharedRow]:
    """Both trees as one list of rows, like a side-by-side diff: the left tree in its order, each matched pair in
    one row, and each node only on the right placed after the row of the right node just before it (in the right
    tree's order), so it appears where it sits in its own tree."""
    following: dict[str | None, list[str]] = defaultdict(list)  # a right node -> the right-only nodes after its row
    anchor_of: dict[str, str | None] = {}
    previous: str | None = None
    for b in right_preorder:
        if b not in alignment.right_to_left:
            # A run of right-only nodes follows, in order, the matched node just before the run.
            anchor = anchor_of[b] = anchor_of.get(previous, previous)
            following[anchor].append(b)
        previous = b
    rows = [SharedRow(None, b) for b in following[None]]  # only if the right root were unmatched
    for a in left_preorder:
        b = alignment.left_to_right.get(a)
        rows.append(SharedRow(a, b))
        rows.extend(SharedRow(None, c) for c in following[b] if b is not None)
    return rows


def _match_siblings(left: _Side, xs: list[str], right: _Side, ys: list[str]) -> list[tuple[str, str, float]]:
    """Greedy best-first matching of two sibling lists; long lists compare only nearby positions."""
    if not xs or not ys:
        return []
    candidates = []
    band = len(xs) * len(ys) > SIBLING_BAND * SIBLING_BAND
    for i, x in enumerate(xs):
        if band:
            centre = round(i * (len(ys) - 1) / max(len(xs) - 1, 1))
            js = range(max(0, centre - SIBLING_BAND // 2), min(len(ys), centre + SIBLING_BAND // 2 + 1))
        else:
            js = range(len(ys))
        for j in js:
            score = _score(left, x, i, len(xs), right, ys[j], j, len(ys))
            if score >= MIN_SCORE and not _better_one_level_down(left, x, right, ys[j]):
                candidates.append((score, i, j))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_x, used_y, matched = set(), set(), []
    for score, i, j in candidates:
        if i not in used_x and j not in used_y:
            used_x.add(i)
            used_y.add(j)
            matched.append((xs[i], ys[j], score))
    return matched


def _better_one_level_down(left: _Side, x: str, right: _Side, y: str) -> bool:
    """Whether x and y are too unlike to pair, or one of them fits a child of the other better.

    A vague parent ("Review every clause") must not take the match that
    belongs to its more specific child ("Review the termination clause").
    """
    text = similarity(left.words[x], right.words[y])
    if text < MIN_TEXT:
        return True
    if text >= STRONG_TEXT:
        return False
    return any(similarity(left.words[x], right.words[c]) > text for c in right.children(y)[:LOOKAHEAD]) or any(
        similarity(left.words[c], right.words[y]) > text for c in left.children(x)[:LOOKAHEAD]
    )


def _score(left: _Side, x: str, i: int, n: int, right: _Side, y: str, j: int, m: int) -> float:
    text = similarity(left.words[x], right.words[y])
    position = 1.0 - abs(i / max(n - 1, 1) - j / max(m - 1, 1)) if n > 1 or m > 1 else 1.0
    kind = 1.0 if left.kind[x] == right.kind[y] else 0.0
    return TEXT_WEIGHT * text + POSITION_WEIGHT * position + KIND_WEIGHT * kind


def _nearby(left: _Side, a: str, anchor: str, right: _Side, right_anchor: str, taken: dict[str, str]) -> list[str]:
    """Unmatched right nodes under right_anchor at a's depth below its anchor, or one level either way.

    Taken around a's relative place in its anchor's subtree, so the nodes
    looked at are the ones most likely to correspond.
    """
    levels_down = left.tree.depth[a] - left.tree.depth[anchor]
    around = (left.position[a] - left.position[anchor]) / left.size[anchor]
    found = []
    for levels in (levels_down, levels_down - 1, levels_down + 1):
        if levels >= 1:
            depth = right.tree.depth[right_anchor] + levels
            found += right.at_depth_under(right_anchor, depth, around, NEARBY_CANDIDATES // 3)
    return [b for b in found if b not in taken]
