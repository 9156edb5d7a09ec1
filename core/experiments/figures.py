"""Plotly figures of an experiment (score against tokens per arm, per-task differences, adherence against score,
the competence curve) and of a scaffold's versions (score and tokens, version by version).

Arm names and task ids come from files people wrote, and plotly renders a subset of HTML in labels and hover
text: every such string is HTML-escaped before plotly sees it.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from core.experiments import metrics
from core.experiments.history import VersionPoint
from core.experiments.report import ExperimentReport, interval
from core.runs.models import RunRecord

LAYOUT = dict(height=380, margin=dict(l=50, r=20, t=50, b=50), legend=dict(orientation="h", y=-0.2))


def _label(text: str) -> str:
    return html.escape(metrics.arm_label(text))


def score_vs_tokens(report: ExperimentReport, runs: list[RunRecord]) -> go.Figure:
    """Each task's mean score against its mean tokens, per arm; each arm's means as a large marker with its
    intervals as error bars."""
    figure = go.Figure()
    arms = metrics.by_arm(runs)
    for arm in report.arms:
        name, mine = arm.summary.arm, arms.get(arm.summary.arm, [])
        score, spent = metrics.per_task(mine, lambda r: r.score), metrics.per_task(mine, metrics.tokens)
        tasks = [t for t in score if t in spent]
        figure.add_scatter(x=[spent[t] for t in tasks], y=[score[t] for t in tasks], mode="markers", opacity=0.45,
                           name=f"{_label(name)}: tasks", legendgroup=name, text=[html.escape(t) for t in tasks],
                           hovertemplate="%{text}<br>%{x:,.0f} tokens, score %{y:.2f}<extra></extra>")
        s, t = arm.summary.score, arm.summary.tokens
        if s.value is not None and t.value is not None:
            figure.add_scatter(
                x=[t.value], y=[s.value], mode="markers", marker=dict(size=14, symbol="diamond"),
                name=f"{_label(name)}: mean", legendgroup=name,
                error_y=None if s.ci is None else dict(type="data", symmetric=False, array=[s.high - s.value],
                                                       arrayminus=[s.value - s.low]),
                error_x=None if t.ci is None else dict(type="data", symmetric=False, array=[t.high - t.value],
                                                       arrayminus=[t.value - t.low]),
                hovertemplate="mean: %{x:,.0f} tokens, score %{y:.2f}<extra></extra>")
    figure.update_layout(title="Score against tokens (95% intervals over tasks)", xaxis_title="tokens per run",
                         yaxis_title="score", yaxis_range=[-0.05, 1.05], **LAYOUT)
    return figure


def paired_differences(report: ExperimentReport, runs: list[RunRecord]) -> go.Figure:
    """Per task, each arm's score minus the baseline's: where an arm helped (above 0) and where it hurt."""
    figure = go.Figure()
    arms = metrics.by_arm(runs)
    baseline = metrics.per_task(arms.get(report.experiment.baseline, []), lambda r: r.score)
    for arm in report.arms[1:]:
        score = metrics.per_task(arms.get(arm.summary.arm, []), lambda r: r.score)
        tasks = [t for t in score if t in baseline]
        figure.add_bar(x=[html.escape(t) for t in tasks], y=[score[t] - baseline[t] for t in tasks],
                       name=_label(arm.summary.arm), hovertemplate="%{x}: %{y:+.2f}<extra></extra>")
    figure.add_hline(y=0, line_color="grey")
    figure.update_layout(title=f"Score change per task against {_label(report.experiment.baseline)}",
                         yaxis_title="score difference", barmode="group", yaxis_range=[-1.05, 1.05], **LAYOUT)
    return figure


def adherence_vs_score(runs: list[RunRecord]) -> go.Figure:
    """Each scaffolded run's adherence against its score; runs that fell back drawn as crosses."""
    figure = go.Figure()
    for name, mine in metrics.by_arm(r for r in runs if r.adherence is not None and r.score is not None).items():
        figure.add_scatter(
            x=[r.adherence for r in mine], y=[r.score for r in mine], mode="markers", name=_label(name),
            marker=dict(size=10, symbol=["x" if r.fell_back else "circle" for r in mine]),
            text=[html.escape(f"{r.task_id} · repeat {r.repeat}" + (" · fell back" if r.fell_back else ""))
                  for r in mine],
            hovertemplate="%{text}<br>adherence %{x:.2f}, score %{y:.2f}<extra></extra>")
    figure.update_layout(title="Adherence against score (× fell back)", xaxis_title="adherence",
                         yaxis_title="score", xaxis_range=[-0.05, 1.05], yaxis_range=[-0.05, 1.05], **LAYOUT)
    return figure


def competence_curve(report: ExperimentReport, runs: list[RunRecord]) -> go.Figure:
    """Per arm, its running mean score (over the last WINDOW tasks) against the tokens spent so far, with the
    threshold that tokens to competence is measured at."""
    figure = go.Figure()
    arms = metrics.by_arm(runs)
    window = report.arms[0].competence.window if report.arms else metrics.WINDOW
    threshold = report.arms[0].competence.threshold if report.arms else metrics.THRESHOLD
    for arm in report.arms:
        sequence = metrics.task_sequence(arms.get(arm.summary.arm, []))
        scores = [score for score, _ in sequence]
        spent = np.cumsum([spent for _, spent in sequence])
        running = [float(np.mean(scores[max(0, i + 1 - window): i + 1])) for i in range(len(scores))]
        figure.add_scatter(x=spent, y=running, mode="lines+markers", name=_label(arm.summary.arm),
                           hovertemplate="%{x:,.0f} tokens: running score %{y:.2f}<extra></extra>")
    figure.add_hline(y=threshold, line_dash="dash", line_color="grey",
                     annotation_text=f"competence: {threshold:.2f} over {window} tasks")
    figure.update_layout(title="Competence curve", xaxis_title="tokens spent", yaxis_title="running mean score",
                         yaxis_range=[-0.05, 1.05], **LAYOUT)
    return figure

# --- a scaffold's versions

SCORE_COLOUR, TOKENS_COLOUR = "#1565c0", "#9e9e9e"


def version_history_figure(points: list[VersionPoint]) -> go.Figure:
    """Mean score by version as a line (error bars: its interval over tasks), mean tokens on a second axis; the
    hover says who approved the version and how many runs it rests on. A version without runs is a gap in the line."""
    x = [f"v{p.version}" for p in points]
    hover = [
        f"v{p.version} · {html.escape(p.status)} · approved by {html.escape(p.approved_by or 'nobody')}<br>"
        f"score {interval(p.score)} · tokens {interval(p.tokens, 0)}<br>"
        f"{p.runs} runs on {p.score.tasks} scored tasks"
        for p in points
    ]

    def bars(estimate_of) -> dict:
        estimates = [estimate_of(p) for p in points]
        return {"type": "data", "symmetric": False,
                "array": [None if e.high is None else e.high - e.value for e in estimates],
                "arrayminus": [None if e.low is None else e.value - e.low for e in estimates]}

    figure = go.Figure()
    figure.add_trace(go.Scatter(
        name="mean score", x=x, y=[p.score.value for p in points], error_y=bars(lambda p: p.score),
        mode="lines+markers", line={"color": SCORE_COLOUR}, hovertext=hover, hoverinfo="text",
    ))
    figure.add_trace(go.Scatter(
        name="mean tokens", x=x, y=[p.tokens.value for p in points], yaxis="y2", mode="lines+markers",
        line={"color": TOKENS_COLOUR, "dash": "dot"}, hovertext=hover, hoverinfo="text",
    ))
    figure.update_layout(
        height=320, margin={"t": 8, "l": 8, "r": 8, "b": 8}, legend={"orientation": "h"},
        xaxis={"title": {"text": "version"}, "type": "category"},
        yaxis={"title": {"text": "mean score"}, "range": [0, 1.05]},
        yaxis2={"title": {"text": "mean tokens"}, "overlaying": "y", "side": "right", "rangemode": "tozero",
                "showgrid": False},
    )
    return figure

