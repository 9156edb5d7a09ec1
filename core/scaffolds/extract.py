"""Compressing traces into scaffolds: keep the decomposition decisions, drop the payload.

A scaffold keeps what a student needs to repeat a run's strategy: the
sub-problems the run split its task into, which context each one was handed,
the shape of what came back, a few short worked results, and how the results
were combined. Everything else (the contexts themselves, long outputs, model
chatter) stays in the trace.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass

from core.models import LoadedTrace, Node, TraceDocument
from core.scaffolds.models import Anchor, Provenance, Scaffold, ScaffoldError, SubProblem
from core.text import STOPWORDS, shorten, stem
from core.tree import TreeIndex

WORKING_KINDS = ("decompose", "recurse", "leaf")
INSTRUCTION_CHARS = 240
ROOT_TASK_CHARS = 160
AGGREGATION_CHARS = 240
CONTEXT_CHARS = 48
ANCHOR_CHARS = 120
ANCHOR_COUNT = 2
# Anchors and second-level sub-problems are kept only while the scaffold stays
# within this share of the trace's bytes (the target is 5%); the first level
# and the aggregation are always kept whole.
BYTE_BUDGET = 0.045


@dataclass(frozen=True)
class Compression:
    """How much smaller a scaffold is than what it was drawn from."""

    scaffold_bytes: int
    trace_bytes: int
    context_chars: int  # characters of context the run's calls processed, summed over its nodes
    first_level_kept: int
    first_level_total: int
    traces: int = 1

    @property
    def of_trace(self) -> float:
        return self.scaffold_bytes / self.trace_bytes if self.trace_bytes else 0.0

    @property
    def of_context(self) -> float | None:
        return self.scaffold_bytes / self.context_chars if self.context_chars else None

    def describe(self) -> str:
        context = f", {self.of_context:.1%} of the {self.context_chars:,} characters of context it processed" if self.of_context is not None else ""
        source = "the trace's" if self.traces == 1 else f"the {self.traces} traces'"
        return (f"{self.scaffold_bytes:,} bytes: {self.of_trace:.1%} of {source} {self.trace_bytes:,} bytes{context}; "
                f"{self.first_level_kept} of {self.first_level_total} first-level sub-problems kept")

    def as_dict(self) -> dict:
        return {"scaffold_bytes": self.scaffold_bytes, "trace_bytes": self.trace_bytes,
                "context_chars": self.context_chars, "of_trace": round(self.of_trace, 4),
                "of_context": None if self.of_context is None else round(self.of_context, 4),
                "first_level_kept": self.first_level_kept, "first_level_total": self.first_level_total,
                "traces": self.traces}


# ---------------------------------------------------------------- one trace


class _Tree:
    def __init__(self, loaded: LoadedTrace):
        self.by_id = {n.id: n for n in loaded.nodes}
        self.index = TreeIndex.build([(n.id, n.parent_id, n.order) for n in loaded.nodes])

    def children(self, node_id: str) -> list[Node]:
        return [self.by_id[c] for c in self.index.children.get(node_id, [])]

    def steps(self, node_id: str) -> list[Node]:
        """The children that are steps of the strategy: working calls, and tool or llm calls given a sub-problem."""
        return [c for c in self.children(node_id) if c.kind in WORKING_KINDS or (c.kind != "aggregate" and c.subproblem)]

    def decomposition_point(self) -> Node:
        """The node where the run split its task: the root, unless the root only wraps one step."""
        node = self.by_id[self.index.root]
        while True:
            steps = self.steps(node.id)
            if len(steps) == 1 and self.steps(steps[0].id):
                node = steps[0]
                continue
            return node

    def first_level(self) -> list[Node]:
        point = self.decomposition_point()
        # A run imported from a format without step kinds has only bare llm/tool calls under its root.
        return self.steps(point.id) or [c for c in self.children(point.id) if c.kind != "aggregate"]


def first_level_subproblems(loaded: LoadedTrace) -> list[Node]:
    """The nodes a trace split its task into at the first level: what a scaffold must keep."""
    return _Tree(loaded).first_level()


def extract_scaffold(loaded: LoadedTrace, *, byte_budget: float = BYTE_BUDGET) -> Scaffold:
    """A scaffold of one trace: every first-level sub-problem and the aggregation, always; then
    short anchor results and second-level sub-problems, each only while the scaffold stays
    within ``byte_budget`` of the trace's size."""
    tree = _Tree(loaded)
    trace = loaded.trace
    point = tree.decomposition_point()
    first = tree.first_level()
    whole_input = tree.by_id[tree.index.root].context_chars
    subproblems = [_subproblem(node, f"s{i}", None, whole_input) for i, node in enumerate(first, start=1)]
    task = trace.task or point.subproblem or trace.title or trace.id
    scaffold = Scaffold(
        title=f"{trace.task_class or trace.title or trace.id}: {len(first)}-part decomposition",
        task_class=trace.task_class,
        root_task=shorten(_without_asides(task), ROOT_TASK_CHARS),
        subproblems=subproblems,
        aggregation=shorten(_aggregation(tree, point), AGGREGATION_CHARS),
        provenance=Provenance(method="trace", source_traces=[trace.id], teacher_models=_models(loaded)),
    )
    budget = byte_budget * trace_bytes(loaded)

    def fits(candidate: Scaffold) -> bool:
        return scaffold_bytes(candidate) <= budget

    for sub, node in zip(subproblems, first, strict=True):
        if len(scaffold.anchors) < ANCHOR_COUNT and (node.output or "").strip() and node.status == "ok":
            anchor = Anchor(subproblem_id=sub.id, result=shorten(node.output, ANCHOR_CHARS), source=f"{trace.id}/{node.id}")
            candidate = scaffold.model_copy(update={"anchors": [*scaffold.anchors, anchor]})
            scaffold = candidate if fits(candidate) else scaffold
    for sub, node in zip(subproblems, first, strict=True):
        below = [_subproblem(c, f"{sub.id}.{i}", sub.id, whole_input) for i, c in enumerate(tree.steps(node.id), 1)]
        candidate = scaffold.model_copy(update={"subproblems": [*scaffold.subproblems, *below]})
        scaffold = candidate if below and fits(candidate) else scaffold
    return scaffold.model_copy(update={"subproblems": _in_outline_order(scaffold.subproblems)})


def compression(scaffold: Scaffold, loaded: LoadedTrace) -> Compression:
    first = first_level_subproblems(loaded)
    kept = {s.source_node_id for s in scaffold.subproblems}
    return Compression(
        scaffold_bytes=scaffold_bytes(scaffold),
        trace_bytes=trace_bytes(loaded),
        context_chars=context_chars(loaded),
        first_level_kept=sum(1 for n in first if n.id in kept),
        first_level_total=len(first),
    )


def context_chars(loaded: LoadedTrace) -> int:
    """Characters of context the run's calls were handed, summed over its nodes."""
    return sum(n.context_chars if n.context_chars is not None else len(n.context or "") for n in loaded.nodes)


def scaffold_bytes(scaffold: Scaffold) -> int:
    return len(scaffold.model_dump_json(exclude_defaults=True).encode())


def trace_bytes(loaded: LoadedTrace) -> int:
    """Size of the trace as compact Trellis JSON."""
    document = TraceDocument(trace=loaded.trace, nodes=loaded.nodes)
    return len(document.model_dump_json(exclude_none=True).encode())


def _subproblem(node: Node, sub_id: str, parent_id: str | None, whole_input: int | None) -> SubProblem:
    return SubProblem(
        id=sub_id,
        parent_id=parent_id,
        instruction=shorten(node.subproblem or node.name or f"{node.kind} step", INSTRUCTION_CHARS),
        context=_context_hint(node, whole_input),
        output_shape=output_shape(node.output),
        source_node_id=node.id,
    )


def _context_hint(node: Node, whole_input: int | None) -> str:
    """Which context the call was handed, named by its size and first words, never copied."""
    size = node.context_chars if node.context_chars is not None else len(node.context or "")
    if not size:
        return ""
    if size == whole_input:
        return f"the whole input ({size:,} chars)"
    return f"{shorten(node.context, CONTEXT_CHARS)} ({size:,} chars)" if (node.context or "").strip() else f"{size:,} chars"


def output_shape(output: str | None) -> str:
    """What a result looked like: JSON keys, a list of points, or prose of some length."""
    text = (output or "").strip()
    if not text:
        return ""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return "JSON object: " + ", ".join(list(value)[:8])
    if isinstance(value, list):
        return f"JSON list of {len(value)} items"
    points = [line for line in text.splitlines() if re.match(r"\s*([-*•]|\d+[.)])\s", line)]
    if len(points) >= 2:
        return f"list of {len(points)} points"
    words = len(text.split())
    return f"{'short ' if words <= 40 else ''}prose, ~{_round_words(words)} words"


def _round_words(words: int) -> int:
    return words if words < 20 else int(round(words, -1))


def _without_asides(text: str) -> str:
    """The task with its parenthesised asides (party names, sizes, definitions) taken out: closer to a pattern."""
    return re.sub(r"\s*\([^()]*\)", "", text)


def _aggregation(tree: _Tree, point: Node) -> str:
    steps = [c for c in tree.children(point.id) if c.kind == "aggregate"]
    rules = [shorten(s.aggregation or s.subproblem or s.name or "", 2 * INSTRUCTION_CHARS) for s in steps]
    rules = [r for r in rules if r] or ([shorten(point.aggregation, 2 * INSTRUCTION_CHARS)] if point.aggregation else [])
    return "; then ".join(rules)


def _models(loaded: LoadedTrace) -> list[str]:
    if loaded.trace.agent:
        return [loaded.trace.agent]
    counts = Counter(n.model for n in loaded.nodes if n.model)
    return [m for m, _ in counts.most_common(1)]


def _in_outline_order(subproblems: list[SubProblem]) -> list[SubProblem]:
    probe = Scaffold(title="-", subproblems=subproblems)
    return [sub for _, sub in probe.outline()]


# ------------------------------------------------------------ several traces

# Two sub-problems of different runs are the same step when at least two content
# words, and at least this share of the shorter one's words, are shared: a
# student's terse "Flag one-sided clauses" is the teacher's long clause-flagging step.
SAME_STEP_SIMILARITY = 0.5
_WORD = re.compile(r"[a-z]{3,}")


def content_words(text: str) -> set[str]:
    """Lower-case content words with a plural or verb ending stripped, for matching steps across runs."""
    words = set()
    for word in _WORD.findall(text.lower()):
        if word not in STOPWORDS:
            words.add(stem(word))
    return words


def similarity(a: set[str], b: set[str]) -> float:
    shared = len(a & b)
    return shared / min(len(a), len(b)) if shared >= 2 else 0.0


def merge_strategy(traces: list[LoadedTrace]) -> Scaffold:
    """One strategy from several traces of a task class: the steps that recur, with how often.

    A step found in more than half of the traces is required; the others are
    kept as optional. Teacher traces are read first, so their wording wins.
    """
    if len(traces) < 2:
        raise ScaffoldError("a strategy is merged from at least two traces; extract a scaffold from one")
    classes = sorted({t.trace.task_class or "(none)" for t in traces})
    if len(classes) > 1:
        raise ScaffoldError(f"the traces are of different task classes ({', '.join(classes)}); merge one class at a time")
    traces = sorted(traces, key=lambda t: t.trace.role != "teacher")
    scaffolds = [extract_scaffold(t, byte_budget=0) for t in traces]

    groups: list[list[tuple[int, float, SubProblem]]] = []  # members: (trace index, relative position, step)
    for which, scaffold in enumerate(scaffolds):
        steps = scaffold.first_level()
        pairs = sorted(
            ((similarity(content_words(step.instruction), content_words(group[0][2].instruction)), i, g)
             for i, step in enumerate(steps) for g, group in enumerate(groups)),
            key=lambda p: -p[0],
        )
        placed: dict[int, int] = {}
        for score, i, g in pairs:
            if score >= SAME_STEP_SIMILARITY and i not in placed and g not in placed.values():
                placed[i] = g
        for i, step in enumerate(steps):
            member = (which, i / max(len(steps) - 1, 1), step)
            if i in placed:
                groups[placed[i]].append(member)
            else:
                groups.append([member])

    groups.sort(key=lambda g: sum(position for _, position, _ in g) / len(g))
    subproblems, anchors = [], []
    for number, group in enumerate(groups, start=1):
        which, _, step = group[0]
        seen = len({m[0] for m in group})
        sub = step.model_copy(update={"id": f"s{number}", "seen_in": seen, "optional": 2 * seen <= len(traces)})
        subproblems.append(sub)
        anchors += [a.model_copy(update={"subproblem_id": sub.id}) for a in scaffolds[which].anchors_for(step.id)]

    lead = traces[0].trace
    teachers = [t for t in traces if t.trace.role == "teacher"]
    rules = Counter(s.aggregation for s in scaffolds if s.aggregation)
    task_class = lead.task_class
    return Scaffold(
        kind="strategy",
        title=f"{task_class or lead.title}: strategy from {len(traces)} traces",
        task_class=task_class,
        root_task=scaffolds[0].root_task,
        subproblems=subproblems,
        anchors=anchors[:ANCHOR_COUNT + 1],
        aggregation=rules.most_common(1)[0][0] if rules else "",
        provenance=Provenance(
            method="strategy",
            source_traces=[t.trace.id for t in traces],
            teacher_models=list(dict.fromkeys(
                m for t, s in zip(traces, scaffolds, strict=True) if t.trace.role == "teacher" or not teachers
                for m in s.provenance.teacher_models
            )),
        ),
    )
