"""Trellis in the browser: `streamlit run app.py -- --db trellis.duckdb`."""

import streamlit as st

import ui

st.set_page_config(page_title="Trellis", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/library.py", title="Library", icon=":material/table_rows:"),
    st.Page("pages/trace.py", title="Trace", icon=":material/account_tree:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/critique.py", title="Critique", icon=":material/rate_review:"),
    st.Page("pages/scaffolds.py", title="Scaffolds", icon=":material/schema:"),
    st.Page("pages/audit.py", title="Audit", icon=":material/history:"),
]
page = st.navigation(pages, position="sidebar" if ui.signed_in() else "hidden")
ui.require_login()
ui.show_identity()
try:
    page.run()
except Exception as exc:  # st.stop() and st.rerun() are not Exceptions: they pass through
    ui.show_failure(exc)
