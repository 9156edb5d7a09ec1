"""Streamlit plumbing the pages share: the one Store, cached trace views, and showing untrusted text.

Widget callbacks and ``format_func``s get small values only (ids, labels, small dicts of strings), never a
trace or a view: Streamlit keeps every widget's metadata, callbacks included, for the whole session, so a
callback that held a view would keep that trace alive in every session that showed it, whatever the trace
cache lets go.

The app finds its database in ``streamlit run app.py -- --db FILE``, else in
$TRELLIS_STORE, else ./trellis.lake.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from core.align import Alignment, align
from core.auth import Action, Actor, Role, local_actor
from core.cache import TraceCache, budget_from_environment
from core.errors import StoreError
from core.explore import TraceStats, trace_stats
from core.figures import Overview, overview_figure
from core.model_catalog import STRUCTURAL, CatalogError, ModelEntry, load_catalog
from core.store import Store, default_db_path
from core.tasks.load import task_file_paths
from core.text import SHOWN_CHARS
from core.traceview import TraceView


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
    """The process's one Store; each session's thread reads through its own cursor.

    Every page reaches the data through here, and nobody reads it before signing in (when login is configured):
    the frame (pages.run) asks first, and this asks again.
    """
    require_login()
    return _store_or_stop(db_path())


log = logging.getLogger(__name__)

STORE_UNAVAILABLE = ("The trace database cannot be opened right now, most likely because another program "
                     "(such as the trellis command line) is using it; try again when it has finished.")
PAGE_FAILED = "This page could not be shown because of an unexpected problem; the details are in the server log."


def _store_or_stop(path: str) -> Store:
    # The path and the process holding the file are for the operator's log, not for every visitor.
    try:
        return _open_store(path)
    except StoreError as exc:
        log.error("cannot open the database: %s", exc)
        st.error(STORE_UNAVAILABLE, icon=":material/error:")
        st.stop()


class _PageFailed(Exception):
    """A page that failed, as people see it."""


_PageFailed.__name__ = ""  # st.exception shows an exception's class name before its message: there is none to show


def show_failure(exc: Exception) -> None:
    """One sentence for a page that raised; its traceback goes to the server log.

    Shown as an exception element, not st.error, so AppTest's ``at.exception`` still reports the failure.
    """
    log.error("page failed", exc_info=exc)
    st.exception(_PageFailed(PAGE_FAILED))


def fragment(body: Callable | None = None, *, run_every: float | None = None) -> Callable:
    """``st.fragment`` with the app's one sentence for a failure: Streamlit shows a fragment's exception itself,
    so pages.run's handler never sees one raised in a fragment's own rerun. ``@fragment(run_every=S)`` also
    reruns it every S seconds."""
    if body is None:
        return functools.partial(fragment, run_every=run_every)

    @functools.wraps(body)
    def guarded(*args, **kwargs):
        try:
            return body(*args, **kwargs)
        except Exception as exc:  # st.stop() and st.rerun() are not Exceptions: they pass through
            show_failure(exc)

    return st.fragment(guarded, run_every=run_every)


@st.cache_resource(show_spinner=False)
def _trace_cache() -> TraceCache:
    """The process's one cache of loaded traces, bounded in bytes ($TRELLIS_CACHE_MB, see core.cache)."""
    return TraceCache(budget_from_environment())


# The stored traces' revisions, read once per run of a page (``new_run``): reading them costs a query of the
# catalog. A change another process made shows at the page's next run; a fragment's own rerun (a click in the
# tree) goes on with the trace as its page run found it, as the tree already in the browser does.
_REVISIONS = "_trace_revisions"


def new_run() -> None:
    """Forget what the last run read of the store's revisions: this run reads them afresh when it needs them."""
    st.session_state.pop(_REVISIONS, None)


def _revision(trace_id: str) -> tuple | None:
    """The trace's revision as stored now (Store.trace_revisions): another process may have replaced it or the
    collector grown it since it was cached."""
    path = db_path()
    revisions = st.session_state.setdefault(_REVISIONS, {})
    if path not in revisions:
        revisions[path] = _open_store(path).trace_revisions()
    return revisions[path].get(trace_id)


# Loaded traces are shared by every session, never copied: a copy of 100,000 nodes per rerun would cost more
# than loading them. Keys include the database path so tests with several databases in one process never mix them
# up, and the trace's revision so a trace changed in the store is loaded again (the old view ages out of the cache).
def trace_view(trace_id: str) -> TraceView:
    path = db_path()

    def load() -> TraceView:
        with st.spinner("Loading the trace…"):
            return TraceView.build(_open_store(path).load_trace(trace_id))

    return _trace_cache().get(("view", path, trace_id, _revision(trace_id)), load)


# What is derived from a view is built from the view the page already holds: a trace too big to be kept
# would otherwise be loaded again for each.
def overview(view: TraceView, size_by: str, colour_by: str) -> Overview:
    key = ("overview", db_path(), view.trace.id, _revision(view.trace.id), size_by, colour_by)
    return _trace_cache().get(key, lambda: overview_figure(view, size_by, colour_by))


def stats(view: TraceView) -> TraceStats:
    return _trace_cache().get(("stats", db_path(), view.trace.id, _revision(view.trace.id)), lambda: trace_stats(view))


def annotation_counts(trace_id: str) -> dict[str, int]:
    """Annotations per node of a trace, rejected ones left out (not cached: reviews change them)."""
    return dict(Counter(a.node_id for a in store().list_annotations(trace_id) if a.status != "rejected" and a.node_id))


def alignment(left: TraceView, right: TraceView) -> Alignment:
    def build() -> Alignment:
        with st.spinner("Aligning the two trees…"):
            return align(list(left.nodes.values()), list(right.nodes.values()))

    key = ("alignment", db_path(), left.trace.id, _revision(left.trace.id), right.trace.id, _revision(right.trace.id))
    return _trace_cache().get(key, build)


# ------------------------------------------------------------ untrusted text

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$=&\"'])")


# GFM links bare "scheme://", "www." and "name@host" even when each character is escaped; a zero-width
# space inside each leaves nothing to link, and text search (the browser's, Playwright's) ignores it.
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)
ZERO_WIDTH_SPACE = "\u200b"


def plain(text: str) -> str:
    """Trace text made safe for a place Streamlit renders as Markdown (labels, headers): every
    Markdown, HTML, colour (:red[...]) and icon (:icon:) marker backslash-escaped, bare URLs and
    e-mail addresses made inert, on one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _AUTOLINK.sub(ZERO_WIDTH_SPACE, " ".join(text.split())))


def show_text(
    label: str, text: str | None, *, height: int | None = None, language: str | None = None,
    file_name: str = "text.txt", full: Callable[[], str] | None = None,
) -> None:
    """A labelled block of trace text, shown as text (never Markdown), wrapping long lines.

    Only the first SHOWN_CHARS characters go to the browser: a 150 MB field sent whole crashes the tab.
    A longer text says how much is shown and offers all of it as a download, made only when clicked
    (by ``full`` if given, for text built just to be shown) and fetched over HTTP, not the websocket.
    """
    st.caption(label)
    if not text:
        st.text("—")
        return
    shown = text[:SHOWN_CHARS]
    st.code(shown, language=language, wrap_lines=True, height=height if height and len(shown) > 800 else "content")
    if len(shown) < len(text):
        st.caption(f"Showing the first {len(shown):,} of {len(text):,} characters.")
        st.download_button(
            f"Download all {len(text):,} characters", full or (lambda: text), file_name=file_name,
            mime="application/json" if language == "json" else "text/plain", on_click="ignore",
            icon=":material/download:", key=f"full-text:{label}",
        )


def login_configured() -> bool:
    """Login is on when the operator configured an identity provider ([auth] in .streamlit/secrets.toml)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml (Streamlit's StreamlitSecretNotFoundError is one)
        return False


def actor() -> Actor:
    """Who is acting: the signed-in person with the role the store gives them (viewer until granted more),
    or, without login configured, the local single user, who may do everything."""
    if not login_configured():
        return local_actor()
    name = str(st.user.get("email") or st.user.get("sub") or "").strip().lower()
    return Actor(name=name, role=_store_or_stop(db_path()).role_of(name) or Role.VIEWER)


def signed_in() -> bool:
    """Signed in, or nobody needs to be (local single-user mode)."""
    return not login_configured() or bool(st.user.get("is_logged_in"))


def require_login() -> None:
    """With login configured, nobody sees anything but the sign-in button before signing in."""
    if not signed_in():
        st.title("Trellis")
        st.write("Sign in to see and review traces.")
        st.button("Log in", type="primary", on_click=st.login, icon=":material/login:")
        st.stop()


def show_identity() -> None:
    """Who is acting, in the sidebar of every page."""
    who = actor()
    with st.sidebar:
        if who.single_user:
            st.caption(
                f"**Local single-user mode**: acting as {plain(who.name)}, who may do everything. "
                "Configure login to share this app with others."
            )
        else:
            st.caption(f"Signed in as {plain(who.name)} · **{who.role}**")
            st.button("Log out", on_click=st.logout, icon=":material/logout:")


def may(action: Action) -> bool:
    """Whether the person acting may do ``action`` (the store checks again when they do it)."""
    return actor().can(action)


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


def task_sets() -> tuple[Path, dict[str, Path]]:
    """The server's folder of task sets and its task files by name. Task sets come from the server's folder
    ($TRELLIS_TASKS, else sample_tasks/), never from a path a visitor types."""
    folder = Path(os.environ.get("TRELLIS_TASKS") or Path(__file__).resolve().parents[1] / "sample_tasks")
    return folder, {str(p.relative_to(folder)): p for p in task_file_paths([folder])} if folder.is_dir() else {}


def students() -> dict[str, ModelEntry]:
    """The models the operator configured that may be students (the structural critic is not a model)."""
    try:
        return {name: entry for name, entry in model_catalog().items() if name != STRUCTURAL}
    except CatalogError as exc:
        st.error(f"{plain(str(exc))} · no student model can be offered until the models file is fixed.")
        return {}


def model_catalog() -> dict[str, ModelEntry]:
    """The models the operator allows, and the only ones a page may offer: the models file, then the
    [models.NAME] tables of .streamlit/secrets.toml. A bad configuration raises CatalogError."""
    try:
        models = st.secrets.to_dict().get("models")
    except FileNotFoundError:  # no secrets.toml: the models file alone
        models = None
    return load_catalog(models, db=db_path())


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    import pages

    pages.run()


# ---------------------------------------------------------------- long work (a batch, an experiment)


@dataclass
class RunningWork:
    """Long work this session's script is running, in st.session_state from its start to its end: finding it there
    on a later run means that the script was stopped midway (Cancel, or leaving the page)."""

    name: str  # what it is called: a batch's or an experiment's id
    runs: int  # how many runs it makes
    busy: threading.Lock = field(default_factory=threading.Lock)  # held by the script running it


def cancelled(key: str, kept: Callable[[str], int]) -> tuple[RunningWork, int] | None:
    """The work a Cancel (or leaving the page) stopped, and how many of its runs ``kept(name)`` finds stored."""
    stopped = st.session_state.get(key)
    if stopped is None:
        return None
    # Streamlit starts this run at once, beside the stopped one, which still waits for the model's answer under way
    # and stops at its next st call, having stored the run if that answer finished it: wait for it, to count what it
    # kept and to never run the same task twice at once.
    with st.spinner(f"Cancelling {stopped.name}: waiting for the model's answer under way…"), stopped.busy:
        count = kept(stopped.name)
    st.session_state.pop(key, None)  # only now: a run started meanwhile waits for the same lock
    return stopped, count


@contextmanager
def running(key: str, work: RunningWork, label: str) -> Iterator:
    """Show ``label`` in an expanded status with a Cancel button while the block runs ``work``; yields the status.
    Pressing Cancel reruns the page, which stops the block at its next st call (a progress line, before each model
    call, after each run); each run finished by then is already stored, in its own transaction, and the one under
    way is dropped whole."""
    with work.busy:
        st.session_state[key] = work
        with st.status(label, expanded=True) as status:
            cancel = st.empty()
            cancel.button("Cancel", key=f"cancel-{key}", help="Stop: the runs finished so far are kept.")
            yield status
            cancel.empty()
        st.session_state.pop(key, None)  # under the lock: a run waiting for it may start new work next
