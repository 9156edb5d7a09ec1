"""The Scaffolds page run by Streamlit's AppTest against a real DuckDB file: extract, edit, compare, review,
export and find, and two people editing the same scaffold at once."""

import os
from unittest import mock

import pytest
from streamlit.testing.v1 import AppTest

from core import Store
from core.auth import Role, local_actor, os_account
from core.scaffolds import ScaffoldStatus
from pages import PAGES
from tests.conftest import ROOT
from tests.support.people import DANA, approve
from tests.support.scaffold_library import import_samples

APP = str(ROOT / "app.py")
SCAFFOLDS = str(PAGES["scaffolds"].file)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "trellis.duckdb"
    with Store(path) as store:
        import_samples(store)
    with mock.patch.dict(os.environ, {"TRELLIS_STORE": str(path)}):
        yield path


def open_scaffolds(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.switch_page(SCAFFOLDS)
    return at.run()


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def shown_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.code, *at.markdown, *at.caption, *at.success, *at.error, *at.info])


def table_with(at: AppTest, column: str):
    """The first table on the page that has this column."""
    return next(t.value for t in at.dataframe if column in t.value.columns)


def unescaped(text: str) -> str:
    """Text as a person reads it: the page backslash-escapes trace text so Markdown never interprets it."""
    return text.replace("\\", "")


def extract_draft(at: AppTest, trace_id: str = "legal-msa-teacher-70b") -> str:
    at.selectbox(key="new_trace").set_value(trace_id)
    button(at, "Extract a draft").click().run()
    assert not at.exception
    return at.query_params["scaffold"][0] if isinstance(at.query_params["scaffold"], list) else at.query_params["scaffold"]


def edit_rows(at: AppTest, scaffold_id: str, base: int, edited=None, added=None, deleted=None) -> AppTest:
    """Type into the sub-problem table the way the browser would send it."""
    at.session_state[f"rows:{scaffold_id}:{base}:0"] = {
        "edited_rows": edited or {}, "added_rows": added or [], "deleted_rows": deleted or []}
    return at.run()


def test_extract_edit_compare_approve_and_export(db):
    at = open_scaffolds()
    scaffold_id = extract_draft(at)
    assert "v1 as a draft. Compression:" in unescaped(at.success[0].value)
    assert "6 of 6 first-level sub-problems kept" in unescaped(at.success[0].value)
    assert at.selectbox(key="scaffold_picker").value == scaffold_id

    edit_rows(at, scaffold_id, 1, edited={0: {"instruction": "Split the contract by heading <b>first</b>"}},
              added=[{"instruction": "Check the insurance certificates", "optional": True}], deleted=[1])
    assert not at.exception
    assert any("1. Split the contract by heading <b>first</b>" in c.value for c in at.code)  # the live preview
    changes = table_with(at, "change")
    assert {"added", "removed", "changed"} <= set(changes["change"])
    at.text_input(key=f"comment:{scaffold_id}:1:0").input("split first; insurance is optional").run()
    button(at, "Save as a new version").click().run()
    assert unescaped(at.success[0].value) == f"Saved {scaffold_id} v2 as a draft."

    compare = [c.value for c in at.code if c.language == "diff"]
    assert any("- 1. Split the MSA into numbered sections and schedules" in c for c in compare)
    assert any("+ 1. Split the contract by heading <b>first</b>" in c for c in compare)
    assert all("<b>" not in m.value for m in at.markdown)  # trace text is never rendered as HTML

    assert "Approve" not in [b.label for b in at.button]  # approval needs a submitted version
    button(at, "Submit for review").click().run()
    assert unescaped(at.success[0].value) == f"{scaffold_id} v2 is now in review."  # people's words, not in_review
    at.text_input(key=f"review:{scaffold_id}:2").input("ready for the 8B student").run()
    button(at, "Approve").click().run()
    assert unescaped(at.success[0].value) == f"{scaffold_id} v2 is now approved."
    assert f"Version 2 is **approved** by {os_account()}." in [unescaped(m.value) for m in at.markdown]
    assert at.selectbox(key=f"version:{scaffold_id}:2").options[0].startswith("v2 · approved · ")
    assert "in review" in set(table_with(at, "by")["status"])  # the review history, in the same words
    assert "in_review" not in shown_text(at) + "".join(str(t.value.to_dict()) for t in at.dataframe)
    with Store(db) as store:
        approved = store.reusable_scaffold(scaffold_id)
    assert (approved.version, approved.reviewer, approved.review_comment) == (2, os_account(), "ready for the 8B student")
    assert any(c.value.startswith(f"=== SCAFFOLD {scaffold_id} v2") for c in at.code)  # the export tab's prompt


def test_two_people_editing_at_once_lose_nothing(db):
    dana, lee = open_scaffolds(), None
    scaffold_id = extract_draft(dana)
    lee = open_scaffolds(scaffold=scaffold_id)
    assert lee.selectbox(key="scaffold_picker").value == scaffold_id

    edit_rows(lee, scaffold_id, 1, edited={0: {"instruction": "Lee: split by heading"}})
    button(lee, "Save as a new version").click().run()
    assert unescaped(lee.success[0].value) == f"Saved {scaffold_id} v2 as a draft."

    edit_rows(dana, scaffold_id, 1, edited={2: {"instruction": "Dana: review each section with the terms map"}})
    button(dana, "Save as a new version").click().run()
    assert not dana.exception
    message = unescaped(dana.error[0].value)
    assert f"changed while you edited it: you started from version 1, but {os_account()} saved version 2" in message
    diffs = "\n".join(c.value for c in dana.code if c.language == "diff")
    assert "+ 1. Lee: split by heading" in diffs  # their change
    assert "+ 3. Dana: review each section with the terms map" in diffs  # and her own edit, kept

    button(dana, "Re-apply my edit on top of version 2").click().run()
    assert not dana.error
    button(dana, "Save as a new version").click().run()
    assert unescaped(dana.success[0].value) == f"Saved {scaffold_id} v3 as a draft."
    with Store(db) as store:
        third = store.get_scaffold(scaffold_id)
    instructions = [s.instruction for s in third.content.subproblems]
    assert third.version == 3 and third.based_on == 2
    assert instructions[0] == "Lee: split by heading" and instructions[2] == "Dana: review each section with the terms map"


def test_find_offers_only_approved_scaffolds_and_says_why(db):
    at = open_scaffolds()
    scaffold_id = extract_draft(at)
    at.text_area(key="find_task").input("Review a services contract for liability and indemnity risk").run()
    assert "No approved scaffolds yet" in shown_text(at)
    with Store(db) as store:
        approve(store, scaffold_id, 1)
    at.run()
    found = table_with(at, "why")
    assert list(found["scaffold"]) == [scaffold_id]
    assert "words in common" in found["why"][0]


# ------------------------------------------------------------- login and roles

LOGIN = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test", "client_id": "trellis",
         "client_secret": "test", "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


def signed_in_as(email: str | None, **query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = LOGIN
    at.user = {"is_logged_in": email is not None, **({"email": email} if email else {})}
    at.query_params.update(query)
    at.switch_page(SCAFFOLDS)
    return at.run()


@pytest.fixture
def submitted(db):
    """A scaffold Dana extracted and submitted; Lee is an approver, Vic a viewer."""
    with Store(db) as store:
        admin = local_actor()
        store.grant_role("lee@example.com", Role.APPROVER, admin)
        store.grant_role("vic@example.com", Role.VIEWER, admin)
        from core.scaffolds.drafts import draft_scaffold
        draft = draft_scaffold(store, ["legal-msa-teacher-70b"], author=DANA)
        store.set_scaffold_status(draft.version.scaffold_id, 1, ScaffoldStatus.IN_REVIEW, actor=DANA)
    return draft.version.scaffold_id


def test_with_login_configured_nobody_sees_a_page_before_signing_in(submitted):
    at = signed_in_as(None)
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.dataframe and not at.exception


def test_a_viewer_sees_the_review_but_cannot_approve(submitted):
    at = signed_in_as("vic@example.com", scaffold=submitted)
    assert button(at, "Approve").disabled and button(at, "Reject").disabled
    assert any("only approvers approve" in unescaped(i.value) for i in at.info)


def test_an_approver_approves_someone_elses_submitted_version_under_their_own_name(submitted):
    at = signed_in_as("lee@example.com", scaffold=submitted)
    button(at, "Approve").click().run()
    assert unescaped(at.success[0].value) == f"{submitted} v1 is now approved."
    with Store(at.session_state["_db"] if "_db" in at.session_state else os.environ["TRELLIS_STORE"]) as store:
        assert store.reusable_scaffold(submitted).reviewer == "lee@example.com"
        assert store.audit_log(1)[0].actor == "lee@example.com"


def test_a_signed_in_person_never_types_a_name(submitted):
    at = signed_in_as("lee@example.com", scaffold=submitted)
    assert not at.sidebar.text_input
