"""Audit: who changed what and when; people and their roles (admins grant them here or with `trellis user grant`)."""

import pandas as pd
import streamlit as st

import pages
from core.auth import ROLES, Action, normalise_email
from core.errors import TrellisError
from pages import ui


def page() -> None:
    store = ui.store()
    st.title("Audit")

    st.subheader("People and roles")
    grants = store.list_users()
    if grants:
        st.dataframe(
            pd.DataFrame([{"e-mail": g.email, "role": str(g.role), "granted by": g.granted_by, "granted at": g.granted_at}
                          for g in grants]),
            hide_index=True, width="stretch",
        )
    else:
        st.caption("Nobody has been given a role yet. Signed-in people are viewers until an admin grants more.")
    if ui.may(Action.GRANT):
        with st.form("grant", clear_on_submit=True, border=True):
            left, right = st.columns([3, 1])
            email = left.text_input("E-mail, as the identity provider reports it")
            role = right.selectbox("Role", [str(r) for r in ROLES], index=1)
            if st.form_submit_button("Grant", icon=":material/person_add:"):
                try:
                    grant = store.grant_role(normalise_email(email), role, ui.actor())
                except TrellisError as exc:
                    st.error(ui.plain(str(exc)), icon=":material/error:")
                else:
                    st.session_state.audit_flash = f"{grant.email} is now {grant.role}."
                    st.rerun()
    if flash := st.session_state.pop("audit_flash", None):
        st.success(ui.plain(flash), icon=":material/check_circle:")

    st.subheader("Changes")
    limit = st.select_slider("Show the latest", [50, 200, 1000, 5000], value=200)
    entries = store.audit_log(limit)
    if not entries:
        st.info("Nothing has changed yet.")
    else:
        st.dataframe(
            pd.DataFrame([{"when": e.happened_at, "who": e.actor, "action": e.action, "on": e.target,
                           "details": ", ".join(f"{k}: {v}" for k, v in e.details.items())} for e in entries]),
            hide_index=True, width="stretch",
        )


if __name__ == "__main__":  # run as a script, as every module here may be: see pages/__init__.py
    pages.run()
