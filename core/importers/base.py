"""What every importer returns, whatever the source format."""

from __future__ import annotations

from dataclasses import dataclass, field

from datetime import datetime

from core.models import Node, NodeKind, Trace


@dataclass
class ParsedTrace:
    """A trace read from a file, not yet validated as a tree nor stored."""

    trace: Trace
    nodes: list[Node]
    warnings: list[str] = field(default_factory=list)


def join_roots(nodes: list[Node], synthetic_id: str, what: str, trace_id: str) -> str | None:
    """Put one synthetic root above several roots, which the rest of Trellis needs; returns the warning."""
    roots = [node for node in nodes if node.parent_id is None]
    if len(roots) < 2:
        return None
    for node in roots:
        node.parent_id = synthetic_id
    starts: list[datetime] = [n.start_time for n in roots if n.start_time]
    ends: list[datetime] = [n.end_time for n in roots if n.end_time]
    nodes.insert(0, Node(
        id=synthetic_id, kind=NodeKind.OTHER, name="(trace root)", start_time=min(starts, default=None),
        end_time=max(ends, default=None), metadata={"synthetic": True},
    ))
    return f"trace {trace_id} has {len(roots)} root {what}; added a synthetic root {synthetic_id!r} above them"
