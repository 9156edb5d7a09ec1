"""The checkers on answers as small models write them: chatty, fenced, JSON, listed, reasoning first."""

import pytest

from core.tasks.checkers import check_answer, expected_problem, numbers_in
from core.tasks.models import ExactChecker, NumberChecker, RegexChecker, SetChecker

EXACT = ExactChecker(kind="exact", aliases=["Section 11.2"])
SET = SetChecker(kind="set", aliases={"4.4": ["Section 4.4"]})
MINUTES = NumberChecker(kind="number", abs_tol=1, units=["minutes", "min"])
REGEX = RegexChecker(kind="regex", pattern=r"\b5\s+business\s+days?\b", flags=["IGNORECASE"])


@pytest.mark.parametrize("answer", [
    "11.2",
    "  11.2.  ",
    "**11.2**",
    "The answer is: Section 11.2.",
    "Final answer: `11.2`",
    "<think>The customer cap is 11.3, but the question is about the Supplier.</think>\n11.2",
    'Sure! Here you go:\n```json\n{"answer": "11.2"}\n```',
    '{"clause": "Section 11.2"}',
    "Let me look at the limitation of liability.\nIt is in **Section 11.2**, which caps liability.",
])
def test_exact_reads_the_answer_out_of_chatty_text(answer):
    score = check_answer(EXACT, "11.2", answer)
    assert score.score == 1.0, score.explanation


@pytest.mark.parametrize("answer", ["11.3", "Section 1.2", "11.2 or 11.3, I am not sure which of the two", ""])
def test_exact_rejects_other_answers_and_says_what_it_read(answer):
    score = check_answer(EXACT, "11.2", answer)
    assert score.score == 0.0
    assert score.explanation.startswith("expected '11.2'")


def test_exact_folds_case_and_whitespace_but_not_words():
    checker = ExactChecker(kind="exact")
    assert check_answer(checker, "inventory-svc", "  INVENTORY-SVC\n").score == 1.0
    assert check_answer(checker, "inventory-svc", "inventory svc").score == 0.0


def test_set_gives_partial_credit_and_names_what_is_missing_and_extra():
    score = check_answer(SET, ["4.4", "7.3", "5.6"], "The sole remedy clauses are Sections 4.4, 7.3 and 14.4.")
    assert score.explanation == "2 of 3 items found; missing: 5.6; 1 not expected: '14.4'; f1 0.67"
    assert score.details["precision"] == pytest.approx(2 / 3, abs=1e-3)
    assert score.details["recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert score.score == pytest.approx(2 / 3, abs=1e-3)


@pytest.mark.parametrize("answer", [
    "- 4.4\n- 7.3\n- 5.6",
    "Here are the clauses:\n1. Section 4.4 (termination of modified services)\n2. 7.3\n3. 5.6\nLet me know if you need more.",
    '```json\n["4.4", "7.3", "5.6"]\n```',
    '{"clauses": ["Section 4.4", "Section 7.3", "Section 5.6"], "confidence": "high"}',
    "4.4; 7.3; 5.6",
    "Answer: 5.6, 4.4 and 7.3",
])
def test_set_reads_lists_in_every_usual_shape(answer):
    score = check_answer(SET, ["4.4", "7.3", "5.6"], answer)
    assert score.score == 1.0, score.explanation


def test_set_matches_whole_numbers_and_words_only():
    """4.4 is not in 14.4 nor in 4.4.1; an alias counts as its item."""
    assert check_answer(SET, ["4.4"], "14.4, 4.4.1").details["found"] == []
    assert check_answer(SET, ["4.4"], "Section 4.4").score == 1.0


def test_set_scores_by_the_measure_the_task_names():
    recall = SetChecker(kind="set", score="recall")
    precision = SetChecker(kind="set", score="precision")
    answer = "fraud, confidentiality, indirect loss, lost profits"
    assert check_answer(recall, ["fraud", "confidentiality"], answer).score == 1.0
    assert check_answer(precision, ["fraud", "confidentiality"], answer).score == 0.5


def test_set_treats_long_unmatched_lines_as_commentary_not_wrong_items():
    answer = "- fraud\n- confidentiality\nI looked through every clause of the agreement carefully before writing this list down for you."
    assert check_answer(SetChecker(kind="set"), ["fraud", "confidentiality"], answer).score == 1.0


@pytest.mark.parametrize("answer", [
    "47",
    "The outage lasted 47 minutes.",
    "In 2024, on 13 September, the outage lasted **47 minutes** (from 08:47 to 09:34).",
    "Duration: ~46 min",
    '```json\n{"answer": 48, "unit": "minutes"}\n```',
    "<think>started 08:47, ended 09:34, so 47</think>The answer is 47.",
])
def test_number_reads_the_right_number_out_of_free_text(answer):
    score = check_answer(MINUTES, 47, answer)
    assert score.score == 1.0, score.explanation


def test_number_says_how_far_off_it_is():
    score = check_answer(MINUTES, 47, "About 52 minutes.")
    assert (score.score, score.explanation) == (0.0, "read 52 from '52'; expected 47 ± 1 (off by 5)")
    assert check_answer(MINUTES, 47, "I don't know.").explanation == "no number found in the answer (expected 47 ± 1)"


def test_number_understands_commas_currency_scale_words_and_relative_tolerance():
    checker = NumberChecker(kind="number", rel_tol=0.001)
    assert check_answer(checker, 588600, "EUR 588,600.00 per year").score == 1.0
    assert check_answer(checker, 31_000_000, "a one-time $31M catch-up").score == 1.0
    assert check_answer(checker, 31, "a one-time $31M catch-up").score == 1.0  # as written, too
    assert check_answer(checker, -20, "They cut the midpoint by −20 million").score == 1.0
    assert check_answer(NumberChecker(kind="number"), 3, "three").score == 1.0


def test_number_skips_versions_times_hashes_and_quarter_names():
    found = [n.value for n in numbers_in("Q2 FY2024: v2.14.0 at 08:47 (commit 9f3c2ab) took 47 minutes")]
    assert found == [47.0]


@pytest.mark.parametrize("answer", [
    "Supplier must notify within 5 Business Days of confirming a breach.",
    "```\n5 business days\n```",
    '{"deadline": "5 business days"}',
])
def test_regex_searches_anywhere(answer):
    assert check_answer(REGEX, "5 Business Days", answer).score == 1.0


def test_regex_fullmatch_needs_the_whole_extracted_answer():
    checker = RegexChecker(kind="regex", pattern=r"[0-9a-f]{7}", mode="fullmatch")
    assert check_answer(checker, "9f3c2ab", "Final answer: 9f3c2ab").score == 1.0
    assert check_answer(checker, "9f3c2ab", "The commit is 9f3c2ab, by mira.").score == 0.0


def test_expected_answers_must_fit_their_checker():
    assert expected_problem(MINUTES, "forty-seven") == 'a number checker needs a number, got a string ("forty-seven")'
    assert expected_problem(SET, "4.4") == 'a set checker needs a list of strings, got a string ("4.4")'
    assert expected_problem(SET, ["4.4", "Section  4.4", "4.4 "]) == "items '4.4' and '4.4 ' are the same once normalised"
    assert expected_problem(EXACT, 11.2) == "an exact checker needs a string, got a number (11.2)"
    assert expected_problem(REGEX, "five days") == "'five days' does not match the checker's own pattern (search)"
    assert expected_problem(MINUTES, 47) is None


def test_a_huge_answer_is_checked_in_bounded_time():
    answer = "blah " * 1_000_000 + "Final answer: 11.2"
    assert check_answer(EXACT, "11.2", answer).score == 1.0
