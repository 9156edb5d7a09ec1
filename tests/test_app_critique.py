"""The Critique page, run by AppTest against a real DuckDB file holding the library."""

from tests.explorer_library import open_page


def button(at, label):
    return next(b for b in at.button if b.label == label)


def run_critique(at):
    at.sidebar.text_input[0].input("Ada").run()
    button(at, "Run critique").click().run()
    return at


def test_critique_runs_offline_and_lists_proposed_annotations(library):
    student = next(i for i in library if "student" in i)
    at = open_page("critique", trace=student)
    assert not at.exception
    at = run_critique(at)
    assert not at.exception, at.exception
    assert any("proposed annotations" in s.label for s in at.status)
    headers = [m.value for m in at.markdown if "·" in m.value]
    assert headers and all("proposed" in h for h in headers)


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
    at.multiselect[2].set_value(["rejected"]).run()
    assert any("rejected" in m.value for m in at.markdown if "·" in m.value)


def test_review_buttons_wait_for_a_name(library):
    student = next(i for i in library if "student" in i)
    at = open_page("critique", trace=student)
    button(at, "Run critique").click().run()
    assert all(b.disabled for b in at.button if b.label in ("Accept", "Reject"))


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
    headers = [m.value for m in at.markdown if "_proposed_" in m.value]
    assert headers and all("<script>" not in h and "<img" not in h for h in headers)
    shown = "\n".join(t.value for t in at.text)
    assert "<script>alert(" in shown and "[x](javascript:alert(1))" in shown  # as typed, never rendered
