"""The app's pages, listed once, and the frame every page runs in.

app.py's navigation, the links between pages (``page``, ``url``) and the tests all read ``PAGES``. A page is
the function ``page()`` of the module of its name in this folder, served at ``/<name>``.

Why functions, and why every module here ends in ``if __name__ == "__main__": pages.run()``: a ``pages/``
folder beside app.py makes Streamlit 1.67 start each server in its legacy multipage mode, where the first script
run of the process, for a link to ``/<name>``, runs ``pages/<name>.py`` as a script instead of app.py (any
``*.py`` here but ``__init__.py``). The navigation never runs a module here as a script (its pages are
functions), so a module run as one is that first run: it runs the app, whose ``st.navigation`` ends the legacy
mode for every session and routes the link to its page, in the same run. AppTest starts each of its runs in
the legacy mode, so the tests go this way too.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

from pages import ui


@dataclass(frozen=True)
class Entry:
    name: str  # the module pages/<name>.py and the address /<name>
    title: str
    icon: str

    @property
    def file(self) -> Path:
        """The page's module file. AppTest.switch_page takes it before a test's first run: Streamlit then
        finds a page by its file name, which is the page's address."""
        return Path(__file__).parent / f"{self.name}.py"


PAGES: dict[str, Entry] = {entry.name: entry for entry in (
    Entry("home", "Home", ":material/home:"),
    Entry("library", "Library", ":material/table_rows:"),
    Entry("trace", "Trace", ":material/account_tree:"),
    Entry("compare", "Compare", ":material/compare_arrows:"),
    Entry("critique", "Critique", ":material/rate_review:"),
    Entry("scaffolds", "Scaffolds", ":material/schema:"),
    Entry("runs", "Runs", ":material/play_circle:"),
    Entry("experiments", "Experiments", ":material/science:"),
    Entry("audit", "Audit", ":material/history:"),
)}
HOME = "home"  # the default page, also served at /


def page(name: str) -> st.Page:
    """A page of the app, for st.navigation, st.page_link and st.switch_page."""
    entry = PAGES[name]
    module = importlib.import_module(f"{__name__}.{name}")
    return st.Page(module.page, title=entry.title, icon=entry.icon, url_path=name, default=name == HOME)


def url(name: str, **params: str) -> str:
    """A link to a page that can be shared, e.g. url("trace", trace="t1", node="n4")."""
    return f"./{PAGES[name].name}" + (f"?{urlencode(params)}" if params else "")


LAST_TRACE = "last_trace_address"  # session state: the ?trace= and ?node= of the trace last open in this session


def reopen_last_trace(current: st.Page) -> None:
    """The sidebar's Trace entry is /trace with no address: there, reopen the trace (and node) last open in this
    session, as the trace page's address named them; elsewhere, nothing.

    Recorded on every run of the whole trace page; a node picked inside one of its fragments (a rerun of that part
    alone, which does not pass here) is recorded when the trace page calls ``remember_trace`` as it selects it."""
    if current.url_path != PAGES["trace"].name:
        return
    if st.query_params.get("trace"):
        remember_trace()
    elif LAST_TRACE in st.session_state:
        st.query_params.update(st.session_state[LAST_TRACE])


def remember_trace() -> None:
    """Keep the trace page's address (?trace=, ?node=) for the sidebar's Trace entry (see reopen_last_trace)."""
    address = st.query_params
    st.session_state[LAST_TRACE] = {name: address[name] for name in ("trace", "node") if name in address}


def run() -> None:
    """The app: navigation over every page, sign-in, who is acting, and one sentence for a page that fails."""
    st.set_page_config(page_title="Trellis", layout="wide")
    current = st.navigation([page(name) for name in PAGES], position="sidebar" if ui.signed_in() else "hidden")
    ui.require_login()
    reopen_last_trace(current)
    ui.show_identity()
    ui.new_run()
    try:
        current.run()
    except Exception as exc:  # st.stop() and st.rerun() are not Exceptions: they pass through
        ui.show_failure(exc)
