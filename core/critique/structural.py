"""The built-in structural critic: deterministic, offline, the default teacher.

It reads only the shape and sizes of a trace (and of a reference trace when
there is one), so every finding can be checked by a person against the tree.
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict

from core.critique.models import SEVERITY_RANK, Category, Finding, Severity
from core.models import LoadedTrace, Node, collector_paused
from core.text import STOPWORDS, shorten
from core.traceview import TraceView

# A leaf handed more context than this many characters (~8k tokens) most
# likely needed to split its input and recurse instead of answering at once.
LEAF_CONTEXT_LIMIT_CHARS = 32_000
# An aggregation that repeats fewer than this share of a child's salient
# terms (numbers, clause references, long words) has probably dropped it.
AGGREGATION_COVERAGE_MIN = 0.2
# The student carried less than this share of the context the reference
# carried into the same call.
CONTEXT_SHARE_MIN = 0.5
# Most findings one check reports; beyond it they are grouped by subtree. Thirteen
# checks times this stays under the 200 findings a teacher's answer may hold.
GROUPS_PER_CHECK = 8
EXAMPLES = 5  # node ids a grouped finding names
SUGGESTIONS_MAX = 20  # Finding.suggested_subproblems holds at most this many

_WORKING_KINDS = {"decompose", "recurse", "leaf"}
_SPLITTING_KINDS = {"decompose", "recurse"}
_DEPTH_LIMIT = re.compile(r"depth limit|max(imum)?[_ ]depth|recursion limit", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z]+|\d+(?:\.\d+)*", re.IGNORECASE)


def _height(view: TraceView) -> dict[str, int]:
    """Levels below each node (0 for a leaf), computed bottom-up without recursion."""
    height = dict.fromkeys(view.preorder, 0)
    for node_id in reversed(view.preorder):
        parent = view.tree.parent[node_id]
        if parent is not None:
            height[parent] = max(height[parent], height[node_id] + 1)
    return height


def _children(view: TraceView, node_id: str) -> list[Node]:
    return [view.nodes[c] for c in view.children(node_id)]


def critique(student: LoadedTrace, reference: LoadedTrace | None = None) -> list[Finding]:
    """Findings on the student trace, ordered as its nodes are."""
    # A 100,000-node trace can yield as many raw findings; full GC passes over them free nothing.
    with collector_paused():
        return _critique(student, reference)


def _critique(student: LoadedTrace, reference: LoadedTrace | None) -> list[Finding]:
    view = TraceView.build(student)
    checks = [
        ("failed or returned nothing", _failed_or_empty_calls(view)),
        ("hit the depth limit", _depth_limit_hits(view)),
        ("answered an oversized context in one call", _oversized_leaves(view)),
        ("an aggregation dropped a result", _lossy_aggregations(view)),
        ("repeated an earlier sub-problem", _repeated_subproblems(view)),
        ("a level that splits nothing", _pass_through_levels(view)),
    ]
    if reference is not None:
        checks += _against_reference(view, TraceView.build(reference))
    findings = [f for summary, found in checks for f in _grouped(view, found, summary)]
    findings.sort(key=lambda f: view.position.get(f.node_id, -1))
    return findings


def _grouped(view: TraceView, findings: list[Finding], summary: str) -> list[Finding]:
    """At most GROUPS_PER_CHECK findings: the rest are merged into one finding per subtree.

    Largest groups are split first, an unflagged node into its children's
    subtrees, a flagged one only straight into single findings, so a chain
    of 100,000 flagged levels stays one group. Each node is visited once.
    """
    if len(findings) <= GROUPS_PER_CHECK:
        return findings
    at: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        at[f.node_id].append(f)
    below = {node_id: len(at.get(node_id, ())) for node_id in view.preorder}  # findings in each subtree
    for node_id in reversed(view.preorder):
        parent = view.tree.parent[node_id]
        if parent is not None:
            below[parent] += below[node_id]

    def members(node_id: str) -> list[Finding]:
        return [f for n in view.subtree(node_id) for f in at.get(n, ())]

    result, units, heap = [], 1, [(-len(findings), 0, view.root)]
    while heap:
        _, _, node_id = heapq.heappop(heap)
        parts = [] if node_id in at else [c for c in view.children(node_id) if below[c]]
        if node_id in at and units - 1 + below[node_id] <= GROUPS_PER_CHECK:
            units += below[node_id] - 1
            result += members(node_id)
        elif parts and units - 1 + len(parts) <= GROUPS_PER_CHECK:
            units += len(parts) - 1
            for c in parts:
                heapq.heappush(heap, (-below[c], view.position[c], c))
        else:
            result.append(_group(view, node_id, members(node_id), summary))
    return result


def _group(view: TraceView, node_id: str, members: list[Finding], summary: str) -> Finding:
    first = members[0]
    examples = ", ".join(list(dict.fromkeys(f.node_id for f in members))[:EXAMPLES])
    suggestions = dict.fromkeys(s for f in members for s in f.suggested_subproblems)
    return Finding(
        node_id=node_id, category=first.category,
        severity=max((f.severity for f in members), key=SEVERITY_RANK.__getitem__),
        rationale=(f"{len(members):,} findings in the subtree of {_label(view.nodes[node_id])} (node {node_id}): "
                   f"{summary}, e.g. at nodes {examples}. The first: {first.rationale}"),
        suggested_fix=first.suggested_fix,
        suggested_subproblems=list(suggestions)[:SUGGESTIONS_MAX],
    )


def _label(node: Node) -> str:
    return f"'{shorten(node.subproblem or node.name or node.id, 81)}'"


# ------------------------------------------------------------ on its own


def _failed_or_empty_calls(view: TraceView) -> list[Finding]:
    findings = []
    for node in view.nodes.values():
        if node.status == "error":
            findings.append(Finding(
                node_id=node.id, category=Category.FAILED_STEP, severity=Severity.HIGH,
                rationale=f"{_label(node)} failed: {(node.error or 'no error message')[:300]}",
                suggested_fix="Retry the call, or split its input so it fits what the model handles reliably.",
            ))
        elif node.metadata.get("problem"):  # a scaffold step whose result the runner could not use (core.runs.plan)
            findings.append(Finding(
                node_id=node.id, category=Category.FAILED_STEP, severity=Severity.HIGH,
                rationale=f"{_label(node)} {shorten(str(node.metadata['problem']), 200)}, so the run could not "
                          "use its result.",
                suggested_fix="Say in the step what to return and how (a sentence naming the finding), or split it "
                              "into steps the student can do.",
            ))
        elif node.kind in ("leaf", "llm", "recurse", "aggregate") and not (node.output or "").strip():
            findings.append(Finding(
                node_id=node.id, category=Category.FAILED_STEP, severity=Severity.MEDIUM,
                rationale=f"{_label(node)} ({node.kind}) returned no output, so nothing of it reaches the answer.",
                suggested_fix="Check the call's prompt and limits; re-run it before aggregating.",
            ))
    return findings


def _depth_limit_hits(view: TraceView) -> list[Finding]:
    findings = []
    for node in view.nodes.values():
        if node.metadata.get("depth_limit_hit") or _DEPTH_LIMIT.search(node.error or ""):
            findings.append(Finding(
                node_id=node.id, category=Category.TOO_DEEP, severity=Severity.MEDIUM,
                rationale=f"{_label(node)} hit the recursion depth limit at depth {view.tree.depth[node.id]}.",
                suggested_fix="Split wider at a higher level instead of nesting deeper, or raise the depth limit.",
            ))
    return findings


def _oversized_leaves(view: TraceView, limit: int = LEAF_CONTEXT_LIMIT_CHARS) -> list[Finding]:
    findings = []
    for node in view.nodes.values():
        if node.kind == "leaf" and (node.context_chars or 0) > limit and not view.children(node.id):
            times = node.context_chars / limit
            findings.append(Finding(
                node_id=node.id, category=Category.TOO_SHALLOW,
                severity=Severity.HIGH if times >= 4 else Severity.MEDIUM,
                rationale=(f"{_label(node)} answered {node.context_chars:,} characters of context in one call, "
                           f"{times:.1f}x the {limit:,} a single call handles reliably, without recursing."),
                suggested_fix="Split this context into parts (e.g. by section), recurse on each, then aggregate.",
            ))
    return findings


def salient_terms(text: str | None) -> set[str]:
    """Numbers, clause references and long words: what a faithful summary keeps."""
    terms = set()
    for token in _TOKEN.findall((text or "").lower()):
        if token[0].isdigit() or (len(token) >= 6 and token not in STOPWORDS):
            terms.add(token)
    return terms


def _aggregations(view: TraceView) -> list[tuple[Node, list[Node]]]:
    """Each aggregate with what it combines: its children, or, when it has none,
    the siblings since the previous aggregate (which combined the ones before)."""
    pairs = []
    for parent in view.preorder:
        pending: list[Node] = []
        for node in _children(view, parent):
            if node.kind != "aggregate":
                pending.append(node)
                continue
            pairs.append((node, _children(view, node.id) or pending))
            pending = []
    root = view.nodes[view.root]
    if root.kind == "aggregate":
        pairs.append((root, _children(view, root.id)))
    return pairs


def _lossy_aggregations(view: TraceView) -> list[Finding]:
    findings = []
    for node, sources in _aggregations(view):
        if not (node.output or "").strip():
            continue
        combined = salient_terms(node.output)
        for source in sources:
            terms = salient_terms(source.output)
            if len(terms) < 4 or source.status == "error":
                continue
            coverage = len(terms & combined) / len(terms)
            if coverage < AGGREGATION_COVERAGE_MIN:
                findings.append(Finding(
                    node_id=node.id, category=Category.AGGREGATION_LOSS, severity=Severity.HIGH,
                    rationale=(f"The aggregation drops the result of {_label(source)} (node {source.id}): "
                               f"only {coverage:.0%} of its key terms appear in the combined output."),
                    suggested_fix=f"Carry the result of node {source.id} into the aggregation explicitly.",
                ))
    return findings


def _normalised(text: str | None) -> str:
    return " ".join(sorted(set(_TOKEN.findall((text or "").lower()))))


def _repeated_subproblems(view: TraceView) -> list[Finding]:
    groups: dict[str, list[Node]] = defaultdict(list)
    for node in view.nodes.values():
        if node.kind in _WORKING_KINDS and node.subproblem:
            groups[_normalised(node.subproblem)].append(node)
    findings = []
    for nodes in groups.values():
        first = nodes[0]
        end_of_first = view.position[first.id] + view.subtree_size[first.id]
        for repeat in nodes[1:]:
            if view.position[first.id] < view.position[repeat.id] < end_of_first:
                continue  # a call restating an ancestor's problem is not a repeat
            findings.append(Finding(
                node_id=repeat.id, category=Category.REDUNDANT_SUBPROBLEM, severity=Severity.MEDIUM,
                rationale=f"{_label(repeat)} repeats the sub-problem of node {first.id}.",
                suggested_fix=f"Drop this call and reuse the result of node {first.id}.",
            ))
    return findings


def _pass_through_levels(view: TraceView) -> list[Finding]:
    findings = []
    for node in view.nodes.values():
        children = _children(view, node.id)
        if node.kind in _SPLITTING_KINDS and len(children) == 1 and children[0].kind in _SPLITTING_KINDS:
            findings.append(Finding(
                node_id=node.id, category=Category.TOO_DEEP, severity=Severity.MEDIUM,
                rationale=(f"{_label(node)} hands its whole problem to a single {children[0].kind} "
                           f"(node {children[0].id}): a level that adds a call and splits nothing."),
                suggested_fix=f"Remove this level and let node {children[0].id}'s work happen here.",
            ))
    return findings


# ------------------------------------------------------- against a reference


def _against_reference(student: TraceView, reference: TraceView) -> list[tuple[str, list[Finding]]]:
    """(summary, findings) for each comparison, as ``critique`` groups them."""
    from core.align import align  # the same alignment the Compare page shows

    alignment = align(list(student.nodes.values()), list(reference.nodes.values()))  # left: student
    matched = alignment.right_to_left
    student_height, reference_height = _height(student), _height(reference)
    decomposition, missing, extra, shallow, deep, context, unaggregated = [], [], [], [], [], [], []

    first_level = [c for c in reference.children(reference.root) if reference.nodes[c].kind in _WORKING_KINDS]
    kept = [c for c in first_level if c in matched]
    if len(first_level) >= 2 and len(kept) < len(first_level) / 2:
        decomposition.append(Finding(
            node_id=student.root, category=Category.WRONG_DECOMPOSITION, severity=Severity.HIGH,
            rationale=(f"The student split the task along other lines: only {len(kept)} of the reference's "
                       f"{len(first_level)} first-level sub-problems appear in its decomposition."),
            suggested_fix="Start from the reference's first level of decomposition.",
            suggested_subproblems=[reference.nodes[c].subproblem.strip()[:200] for c in first_level
                                   if reference.nodes[c].subproblem][:SUGGESTIONS_MAX],
        ))

    for ref_id in alignment.right_only:
        ref = reference.nodes[ref_id]
        if ref.kind not in _WORKING_KINDS or not ref.subproblem:
            continue
        if reference.tree.parent[ref_id] is not None and reference.tree.parent[ref_id] not in matched:
            continue  # report the highest missing node, not every node under it
        anchor = matched.get(reference.tree.parent[ref_id] or reference.root, student.root)
        level = reference.tree.depth[ref_id]
        missing.append(Finding(
            node_id=anchor, category=Category.MISSING_SUBPROBLEM,
            severity=Severity.HIGH if level <= 1 else Severity.MEDIUM,
            rationale=f"The reference works on {_label(ref)} at level {level}; the student never does.",
            suggested_fix=f"Add a sub-problem: {ref.subproblem.strip()[:300]}",
            suggested_subproblems=[ref.subproblem.strip()[:300]],
        ))

    for student_id in alignment.left_only:
        node = student.nodes[student_id]
        parent = student.tree.parent[student_id]
        if node.kind not in _WORKING_KINDS or not node.subproblem or (parent is not None and parent not in alignment.left_to_right):
            continue
        extra.append(Finding(
            node_id=student_id, category=Category.REDUNDANT_SUBPROBLEM, severity=Severity.LOW,
            rationale=f"{_label(node)} has no counterpart in the reference decomposition.",
            suggested_fix="Check that this sub-problem is needed; if not, drop it.",
        ))

    for match in alignment.matches:
        student_id, ref_id = match.left, match.right
        node, ref = student.nodes[student_id], reference.nodes[ref_id]
        ref_below, student_below = reference_height[ref_id], student_height[student_id]
        # Only where the student stopped: a shallow branch further down is reported at its own leaf.
        if student_below == 0 and ref_below > 0 and node.kind in _WORKING_KINDS:
            shallow.append(Finding(
                node_id=student_id, category=Category.TOO_SHALLOW, severity=Severity.HIGH,
                rationale=(f"{_label(node)} was answered in one call; the reference splits it into "
                           f"{len(reference.children(ref_id))} sub-problems, {ref_below} level(s) deep."),
                suggested_fix="Recurse here as the reference does.",
                suggested_subproblems=[c.subproblem.strip()[:200] for c in _children(reference, ref_id)
                                       if c.subproblem][:SUGGESTIONS_MAX],
            ))
        elif student_below - ref_below >= 2:
            deep.append(Finding(
                node_id=student_id, category=Category.TOO_DEEP, severity=Severity.LOW,
                rationale=(f"{_label(node)} goes {student_below - ref_below} levels deeper than the reference "
                           "for the same sub-problem."),
                suggested_fix="Flatten the extra levels; the reference solves this with fewer calls.",
            ))
        if (ref_aggregate := _aggregate_step(reference, ref_id)) and not _aggregates(student, student_id):
            unaggregated.append(_missing_aggregation(student, student_id, ref_aggregate))
        ref_context, student_context = ref.context_chars or 0, node.context_chars or 0
        # An aggregate's context is its children's results: a shortfall there is already reported upstream.
        if node.kind != "aggregate" and ref_context >= 1000 and student_context < CONTEXT_SHARE_MIN * ref_context:
            context.append(Finding(
                node_id=student_id, category=Category.CONTEXT_LOSS, severity=Severity.MEDIUM,
                rationale=(f"The reference carried {ref_context:,} characters of context into {_label(ref)}; "
                           f"the student carried {student_context:,}."),
                suggested_fix="Carry the context the reference passes here (e.g. the defined terms it relies on).",
            ))
    return [
        ("the student split the task along other lines", decomposition),
        ("a reference sub-problem the student never works on", missing),
        ("a sub-problem with no counterpart in the reference", extra),
        ("answered in one call where the reference recurses", shallow),
        ("deeper than the reference for the same sub-problem", deep),
        ("less context than the reference carried", context),
        ("no aggregation step where the reference combines its sub-problems' results", unaggregated),
    ]


def _aggregate_step(view: TraceView, node_id: str) -> Node | None:
    """The last aggregation among a node's children: the step that combines its sub-problems' results."""
    return next((c for c in reversed(_children(view, node_id)) if c.kind == "aggregate"), None)


def _aggregates(view: TraceView, node_id: str) -> bool:
    """Whether a node that splits its problem combines the results: an aggregation step among its children, or
    the node saying how it combined them itself (a trace format without aggregate nodes). A node that does not
    split has nothing to combine (a leaf answering at once is reported as too shallow instead). Its output is
    no evidence either way: it may read like a summary of its children without having been built from them."""
    node = view.nodes[node_id]
    return not view.children(node_id) or bool(node.aggregation) or _aggregate_step(view, node_id) is not None


def _missing_aggregation(student: TraceView, student_id: str, ref_aggregate: Node) -> Finding:
    node = student.nodes[student_id]
    how = shorten(ref_aggregate.aggregation or ref_aggregate.subproblem or "combine the results", 200)
    parts = len(student.children(student_id))
    return Finding(
        node_id=student_id, category=Category.AGGREGATION_LOSS,
        severity=Severity.HIGH if student_id == student.root else Severity.MEDIUM,
        rationale=(f"{_label(node)} splits into {parts} sub-problem(s) but has no aggregation step, so its answer "
                   f"is not built from their results; the reference combines them at this level in "
                   f"{_label(ref_aggregate)}."),
        suggested_fix=f"Add an aggregation step after its sub-problems that combines their results, as the reference "
                      f"does: {how}",
        suggested_subproblems=[ref_aggregate.subproblem.strip()[:200]] if ref_aggregate.subproblem else [],
    )


# The teacher's prompt carries the structural findings inside this tag; the structural critic, asked as a
# teacher, answers with them unchanged.
FINDINGS_TAG = "structural_findings"


def answer_from_prompt(messages: list) -> str:
    """What the structural critic answers: the structural findings its prompt carries, as they were."""
    prompt = next(m["content"] for m in messages if m["role"] == "user")
    match = re.search(rf"<{FINDINGS_TAG}>\n(.*?)\n</{FINDINGS_TAG}>", prompt, re.DOTALL)
    return match.group(1).replace("<\\/", "</") if match else '{"findings": []}'
