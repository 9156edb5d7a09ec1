"""Drawing a trace: graphviz DOT for the tree window, plotly figures for the overview and timeline.

Trace text is untrusted. In DOT it is always inside a quoted string with
backslashes and quotes escaped, so it can neither end the string nor use
graphviz's escape sequences. Plotly renders a subset of HTML in labels and
hover text (including links), so every piece of trace text given to plotly is
HTML-escaped first and shows as the characters it is.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice

import plotly.graph_objects as go

from core.explore import TraceView, WindowEntry, one_line

# Shape and fill per node kind; errors and the selection are marked by the border.
KIND_STYLE = {
    "decompose": ("folder", "#cfe0fc"),
    "recurse": ("box", "#d5f0d5"),
    "leaf": ("note", "#fff2c2"),
    "aggregate": ("box3d", "#ead7f7"),
    "llm": ("box", "#e8e8e8"),
    "tool": ("component", "#fde0c8"),
    "other": ("box", "#ffffff"),
}
KIND_COLOUR = {kind: fill for kind, (_, fill) in KIND_STYLE.items()}
STATUS_COLOUR = {"ok": "#b9dfc4", "error": "#f2a3a3"}
ERROR_BORDER = "#c62828"
SELECTED_BORDER = "#1565c0"
MATCH_FILL = "#fff59d"

LABEL_WIDTH = 34  # characters per line of sub-problem text in a tree box
LABEL_LINES = 2


# --------------------------------------------------------------------- DOT


def dot_string(text: str) -> str:
    """``text`` as a DOT quoted string that graphviz shows literally, on one line."""
    text = _CONTROL_CHARACTERS.sub(" ", text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")  # newlines, tabs, NUL: none belong in a one-line label


def tree_dot(
    view: TraceView,
    window: Sequence[WindowEntry],
    selected: str | None = None,
    *,
    highlighted: Collection[str] = (),
    tags: Mapping[str, str] | None = None,
    outlined: Collection[str] = (),
    annotation_counts: Mapping[str, int] | None = None,
) -> str:
    """A graphviz digraph of the window: one box per node, stand-ins as plain text.

    ``highlighted`` nodes (search matches) are filled yellow; ``tags`` adds a
    short marker to a node's badge line (e.g. the number of its match in a
    comparison); ``outlined`` nodes get a dashed red border (e.g. present in
    only one of two compared traces).
    """
    tags = tags or {}
    annotation_counts = annotation_counts or {}
    ids = {entry.key: f"n{i}" for i, entry in enumerate(window)}
    lines = [
        "digraph trace {",
        '  graph [rankdir=LR, nodesep=0.12, ranksep=0.35, bgcolor="transparent"];',
        '  node [fontname="Helvetica", fontsize=10, margin="0.08,0.04"];',
        '  edge [color="#9e9e9e", arrowsize=0.5];',
    ]
    for entry in window:
        if entry.is_node:
            node_id = entry.node_id
            lines.append(
                f"  {ids[entry.key]} ["
                + _node_attributes(
                    view,
                    entry,
                    selected=node_id == selected,
                    highlighted=node_id in highlighted,
                    tag=tags.get(node_id, ""),
                    outlined=node_id in outlined,
                    annotations=annotation_counts.get(node_id, 0),
                )
                + "];"
            )
        else:
            lines.append(f'  {ids[entry.key]} [shape=plaintext, fontcolor="#757575", label={dot_string(entry.note)}];')
        if entry.parent_key is not None:
            lines.append(f"  {ids[entry.parent_key]} -> {ids[entry.key]};")
    lines.append("}")
    return "\n".join(lines)


def _node_attributes(
    view: TraceView, entry: WindowEntry, *, selected: bool, highlighted: bool, tag: str, outlined: bool, annotations: int
) -> str:
    node = view.nodes[entry.node_id]
    shape, fill = KIND_STYLE.get(node.kind, KIND_STYLE["other"])
    # \n in a DOT string is graphviz's centred line break; the text itself has no backslashes left.
    label = "\\n".join(dot_string(line)[1:-1] for line in _label_lines(view, entry, tag, annotations))
    style = ["filled"] + (["rounded"] if shape == "box" else []) + (["dashed"] if outlined else [])
    attributes = [
        f"shape={shape}",
        f'label="{label}"',
        f'fillcolor="{MATCH_FILL if highlighted else fill}"',
        f'style="{",".join(style)}"',
    ]
    # One border says the most important thing: selected, else failed, else unmatched.
    if selected:
        attributes += [f'color="{SELECTED_BORDER}"', "penwidth=3"]
    elif node.status == "error":
        attributes += [f'color="{ERROR_BORDER}"', "penwidth=2"]
    elif outlined:
        attributes.append(f'color="{ERROR_BORDER}"')
    return ", ".join(attributes)


def _label_lines(view: TraceView, entry: WindowEntry, tag: str, annotations: int) -> list[str]:
    node = view.nodes[entry.node_id]
    title = node.kind + (f" · {one_line(node.name, 24)}" if node.name and node.subproblem else "")
    text = one_line(node.subproblem or node.name or node.id, LABEL_WIDTH * LABEL_LINES)
    # break_long_words: an unbroken string must not make one very wide box.
    wrapped = textwrap.wrap(text, LABEL_WIDTH, break_long_words=True, max_lines=LABEL_LINES, placeholder="…")
    badges = []
    if tag:
        badges.append(tag)
    if node.tokens:
        badges.append(f"{short_number(node.tokens)} tok")
    children = len(view.children(node.id))
    if children:
        badges.append(f"{children} child" + ("ren" if children != 1 else ""))
    if node.status == "error":
        badges.append("ERROR")
    if annotations:
        badges.append(f"{annotations} notes")
    if entry.hidden:
        badges.append(f"+{entry.hidden:,} hidden")
    return [title, *wrapped, " · ".join(badges)] if badges else [title, *wrapped]


def short_number(value: float) -> str:
    """1234 as 1.2k, 5_600_000 as 5.6M: a number that fits a badge or a metric."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:g}"


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
    figure = go.Figure()
    by_kind: dict[str, list[tuple[int, object]]] = {}
    for row, node in enumerate(timed):
        by_kind.setdefault(node.kind, []).append((row, node))
    for kind, rows in by_kind.items():
        offsets = [(n.start_time - origin).total_seconds() * 1000 for _, n in rows]
        durations = [
            max(((n.end_time or n.start_time) - n.start_time).total_seconds() * 1000, 1.0) for _, n in rows
        ]
        figure.add_trace(
            go.Bar(
                name=kind,
                orientation="h",
                y=[row for row, _ in rows],
                x=durations,
                base=offsets,
                marker={"color": KIND_COLOUR.get(kind, "#ffffff"), "line": {"color": "#616161", "width": 0.5}},
                hovertext=[
                    f"{html.escape(view.label(n.id, 80))}<br>{d:,.0f} ms · {n.tokens:,} tokens"
                    + (" · ERROR" if n.status == "error" else "")
                    for (_, n), d in zip(rows, durations)
                ],
                hoverinfo="text",
            )
        )
    figure.update_layout(
        barmode="overlay",
        height=100 + 18 * len(timed),
        margin={"t": 8, "l": 8, "r": 8, "b": 8},
        xaxis={"title": {"text": "milliseconds from the first call"}},
        yaxis={
            "autorange": "reversed",
            "tickvals": list(range(len(timed))),
            "ticktext": [html.escape(one_line(view.label(n.id), 40)) for n in timed],
        },
        legend={"orientation": "h"},
    )
    return figure
