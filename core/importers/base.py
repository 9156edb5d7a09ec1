"""What every importer returns, whatever the source format."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.models import Node, Trace


@dataclass
class ParsedTrace:
    """A trace read from a file, not yet validated as a tree nor stored."""

    trace: Trace
    nodes: list[Node]
    warnings: list[str] = field(default_factory=list)
