"""The statistics of a transfer experiment, on run records made by hand: the worked example of docs/metrics.md
recomputed, then the edge cases (no shared task, one task, every run failed) and the verdict's wording."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from core.experiments import metrics
from core.experiments.metrics import Estimate
from core.runs.models import RunRecord
from tests.conftest import ROOT

LEGAL = "legal-contract-review"
SCAFFOLD = "scaffold:legal@3"
START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def run(arm: str, task: str, repeat: int, score: float | None, tokens: int, *, calls: int = 3, seconds: float = 2.0,
        fell_back: str | None = None, adherence: float | None = None, task_class: str = LEGAL) -> RunRecord:
    """One run as the batch stores it: ``arm`` "none" or "scaffold:ID@VERSION"; a None score is a failed run.
    Tasks are named t1, t2, ... and started in that order, each task's repeats one after the other."""
    scaffold_id, _, version = arm.removeprefix("scaffold:").partition("@")
    scaffolded = arm != "none"
    return RunRecord(
        id=f"{arm}-{task}-{repeat}", batch_id=arm, task_id=task, task_file="legal.jsonl", task_class=task_class,
        student="local", scaffold_choice=f"{scaffold_id}@{version}" if scaffolded else "none",
        scaffold_id=scaffold_id if scaffolded else None, scaffold_version=int(version) if scaffolded else None,
        seed=7 + repeat - 1, repeat=repeat, status="failed" if score is None else "ok",
        error="stopped: the task's token budget is spent" if score is None else None,
        fell_back=fell_back is not None, fallback_reason=fell_back, adherence=adherence, score=score,
        calls=calls, tokens_in=tokens - 200, tokens_out=200, cost=tokens * 1e-6, seconds=seconds,
        started_at=START + timedelta(minutes=10 * int(task.removeprefix("t")) + repeat),
    )


# The worked example of docs/metrics.md: 4 legal tasks x 2 arms x 2 repeats.
NONE = [
    run("none", "t1", 1, 0.5, 1000), run("none", "t1", 2, 0.7, 1200),
    run("none", "t2", 1, 0.0, 1400), run("none", "t2", 2, 0.2, 1200),
    run("none", "t3", 1, 1.0, 800), run("none", "t3", 2, 1.0, 800),
    run("none", "t4", 1, 0.4, 1500), run("none", "t4", 2, None, 4100),
]
STEP_FAILED = "step 2 (Find the liability clause) returned nothing usable"
PLAN_DRIFTED = "the student's adapted plan keeps 1 of 4 scaffold steps in order (under 50%)"
WITH_SCAFFOLD = [
    run(SCAFFOLD, "t1", 1, 0.9, 700, calls=6, seconds=3, adherence=1.0),
    run(SCAFFOLD, "t1", 2, 0.9, 500, calls=6, seconds=3, adherence=1.0),
    run(SCAFFOLD, "t2", 1, 0.6, 900, calls=6, seconds=3, adherence=1.0),
    run(SCAFFOLD, "t2", 2, 0.4, 1100, calls=6, seconds=3, adherence=0.75),
    run(SCAFFOLD, "t3", 1, 0.6, 600, calls=9, seconds=3, adherence=0.25, fell_back=STEP_FAILED),
    run(SCAFFOLD, "t3", 2, 0.8, 600, calls=6, seconds=3, adherence=1.0),
    run(SCAFFOLD, "t4", 1, 0.7, 900, calls=9, seconds=3, adherence=0.25, fell_back=PLAN_DRIFTED),
    run(SCAFFOLD, "t4", 2, 0.5, 700, calls=6, seconds=3, adherence=1.0),
]


def exactly(value: float):
    """Equal up to floating-point rounding: the hand-computed value of docs/metrics.md."""
    return pytest.approx(value, rel=1e-12, abs=1e-12)


def assert_brackets(estimate: Estimate):
    assert estimate.ci is not None and estimate.low <= estimate.value <= estimate.high


# --- the worked example


def test_the_runs_split_into_their_arms():
    arms = metrics.by_arm(NONE + WITH_SCAFFOLD)
    assert list(arms) == ["none", SCAFFOLD]
    assert arms["none"] == NONE and arms[SCAFFOLD] == WITH_SCAFFOLD


def test_an_arm_summary_averages_each_tasks_repeats_then_the_tasks():
    none = metrics.summarize_arm(NONE, "none")
    assert (none.runs, none.tasks, none.failed) == (8, 4, 1)
    assert none.score.value == exactly(0.525)  # (0.6 + 0.1 + 1.0 + 0.4) / 4: t4's failed repeat is left out
    assert none.tokens.value == exactly(1500)  # (1100 + 1300 + 800 + 2800) / 4: its tokens are not
    assert (none.cost.value, none.seconds.value, none.calls.value) == (exactly(0.0015), exactly(2), exactly(3))

    scaffolded = metrics.summarize_arm(WITH_SCAFFOLD, SCAFFOLD)
    assert (scaffolded.runs, scaffolded.tasks, scaffolded.failed) == (8, 4, 0)
    assert scaffolded.score.value == exactly(0.675)  # (0.9 + 0.5 + 0.7 + 0.6) / 4
    assert scaffolded.tokens.value == exactly(750)  # (600 + 1000 + 600 + 800) / 4
    assert scaffolded.calls.value == exactly(6.75)  # (6 + 6 + 7.5 + 7.5) / 4
    for estimate in (scaffolded.score, scaffolded.tokens, scaffolded.cost, scaffolded.calls, none.score):
        assert_brackets(estimate)
    assert none.seconds.ci == (2.0, 2.0)  # every task took 2 s: the interval is a point


def test_the_paired_difference_compares_the_arms_task_by_task():
    difference = metrics.paired_difference(WITH_SCAFFOLD, NONE, arm=SCAFFOLD, baseline="none")
    assert (difference.tasks, difference.only_arm, difference.only_baseline) == (4, 0, 0)
    assert difference.score.value == exactly(0.15)  # (0.3 + 0.4 - 0.3 + 0.2) / 4
    assert difference.tokens_change.value == exactly(-50)  # 750 / 1500 - 1
    assert (difference.helped, difference.hurt, difference.failed) == (3, 1, 1)  # hurt on t3; t4's failed repeat
    assert difference.task_class == LEGAL
    assert_brackets(difference.score)
    assert_brackets(difference.tokens_change)
    assert not difference.score.measurable  # one task of four went the other way: the interval holds 0
    assert difference.tokens_change.measurable and difference.tokens_change.high < 0


def test_the_intervals_are_the_same_for_the_same_seed_whatever_the_order_of_the_runs():
    first = metrics.paired_difference(WITH_SCAFFOLD, NONE, arm=SCAFFOLD)
    shuffled_arm, shuffled_baseline = WITH_SCAFFOLD[:], NONE[:]
    random.Random(1).shuffle(shuffled_arm)
    random.Random(2).shuffle(shuffled_baseline)
    assert metrics.paired_difference(shuffled_arm, shuffled_baseline, arm=SCAFFOLD) == first
    other_seed = metrics.paired_difference(WITH_SCAFFOLD, NONE, arm=SCAFFOLD, seed=1)
    assert other_seed.score.value == first.score.value and other_seed.score.ci != first.score.ci
    assert metrics.summarize_arm(NONE, "none", seed=5) == metrics.summarize_arm(NONE, "none", seed=5)


def test_fallbacks_adherence_and_coverage():
    fallbacks = metrics.fallbacks(WITH_SCAFFOLD)
    assert (fallbacks.scaffolded, fallbacks.fell_back, fallbacks.rate) == (8, 2, 0.25)
    assert fallbacks.reasons == {STEP_FAILED: 1, PLAN_DRIFTED: 1}
    assert metrics.fallbacks(NONE).rate is None  # no run had a scaffold to fall back from

    adherence = metrics.adherence(WITH_SCAFFOLD)
    assert adherence.value == exactly(0.78125)  # (1 + 0.875 + 0.625 + 0.625) / 4, fallen-back runs included
    assert_brackets(adherence)

    coverage = metrics.coverage(WITH_SCAFFOLD, task_class=LEGAL)
    assert coverage.value == exactly(0.75)  # t1 and t2 in full, t3 and t4 in one repeat of two
    assert metrics.coverage(NONE).value == 0
    assert metrics.coverage(WITH_SCAFFOLD, task_class="finance-10k-qa").value is None  # no task of that class


def test_tokens_to_competence_and_the_ratio_between_arms():
    scaffolded = metrics.tokens_to_competence(WITH_SCAFFOLD, threshold=0.5, window=2)
    assert (scaffolded.tokens, scaffolded.tasks, scaffolded.seen) == (3200, 2, 4)  # (0.9 + 0.5) / 2 >= 0.5 after t2
    baseline = metrics.tokens_to_competence(NONE, threshold=0.5, window=2)
    assert (baseline.tokens, baseline.tasks) == (6400, 3)  # 0.35 after t2, then (0.1 + 1.0) / 2 after t3
    assert metrics.competence_ratio(scaffolded, baseline) == 0.5  # half the tokens to get there

    never = metrics.tokens_to_competence(WITH_SCAFFOLD)  # the defaults: 0.7 over 5 tasks, and there are 4
    assert (never.tokens, never.tasks, never.threshold, never.window) == (None, None, 0.7, 5)
    assert metrics.competence_ratio(never, baseline) is None


def test_a_failed_run_counts_zero_towards_competence():
    t3, t4_ok, t4_failed = NONE[4:6], NONE[6], NONE[7]  # t3 scored 1.0 twice; t4 0.4, then failed
    assert metrics.tokens_to_competence(t3 + [t4_ok, t4_failed], threshold=0.65, window=2).tokens is None  # 0.6
    assert metrics.tokens_to_competence(t3 + [t4_ok], threshold=0.65, window=2).tokens == 800 + 800 + 1500  # 0.7


def test_the_verdict_of_the_worked_example_is_the_one_docs_metrics_md_shows():
    sentence = metrics.verdict(metrics.paired_difference(WITH_SCAFFOLD, NONE, arm=SCAFFOLD))
    assert sentence == (
        "scaffold legal@3 did not change the score measurably: +0.15 [-0.15, +0.35], and cut tokens by 50% "
        "[24%, 67%] on 4 legal-contract-review tasks; it helped on 3 tasks and hurt on 1 task. "
        "1 run failed and is left out of the score."
    )
    assert sentence in (ROOT / "docs" / "metrics.md").read_text()


# --- the verdict's wording


def steady_gain(tasks: int, gain: float, token_ratio: float) -> tuple[list[RunRecord], list[RunRecord]]:
    """A scaffold arm and a baseline over ``tasks`` tasks: the arm scores ``gain`` more on each, with ``token_ratio``
    times the tokens, give or take a little from task to task."""
    baseline = [run("none", f"t{n}", 1, 0.3 + 0.01 * (n % 5), 1000 + 50 * (n % 3)) for n in range(1, tasks + 1)]
    arm = [run(SCAFFOLD, f"t{n}", 1, b.score + gain + 0.02 * (n % 4 - 1.5), int(metrics.tokens(b) * token_ratio),
               adherence=1.0) for n, b in enumerate(baseline, start=1)]
    return arm, baseline


def test_a_clear_gain_is_said_plainly_with_its_intervals():
    arm, baseline = steady_gain(24, 0.2, 0.6)
    sentence = metrics.verdict(metrics.paired_difference(arm, baseline, arm=SCAFFOLD))
    assert sentence.startswith("scaffold legal@3 raised the score by 0.20 [")
    assert "and cut tokens by 40% [" in sentence
    assert sentence.endswith("on 24 legal-contract-review tasks; it helped on 24 tasks and hurt on no task.")


def test_a_loss_and_more_tokens_are_said_as_plainly():
    arm, baseline = steady_gain(12, -0.15, 1.3)
    sentence = metrics.verdict(metrics.paired_difference(arm, baseline, arm=SCAFFOLD))
    assert "lowered the score by 0.15 [" in sentence and "raised tokens by 30% [" in sentence
    assert "it helped on no task and hurt on 12 tasks." in sentence


def test_a_change_within_the_noise_is_not_called_a_change():
    baseline = [run("none", f"t{n}", 1, 0.5, 1000) for n in range(1, 9)]
    arm = [run(SCAFFOLD, f"t{n}", 1, 0.5 + (0.2 if n % 2 else -0.1), 1000 + (30 if n % 2 else -30))
           for n in range(1, 9)]
    sentence = metrics.verdict(metrics.paired_difference(arm, baseline, arm=SCAFFOLD))
    assert sentence.startswith("scaffold legal@3 did not change the score measurably: +0.05 [")
    assert "and did not change tokens measurably: +0% [" in sentence
    assert "it helped on 4 tasks and hurt on 4 tasks." in sentence


def test_a_baseline_other_than_no_scaffold_is_named():
    arm, baseline = steady_gain(6, 0.2, 0.6)
    baseline = [b.model_copy(update={"scaffold_id": "legal", "scaffold_version": 2, "scaffold_choice": "legal@2"})
                for b in baseline]
    difference = metrics.paired_difference(arm, baseline, arm=SCAFFOLD, baseline="scaffold:legal@2")
    assert "on 6 legal-contract-review tasks against scaffold legal@2;" in metrics.verdict(difference)


# --- edge cases


def test_only_the_tasks_both_arms_ran_are_compared():
    difference = metrics.paired_difference(WITH_SCAFFOLD[:6], NONE[2:], arm=SCAFFOLD)  # t1-t3 against t2-t4
    assert (difference.tasks, difference.only_arm, difference.only_baseline) == (2, 1, 1)
    assert difference.score.value == exactly((0.4 - 0.3) / 2)  # t2 and t3 only
    assert metrics.verdict(difference).startswith("scaffold legal@3 did not change the score measurably: +0.05 [")


def test_arms_with_no_task_in_common_have_nothing_to_compare():
    difference = metrics.paired_difference(WITH_SCAFFOLD[:2], NONE[2:], arm=SCAFFOLD)
    assert (difference.tasks, difference.score, difference.tokens_change) == (0, Estimate(None, None, None, 0),
                                                                             Estimate(None, None, None, 0))
    assert metrics.verdict(difference) == (
        "scaffold legal@3 and no scaffold ran no task in common: there is nothing to compare.")


def test_one_task_gives_a_value_but_no_interval_and_the_verdict_says_so():
    difference = metrics.paired_difference(WITH_SCAFFOLD[:2], NONE[:2], arm=SCAFFOLD)
    assert difference.score == Estimate(exactly(0.3), None, None, 1)
    assert difference.tokens_change.value == exactly(600 / 1100 * 100 - 100) and difference.tokens_change.ci is None
    assert not difference.score.measurable
    assert metrics.verdict(difference) == (
        "scaffold legal@3 changed the score by +0.30 and changed tokens by -45% on 1 legal-contract-review task; "
        "it helped on 1 task and hurt on no task. One task gives no confidence interval: this is an anecdote, "
        "not a measurement.")
    assert metrics.summarize_arm(NONE[:2], "none").score.ci is None


def test_failed_runs_are_left_out_of_the_score_and_counted():
    failed = [run(SCAFFOLD, r.task_id, r.repeat, None, 2000) for r in WITH_SCAFFOLD]
    summary = metrics.summarize_arm(failed, SCAFFOLD)
    assert (summary.runs, summary.tasks, summary.failed) == (8, 4, 8)
    assert summary.score == Estimate(None, None, None, 0)
    assert summary.tokens.value == 2000  # what they spent still counts
    difference = metrics.paired_difference(failed, NONE, arm=SCAFFOLD)
    assert (difference.tasks, difference.score.tasks, difference.failed) == (4, 0, 9)
    assert difference.tokens_change.value == exactly(2000 / 1500 * 100 - 100)
    assert metrics.verdict(difference).startswith(
        "scaffold legal@3 left the score unknown (no task has a score in both arms) and did not change tokens "
        "measurably: +33% [")  # 2000 against 1100, 1300, 800 and 2800 a task: four tasks cannot tell
    assert metrics.verdict(difference).endswith("on 4 legal-contract-review tasks. 9 runs failed and are left out "
                                                "of the score.")


def test_a_task_run_many_times_weighs_as_much_as_a_task_run_once():
    runs = [run("none", "t1", repeat, 1.0, 100) for repeat in range(1, 6)] + [run("none", "t2", 1, 0.0, 100)]
    assert metrics.summarize_arm(runs, "none").score.value == 0.5  # not 5/6


def test_identical_tasks_give_a_degenerate_interval_and_no_change_is_no_change():
    same = [run("none", f"t{n}", 1, 0.5, 1000) for n in range(1, 5)]
    also_same = [run(SCAFFOLD, f"t{n}", 1, 0.5, 1000) for n in range(1, 5)]
    difference = metrics.paired_difference(also_same, same, arm=SCAFFOLD)
    assert difference.score == Estimate(0.0, 0.0, 0.0, 4) and not difference.score.measurable
    assert (difference.helped, difference.hurt) == (0, 0)
    assert metrics.verdict(difference).startswith("scaffold legal@3 did not change the score measurably: +0.00 "
                                                  "[+0.00, +0.00], and did not change tokens measurably: +0% [")


def test_a_baseline_that_spent_no_tokens_gives_no_relative_change():
    assert metrics.relative_change([10, 20], [0, 0]) == Estimate(None, None, None, 2)
    with pytest.raises(ValueError):
        metrics.relative_change([10, 20], [10])


def test_what_students_did_to_the_scaffolds_plan():
    plans = [
        {"kept": ["s1", "s2", "s3"], "split": ["s2"], "skipped": ["s4"], "added": 1, "in_order": True},
        {"kept": ["s1", "s3", "s4"], "split": [], "skipped": ["s2"], "added": 0, "in_order": False},
        {"kept": ["s1", "s2", "s3"], "split": [], "skipped": ["s4"], "added": 0, "in_order": True},
    ]
    summary = metrics.adaptations(plans)
    assert (summary.plans, summary.kept, summary.skipped, summary.added) == (3, 3.0, 1.0, exactly(1 / 3))
    assert summary.in_order == exactly(2 / 3) and summary.split == exactly(1 / 3)
    assert summary.skipped_steps == {"s4": 2, "s2": 1}
    assert metrics.adaptations([]).in_order is None


def test_an_auto_arm_is_one_arm_whatever_scaffold_each_task_got():
    auto = [run(SCAFFOLD, "t1", 1, 0.5, 100).model_copy(update={"scaffold_choice": "auto"}),
            run("none", "t2", 1, 0.5, 100).model_copy(update={"scaffold_choice": "auto"})]  # nothing found for t2
    assert list(metrics.by_arm(auto)) == ["scaffold:auto"]
    assert metrics.coverage(auto).value == 0.5
