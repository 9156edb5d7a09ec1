"""Streamlit plumbing the pages share: the one Store, cached trace views, and showing untrusted text.

The app finds its database in ``streamlit run app.py -- --db FILE``, else in
$TRELLIS_DB, else ./trellis.duckdb.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from core.align import Alignment, align
from core.explore import TraceStats, TraceView, trace_stats
from core.render import Overview, overview_figure
from core.store import Store, default_db_path

# A pages/ folder beside app.py makes Streamlit start in its old multipage mode: the first request
# of a fresh server for a shared link such as /trace?trace=ID runs pages/trace.py alone, without
# app.py's navigation or page setup. Leave that mode and run again; app.py then routes the link.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

PAGES = {
    "home": "pages/home.py",
    "library": "pages/library.py",
    "trace": "pages/trace.py",
    "compare": "pages/compare.py",
    "critique": "pages/critique.py",
    "scaffolds": "pages/scaffolds.py",
}


def db_path() -> str:
    # parse_known_args: under `streamlit run` or pytest, argv holds other options too.
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--db")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args.db or default_db_path()


@st.cache_resource(show_spinner=False)
def _open_store(path: str) -> Store:
    return Store(path)


def store() -> Store:
    """The process's one Store; each session's thread reads through its own cursor."""
    return _open_store(db_path())


# Traces are cached as resources, not data: a copy of 100,000 nodes per rerun would cost more than loading them.
# The key includes the database path so tests with several databases in one process never mix them up.
@st.cache_resource(max_entries=6, show_spinner="Loading the trace…")
def _trace_view(path: str, trace_id: str) -> TraceView:
    return TraceView.load(_open_store(path), trace_id)


def trace_view(trace_id: str) -> TraceView:
    return _trace_view(db_path(), trace_id)


@st.cache_resource(max_entries=12, show_spinner=False)
def _overview(path: str, trace_id: str, size_by: str, colour_by: str) -> Overview:
    return overview_figure(_trace_view(path, trace_id), size_by, colour_by)


def overview(trace_id: str, size_by: str, colour_by: str) -> Overview:
    return _overview(db_path(), trace_id, size_by, colour_by)


@st.cache_resource(max_entries=6, show_spinner=False)
def _stats(path: str, trace_id: str) -> TraceStats:
    return trace_stats(_trace_view(path, trace_id))


def stats(trace_id: str) -> TraceStats:
    return _stats(db_path(), trace_id)


def annotation_counts(trace_id: str) -> dict[str, int]:
    """Annotations per node of a trace, rejected ones left out (not cached: reviews change them)."""
    return dict(Counter(a.node_id for a in store().list_annotations(trace_id) if a.status != "rejected" and a.node_id))


@st.cache_resource(max_entries=4, show_spinner="Aligning the two trees…")
def _alignment(path: str, left_id: str, right_id: str) -> Alignment:
    left, right = _trace_view(path, left_id), _trace_view(path, right_id)
    return align(list(left.nodes.values()), list(right.nodes.values()))


def alignment(left_id: str, right_id: str) -> Alignment:
    return _alignment(db_path(), left_id, right_id)


# ------------------------------------------------------------ untrusted text

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$=&\"'])")


def plain(text: str) -> str:
    """Trace text made safe for a place Streamlit renders as Markdown (labels, headers): every
    Markdown, HTML, colour (:red[...]) and icon (:icon:) marker backslash-escaped, on one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def show_text(label: str, text: str | None, *, height: int | None = None) -> None:
    """A labelled block of trace text, shown as text (never Markdown), wrapping long lines."""
    st.caption(label)
    if text:
        st.code(text, language=None, wrap_lines=True, height=height if height and len(text) > 800 else "content")
    else:
        st.text("—")


def page_url(page: str, **params: str) -> str:
    """A link to a page that can be shared, e.g. page_url("trace", trace="t1", node="n4")."""
    return f"./{page}" + (f"?{urlencode(params)}" if params else "")


def reviewer_name() -> str:
    """Who is acting: the logged-in user when login is configured, else the name entered once this session."""
    if st.user.get("is_logged_in"):
        return str(st.user.get("name") or st.user.get("email") or "")
    return st.session_state.get("reviewer_name", "")


def ask_reviewer_name() -> str:
    """Show who is acting in the sidebar, asking for a name when nobody is logged in; returns the name.

    The name lives outside the widget's own state, so it carries from page to page.
    """
    with st.sidebar:
        if st.user.get("is_logged_in"):
            st.caption(f"Acting as {plain(reviewer_name())}")
        else:
            st.text_input(
                "Your name", value=reviewer_name(), key="reviewer_name_input", placeholder="needed to review or approve",
                help="Recorded with your reviews, edits and approvals.",
                on_change=lambda: st.session_state.update(reviewer_name=st.session_state.reviewer_name_input.strip()),
            )
    return reviewer_name()


def provider_keys_from_secrets() -> None:
    """Provider keys kept in Streamlit secrets (e.g. OPENAI_API_KEY = "...") reach litellm as environment
    variables do; a key already in the environment wins."""
    try:
        secrets = {name: st.secrets[name] for name in st.secrets}
    except FileNotFoundError:  # no secrets.toml: keys come from the environment only
        return
    for name, value in secrets.items():
        if name.isupper() and isinstance(value, str):
            os.environ.setdefault(name, value)
