"""Graphviz DOT for the tree window: the part of a trace drawn around the selected node.

Trace text is untrusted. In DOT it is always inside a quoted string with
backslashes and quotes escaped, so it can neither end the string nor use
graphviz's escape sequences.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Collection, Mapping, Sequence

from core.explore import WindowEntry
from core.text import short_number, shorten
from core.traceview import TraceView

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

# Narrow boxes: a picture of three levels then fits a 500 px column (a 1024 px window with the sidebar open)
# without being scaled below 12 px.
LABEL_WIDTH = 20  # characters per line of sub-problem text in a tree box
LABEL_LINES = 3
FONT_SIZE = 14  # points, one CSS pixel each in the SVG: drawn at its own size, the text reads at 14 px


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
        '  graph [rankdir=LR, nodesep=0.12, ranksep=0.3, bgcolor="transparent"];',
        f'  node [fontname="Helvetica", fontsize={FONT_SIZE}, margin="0.1,0.05"];',
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
    title = node.kind + (f" · {shorten(node.name, 16)}" if node.name and node.subproblem else "")
    text = shorten(node.subproblem or node.name or node.id, LABEL_WIDTH * LABEL_LINES)
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
    # At most two short lines of badges, so they never make a box wider than its text.
    first, rest = badges[:2], badges[2:] + ([f"+{entry.hidden:,} hidden"] if entry.hidden else [])
    return [title, *wrapped] + [" · ".join(part) for part in (first, rest) if part]
