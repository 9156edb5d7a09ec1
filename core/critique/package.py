"""The critique transfer package: reviewed critique a student model can be given."""

from __future__ import annotations

from typing import Any

from core.critique.models import SEVERITY_RANK, Annotation
from core.models import LoadedTrace

REVIEWED = ("accepted", "edited")


def build_package(student: LoadedTrace, annotations: list[Annotation], reference_id: str | None = None) -> dict[str, Any]:
    """JSON-ready package of the accepted (and edited) annotations, plus the prompt block."""
    by_id = {n.id: n for n in student.nodes}
    reviewed = sorted(
        (a for a in annotations if a.status in REVIEWED), key=lambda a: -SEVERITY_RANK[a.severity]
    )
    items = [
        {
            "node_id": a.node_id,
            "subproblem": by_id[a.node_id].subproblem if a.node_id in by_id else None,
            "category": a.category,
            "severity": a.severity,
            "rationale": a.rationale,
            "suggested_fix": a.suggested_fix,
            "suggested_subproblems": a.suggested_subproblems,
            "reviewed_by": a.reviewer,
        }
        for a in reviewed
    ]
    trace = student.trace
    return {
        "format": "trellis-critique",
        "version": 1,
        "student": {"trace_id": trace.id, "task": trace.task, "task_class": trace.task_class,
                    "agent": trace.agent, "model_size": trace.model_size},
        "reference_trace_id": reference_id,
        "annotations": items,
        "prompt": render_prompt(trace.task or trace.title, items),
    }


def render_prompt(task: str, items: list[dict[str, Any]]) -> str:
    if not items:
        return "No reviewed critique for this task yet."
    lines = [
        "A reviewer checked how you decomposed this task last time:",
        f"  {' '.join(task.split())}",
        "",
        "Apply these corrections to your decomposition (most important first):",
    ]
    for number, item in enumerate(items, start=1):
        where = f" at \"{' '.join(item['subproblem'].split())[:120]}\"" if item["subproblem"] else ""
        lines.append(f"{number}. [{item['severity']} · {item['category'].replace('_', ' ')}]{where}: {item['rationale']}")
        if item["suggested_fix"]:
            lines.append(f"   Do instead: {item['suggested_fix']}")
        for sub in item["suggested_subproblems"]:
            lines.append(f"   - sub-problem: {sub}")
    return "\n".join(lines)
