"""Plotly figures of a whole trace: the overview (an icicle) and the timeline.

Trace text is untrusted, and plotly renders a subset of HTML in labels and hover
text (including links), so every piece of trace text given to plotly is
HTML-escaped first and shows as the characters it is.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from itertools import islice

import plotly.graph_objects as go

from core.dot import KIND_COLOUR, STATUS_COLOUR
from core.text import shorten
from core.traceview import TraceView

# ---------------------------------------------------------------- overview

OVERVIEW_SEGMENTS = 3000  # most segments sent to the browser; a deeper tree is summed into its ancestors
LABEL_CHARS = 40


@dataclass
class Overview:
    figure: go.Figure
    segment_nodes: list[str | None]  # node id of each segment (plotly id = its index); None for "+N more"
    shown_depth: int  # deepest level drawn in full
    note: str  # what was left out or substituted, in words; empty if nothing


def overview_figure(
    view: TraceView, size_by: str = "tokens", colour_by: str = "kind", max_segments: int = OVERVIEW_SEGMENTS
) -> Overview:
    """An icicle of the whole tree, each node as wide as its subtree's ``size_by`` total.

    Levels are added whole while they fit in ``max_segments``; the first level
    that does not fit is cut to each parent's largest children plus one
    "+N more" segment per parent, and nothing below it is sent. A node's
    segment always covers its whole subtree, so the picture stays true.
    """
    notes = []
    totals = view.subtree_totals(size_by)
    if not totals[view.root]:
        notes.append(f"no node records {size_by}; sized by node count instead")
        size_by, totals = "nodes", view.subtree_totals("nodes")

    segments: list[str | None] = [view.root]
    parents: list[int | None] = [None]
    values: list[float] = [totals[view.root]]
    labels: list[str] = [view.label(view.root, LABEL_CHARS)]
    frontier = [(view.root, 0)]  # (node id, segment index)
    shown_depth = 0
    while frontier:
        level = [(child, i) for node_id, i in frontier for child in view.children(node_id)]
        if not level:
            break
        room = max_segments - len(segments)
        if len(level) <= room:
            cut = None
        elif room >= 2 * len(frontier):
            cut = room // len(frontier) - 1  # children per parent, leaving one "+N more" segment each
        else:
            notes.append(f"levels below {shown_depth} are summed into their ancestors")
            break
        following = []
        for node_id, parent_index in frontier:
            children = view.children(node_id)
            kept = children if cut is None or len(children) <= cut + 1 else sorted(children, key=totals.get)[-cut:]
            kept_set = set(kept)
            for child in children:
                if child in kept_set:
                    following.append((child, len(segments)))
                    segments.append(child)
                    parents.append(parent_index)
                    values.append(totals[child])
                    labels.append(view.label(child, LABEL_CHARS))
            rest = [c for c in children if c not in kept_set]
            if rest:
                segments.append(None)
                parents.append(parent_index)
                values.append(sum(totals[c] for c in rest))
                labels.append(f"+{len(rest):,} more")
        shown_depth += 1
        if cut is not None:
            notes.append(f"level {shown_depth} shows each node's largest children; the rest are summed as '+N more'")
            break
        frontier = following

    figure = _icicle(view, segments, parents, values, labels, size_by, colour_by)
    return Overview(figure, segments, shown_depth, "; ".join(notes))


def _icicle(view, segments, parents, values, labels, size_by, colour_by) -> go.Figure:
    colours, hover = [], []
    for node_id, value in zip(segments, values):
        if node_id is None:
            colours.append("#eeeeee")
            hover.append(f"{_format_measure(value, size_by)} in nodes not drawn")
            continue
        node = view.nodes[node_id]
        palette, key = (KIND_COLOUR, node.kind) if colour_by == "kind" else (STATUS_COLOUR, node.status)
        colours.append(palette.get(key, "#ffffff"))
        hover.append(f"{node.kind} · {node.status} · {_format_measure(value, size_by)} · {view.subtree_size[node_id]:,} nodes")
    icicle = go.Icicle(
        ids=[str(i) for i in range(len(segments))],
        parents=["" if p is None else str(p) for p in parents],
        values=values,
        labels=[html.escape(label) for label in labels],
        branchvalues="total",
        marker={"colors": colours, "line": {"width": 0.5, "color": "#ffffff"}},
        # The label is the sub-problem cut short; the hover adds the numbers. Kept brief: it is sent per segment.
        hovertext=hover,
        hovertemplate="%{label}<br>%{hovertext}<extra></extra>",
        tiling={"orientation": "v"},
        maxdepth=6,
        sort=False,
    )
    figure = go.Figure(icicle)
    figure.update_layout(margin={"t": 4, "l": 4, "r": 4, "b": 4}, height=420, uniformtext={"minsize": 9, "mode": "hide"})
    return figure


def _format_measure(value: float, measure: str) -> str:
    if measure == "cost":
        return f"${value / 1_000_000:,.4f}"
    return f"{value:,.0f} {'tokens' if measure == 'tokens' else 'nodes'}"


# ---------------------------------------------------------------- timeline

TIMELINE_CALLS = 80  # rows stay readable: one bar and one label each


TIME_UNIT_SYMBOL = {"milliseconds": "ms", "seconds": "s", "minutes": "min", "hours": "h"}


def time_unit(span_seconds: float) -> tuple[str, float]:
    """The unit a time axis spanning ``span_seconds`` reads best in, and how many of it make a second."""
    if span_seconds < 2:
        return "milliseconds", 1000.0
    if span_seconds < 180:
        return "seconds", 1.0
    if span_seconds < 3 * 3600:
        return "minutes", 1 / 60
    return "hours", 1 / 3600


def duration_text(seconds: float) -> str:
    """A duration as a person reads it: "850 ms", "12.4 s", "3 min 20 s"."""
    if seconds < 1:
        return f"{seconds * 1000:,.0f} ms"
    if seconds < 60:
        return f"{seconds:,.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes:,} min {rest} s" if minutes < 60 else f"{minutes // 60:,} h {minutes % 60} min"


def timeline_figure(view: TraceView, start: str | None = None, max_calls: int = TIMELINE_CALLS) -> go.Figure | None:
    """Calls with start and end times under ``start`` (default the root), one row each in tree order.

    Returns None when no node there has times. At most ``max_calls`` rows, the first in tree order.
    """
    timed = list(islice(
        (view.nodes[node_id] for node_id in view.subtree(start or view.root) if view.nodes[node_id].start_time),
        max_calls,
    ))
    if not timed:
        return None
    origin = min(n.start_time for n in timed)
    ends = [((n.end_time or n.start_time) - origin).total_seconds() for n in timed]
    unit, per_second = time_unit(max(ends))
    figure = go.Figure()
    by_kind: dict[str, list[tuple[int, object]]] = {}
    for row, node in enumerate(timed):
        by_kind.setdefault(node.kind, []).append((row, node))
    for kind, rows in by_kind.items():
        offsets = [(n.start_time - origin).total_seconds() * per_second for _, n in rows]
        seconds = [((n.end_time or n.start_time) - n.start_time).total_seconds() for _, n in rows]
        figure.add_trace(
            go.Bar(
                name=kind,
                orientation="h",
                y=[row for row, _ in rows],
                x=[max(d * per_second, 0.001 * per_second) for d in seconds],  # at least 1 ms wide, to be seen
                base=offsets,
                marker={"color": KIND_COLOUR.get(kind, "#ffffff"), "line": {"color": "#616161", "width": 0.5}},
                hovertext=[
                    f"{html.escape(view.label(n.id, 80))}<br>{duration_text(d)} · {n.tokens:,} tokens"
                    + (" · ERROR" if n.status == "error" else "")
                    for (_, n), d in zip(rows, seconds)
                ],
                hoverinfo="text",
            )
        )
    figure.update_layout(
        barmode="overlay",
        height=100 + 18 * len(timed),
        margin={"t": 8, "l": 8, "r": 8, "b": 8},
        xaxis={"title": {"text": f"{unit} from the first call"}, "ticksuffix": f" {TIME_UNIT_SYMBOL[unit]}"},
        yaxis={
            "autorange": "reversed",
            "tickvals": list(range(len(timed))),
            "ticktext": [html.escape(shorten(view.label(n.id), 40)) for n in timed],
        },
        legend={"orientation": "h"},
    )
    return figure
