"""Transfer experiments: arms (no scaffold, a scaffold version, ...) run on the same tasks with the same seeds.

- core.experiments.metrics: the statistics of an experiment over the run records it made: each arm's
  means with bootstrap intervals over tasks, an arm's paired difference against a baseline, fallbacks,
  adherence, coverage, tokens to competence, and the one-sentence verdict

    from core.experiments import metrics
    arms = metrics.by_arm(store.list_runs(student="local"))
    difference = metrics.paired_difference(arms["scaffold:legal@3"], arms["none"], arm="scaffold:legal@3")
    print(metrics.verdict(difference))

See docs/metrics.md for every definition and a worked example.
"""
