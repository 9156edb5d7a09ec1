"""The trace tree: every node of a trace in a collapsible, virtualised list, clicked to select a node.

A Streamlit v2 component (``st.components.v2.component``): the HTML, CSS and JS beside this file are sent inline.
The tree's rows (core.explore.tree_rows) go to the browser once per session and trace; each later run sends
only the selection and the search matches, so a click costs the same on a 100-node and a 100,000-node trace.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

import streamlit as st
from streamlit.components.v2 import component

from core.explore import tree_rows
from core.traceview import TraceView

_HERE = Path(__file__).parent
_COMPONENT = component(
    "trellis.trace_tree",
    html='<div class="trellis-tree"></div>',
    css=(_HERE / "tree.css").read_text(encoding="utf-8"),
    js=(_HERE / "tree.js").read_text(encoding="utf-8"),
)
MATCHES_SHOWN = 1_000  # search matches marked in the tree; the search box says how many there are in all


def _sent(key: str) -> str:
    return f"{key}:sent"


def _ask_again(key: str) -> None:
    """The browser has not got the rows (a reloaded page): send them with the next run."""
    st.session_state.pop(_sent(key), None)


def _selected(key: str, on_select: Callable[[str], None]) -> None:
    node_id = st.session_state[key]["selected"]
    if node_id:
        on_select(node_id)


def trace_tree(view: TraceView, selected: str, *, key: str, on_select: Callable[[str], None],
               matched: Collection[str] = (), height: int = 560) -> None:
    """The tree of ``view`` with ``selected`` shown; a click calls ``on_select(node_id)`` (a module function)."""
    version = f"{view.trace.id}:{id(view):x}:{len(view.preorder)}"  # a trace replaced or loaded again is sent again
    send_rows = st.session_state.get(_sent(key)) != version
    st.session_state[_sent(key)] = version
    _COMPONENT(
        key=key,
        data={"key": version, "tree": tree_rows(view) if send_rows else None, "selected": selected,
              "matched": list(matched)[:MATCHES_SHOWN], "height": height},
        on_selected_change=lambda: _selected(key, on_select),
        on_missing_change=lambda: _ask_again(key),
    )
