"""Traces and scaffolds for the scaffold tests: the sample library, and small traces written step by step."""

from __future__ import annotations

from pathlib import Path

from core import Store, import_files
from core.models import LoadedTrace, Node, Trace
from core.node_table import nodes_to_arrow
from core.scaffolds.drafts import draft_scaffold
from core.tree import check_tree
from tests.conftest import SAMPLES
from tests.support.people import DANA, approve


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*.json*") if p.is_file())


def import_samples(store: Store) -> list[str]:
    return [t.trace.id for t in import_files(store, sample_files())]


def approve_teacher_scaffolds(store: Store) -> dict[str, str]:
    """Extract a scaffold from every sample teacher trace and approve it: task class -> scaffold id."""
    approved = {}
    for summary in store.list_traces():
        if summary.role == "teacher":
            draft = draft_scaffold(store, [summary.id], author=DANA)
            approve(store, draft.version.scaffold_id, 1)
            approved[summary.task_class] = draft.version.scaffold_id
    return approved


def run(trace_id: str, steps: list[str], *, task_class: str = "contract-review", role: str = "teacher",
        aggregation: str = "merge the findings by severity") -> LoadedTrace:
    """A run that splits its task into ``steps`` (a leaf each) and aggregates them."""
    root = Node(id=f"{trace_id}-root", kind="decompose", subproblem="Review the supplier contract", context_chars=50_000)
    nodes = [root]
    for i, step in enumerate(steps):
        nodes.append(Node(id=f"{trace_id}-{i}", parent_id=root.id, order=i, kind="leaf", subproblem=step,
                          context=f"Text of the part: {step}", context_chars=5_000, output=f"Findings for {step}."))
    nodes.append(Node(id=f"{trace_id}-agg", parent_id=root.id, order=len(steps), kind="aggregate",
                      aggregation=aggregation, output="All findings."))
    trace = Trace(id=trace_id, title=trace_id, task="Review the supplier contract for risk", task_class=task_class,
                  role=role, agent=f"{role}-model")
    return LoadedTrace(trace=trace, nodes=nodes)


def store_run(store: Store, loaded: LoadedTrace) -> None:
    depth = check_tree([n.id for n in loaded.nodes], [n.parent_id for n in loaded.nodes])
    store.add_traces([(loaded.trace, nodes_to_arrow(loaded.nodes), depth, None)], actor=DANA)
