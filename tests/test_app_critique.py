"""The Critique page, run by AppTest against a real DuckDB file holding the library."""

from core.auth import os_account
from tests.support.explorer_library import open_page


def button(at, label):
    return next(b for b in at.button if b.label == label)


def run_critique(at):
    button(at, "Run critique").click().run()
    return at


def card_headers(at):
    """The first line of each annotation's card: severity, category, node, status and a link to the node."""
    return [m.value for m in at.markdown if "-badge[" in m.value]


def test_critique_runs_offline_and_lists_proposed_annotations(library):
    student = next(i for i in library if "student" in i)
    at = open_page("critique", trace=student)
    assert not at.exception
    at = run_critique(at)
    assert not at.exception, at.exception
    assert any("proposed annotations" in s.label for s in at.status)
    headers = card_headers(at)
    assert headers and all("_proposed_" in h for h in headers)


def test_accept_edit_and_reject_from_the_page(library):
    student = next(i for i in library if "student" in i)
    at = run_critique(open_page("critique", trace=student))
    accepts = [b for b in at.button if b.label == "Accept" and not b.disabled]
    accepts[0].click().run()
    assert not at.exception
    assert any("accepted" in m.value for m in at.markdown)
    rejects = [b for b in at.button if b.label == "Reject" and not b.disabled]
    rejects[-1].click().run()
    assert not at.exception
    next(p for p in at.pills if p.label == "Status").set_value(["rejected"]).run()
    assert any("_rejected_" in h for h in card_headers(at))


def test_in_local_mode_reviews_are_recorded_under_the_local_account(library):
    student = next(i for i in library if "student" in i)
    at = run_critique(open_page("critique", trace=student))
    [b for b in at.button if b.label == "Accept" and not b.disabled][0].click().run()
    assert not at.sidebar.text_input  # nobody types a name
    history = [t.value for t in at.text if " · accepted" in t.value]
    assert history and all(f" · {os_account()} · accepted" in h for h in history)


def test_edit_an_annotation_from_the_page(library):
    student = next(i for i in library if "student" in i)
    at = run_critique(open_page("critique", trace=student))
    at.toggle[0].set_value(True).run()
    at.text_area[0].input("Reviewer's wording: split the contract by section first.")
    button(at, "Save edit").click().run()  # a form sends its fields with the submit
    assert not at.exception
    edited = [m.value for m in at.markdown if "_edited_" in m.value]
    assert edited
    assert "Reviewer's wording: split the contract by section first." in [t.value for t in at.text]


def test_hostile_trace_text_in_a_critique_is_shown_as_text(library):
    at = run_critique(open_page("critique", trace="hostile"))
    assert not at.exception
    headers = card_headers(at)
    assert headers and all("<script>" not in h and "<img" not in h for h in headers)
    shown = "\n".join(t.value for t in at.text)
    assert "<script>alert(" in shown and "[x](javascript:alert(1))" in shown  # as typed, never rendered


OPERATOR_MODELS = """
[models.operator-local]
model = "openai/local-teacher"
api_base = "http://127.0.0.1:9/v1"
api_key_env = "TRELLIS_TEST_UNSET_KEY"
"""


def test_the_page_offers_only_the_operators_models_and_ignores_injected_endpoints(library, tmp_path, monkeypatch):
    models = tmp_path / "models.toml"
    models.write_text(OPERATOR_MODELS)
    monkeypatch.setenv("TRELLIS_MODELS", str(models))
    monkeypatch.delenv("TRELLIS_TEST_UNSET_KEY", raising=False)
    student = next(i for i in library if "student" in i)
    at = open_page("critique", trace=student, teacher="openai/gpt-4o-mini", model="openai/gpt-4o-mini",
                   api_base="http://127.0.0.1:8650/v1")
    assert not at.exception
    [teacher] = [s for s in at.selectbox if s.label == "Teacher"]
    assert teacher.options == ["trellis/structural", "operator-local · openai/local-teacher"]
    assert teacher.value == "trellis/structural"
    assert [t.label for t in at.text_input if t.label != "Your name"] == []  # no free-text model or URL field

    button(at, "Run critique").click().run()
    assert any(m.value == "Asking trellis/structural" for m in at.markdown)
    assert any("proposed annotations" in s.label for s in at.status)

    # The operator's entry is reached only by its name, and only with its own key: unset, nothing is sent.
    teacher.set_value("operator-local").run()
    button(at, "Run critique").click().run()
    assert not at.exception
    [error] = [e.value.replace("\\", "") for e in at.error]
    assert error.startswith("The critique failed: model 'operator-local': environment variable TRELLIS_TEST_UNSET_KEY "
                            "is not set  \nNothing was stored;")
    assert any(s.label == "Critique failed; nothing was stored" for s in at.status)
    at.run()  # any later rerun, a click elsewhere: the reason stays in the open until the next critique
    assert [e.value.replace("\\", "") for e in at.error] == [error]


def test_models_in_streamlit_secrets_are_offered_too(library, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from pages import PAGES
    from tests.support.explorer_library import ROOT

    monkeypatch.delenv("TRELLIS_MODELS", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["models"] = {"haiku": {"model": "anthropic/claude-3-5-haiku-latest", "api_key_env": "ANTHROPIC_API_KEY"}}
    at.switch_page(str(PAGES["critique"].file))
    at.run()
    assert not at.exception
    [teacher] = [s for s in at.selectbox if s.label == "Teacher"]
    assert teacher.options == ["trellis/structural", "haiku · anthropic/claude-3-5-haiku-latest"]


def test_running_the_critic_again_keeps_each_point_once_with_its_review(library):
    at = run_critique(open_page("critique", trace="incident-checkout-student-3b"))
    [found] = [int(s.label.split()[0]) for s in at.status]
    first = card_headers(at)
    [b for b in at.button if b.label == "Accept" and not b.disabled][0].click().run()
    at = run_critique(at)
    assert not at.exception
    assert [s.label for s in at.status] == [f"0 new proposed annotations, {found} already there"]
    assert [s.value for s in at.success] == [f"0 new finding(s) added; {found} were already there and keep their review."]
    again = card_headers(at)
    assert len(again) == len(first) and sum("_accepted_" in h for h in again) == 1


def test_findings_come_grouped_and_a_group_is_accepted_in_one_click(library):
    at = run_critique(open_page("critique", trace="legal-msa-student-8b"))
    [missing] = [m.value for m in at.markdown if m.value.startswith("**missing subproblem** · ")]
    assert missing == "**missing subproblem** · 7 annotation(s) · 7 awaiting review"
    assert "Pattern: The reference works on '…' at level N; the student never does." in [
        c.value.replace("\\", "") for c in at.caption]
    assert len([h for h in card_headers(at) if "**missing subproblem**" in h]) == 5, "five shown, two more on request"
    button(at, "Show 2 more (2 not shown)").click().run()
    assert len([h for h in card_headers(at) if "**missing subproblem**" in h]) == 7

    [accept_group] = [b for b in at.button if b.key and b.key.startswith("accept-group:") and b.label == "Accept 7 proposed"]
    accept_group.click().run()
    assert not at.exception
    assert "Accepted 7 annotation(s) of the group at once." in [s.value for s in at.success]
    [missing] = [m.value for m in at.markdown if m.value.startswith("**missing subproblem** · ")]
    assert missing == "**missing subproblem** · 7 annotation(s) · 7 accepted"


def test_each_finding_links_to_its_node_in_the_trace_page(library):
    import pages

    at = run_critique(open_page("critique", trace="bugtriage-proration-student-7b"))
    headers = card_headers(at)
    assert headers and all("[open node ↗](" in h or "[open trace ↗](" in h for h in headers)
    assert any(f"[open node ↗]({pages.url('trace', trace='bugtriage-proration-student-7b', node='s-bug')})" in h
               for h in headers)
