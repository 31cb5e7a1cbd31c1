"""Plotly figures for the leaderboard: one builder per plot, each returning None when its data is absent.

Plotly renders a subset of HTML inside every piece of text it draws (titles, tick labels, legend entries, hover),
so every name that comes from a run goes through `text()` first and is shown literally, never interpreted.
"""
from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.metrics import auc, roc_curve

from deepfake_zoo.leaderboard.runs import RunResult
from deepfake_zoo.runfiles import (ACCURACY_TARGET, ACCURACY_TARGET_TEXT, equal_error_point, is_number,
                                   lower_is_better, number_or)

REAL_COLOR, FAKE_COLOR = "#0072B2", "#D55E00"
GOOD_COLOR, BAD_COLOR, MUTED_COLOR = "#009E73", "#D55E00", "#9aa0a6"
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]

# A small template instead of plotly's default keeps each embedded figure a few kB instead of ~10 kB.
TEMPLATE = go.layout.Template(layout=dict(
    font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=12, color="#222"),
    paper_bgcolor="white", plot_bgcolor="white", colorway=PALETTE,
    margin=dict(l=60, r=20, t=48, b=48), height=330,
    title=dict(font=dict(size=14), x=0.02, xanchor="left"),
    xaxis=dict(gridcolor="#ececec", linecolor="#bbb", zeroline=False, automargin=True),
    yaxis=dict(gridcolor="#ececec", linecolor="#bbb", zeroline=False, automargin=True),
    legend=dict(bgcolor="rgba(255,255,255,0.7)"),
    hoverlabel=dict(font=dict(size=12)),
))


_TOP_LEGEND = dict(x=0.5, xanchor="center", y=1.0, yanchor="bottom", orientation="h")


def text(value: Any) -> str:
    """Escape a run-supplied string so plotly draws it as text (it decodes &lt; back to < when drawing)."""
    return html.escape(str(value), quote=False)


def _layout(fig: go.Figure, title: str, **kwargs) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title=dict(text=title), **kwargs)
    return fig


def _target_line(fig: go.Figure) -> None:
    # A legend entry rather than an annotation: an annotation collides with bar labels near the target.
    line = dict(color="#444", dash="dash", width=1.5)
    fig.add_hline(y=ACCURACY_TARGET, line=line)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=line,
                             name=f"{ACCURACY_TARGET_TEXT} accuracy target", hoverinfo="skip"))


# ---------------------------------------------------------------- comparison of all models

def accuracy_bars(runs: list[RunResult]) -> go.Figure | None:
    """Test accuracy per model (in ranking order) against the notebook's accuracy target."""
    shown = [r for r in runs if r.value("accuracy") is not None]
    if not shown:
        return None
    acc = [r.value("accuracy") for r in shown]
    fig = go.Figure(go.Bar(
        x=[text(r.name) for r in shown], y=acc,
        marker_color=[GOOD_COLOR if a >= ACCURACY_TARGET else BAD_COLOR for a in acc],
        text=[f"{a:.3f}" for a in acc], textposition="outside", cliponaxis=False,
        hovertemplate="%{x}<br>test accuracy %{y:.3f}<extra></extra>", showlegend=False,
    ))
    _target_line(fig)
    return _layout(fig, "Test accuracy per model", yaxis=dict(range=[0, 1.12], title="test accuracy"),
                   height=380, legend=_TOP_LEGEND, margin=dict(t=70))


def _roc_points(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, float] | None:
    labels = frame["label"].to_numpy()
    if len(np.unique(labels)) < 2:
        return None
    fpr, tpr, _ = roc_curve(labels, frame["prob_fake"].to_numpy())
    return fpr, tpr, float(auc(fpr, tpr))


def roc_overlay(runs: list[RunResult]) -> go.Figure | None:
    """Every model's test ROC curve on one chart, AUC in the legend."""
    fig = go.Figure()
    for i, run in enumerate(runs):
        points = _roc_points(run.predictions) if run.predictions is not None else None
        if points is None:
            continue
        fpr, tpr, area = points
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"{text(run.name)} (AUC {area:.3f})",
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=2),
                                 hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<extra>%{fullData.name}</extra>"))
    if not fig.data:
        return None
    _chance_line(fig)
    return _layout(fig, "ROC curves on the test split", height=380,
                   xaxis=dict(title="false positive rate (real called fake)", range=[0, 1]),
                   yaxis=dict(title="true positive rate (fake caught)", range=[0, 1.02]),
                   legend=dict(x=0.98, xanchor="right", y=0.02, yanchor="bottom"))


def _chance_line(fig: go.Figure) -> None:
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", hoverinfo="skip",
                             line=dict(color=MUTED_COLOR, dash="dot", width=1)))


def cross_dataset_rows(runs: list[RunResult]) -> tuple[list[str], list[str], dict[tuple[str, str], dict]]:
    """Rows (train sources joined with "+"), columns (evaluation sources) and, per cell, the best run's numbers."""
    cells: dict[tuple[str, str], dict] = {}
    rows: list[str] = []
    cols: list[str] = []
    for run in runs:
        train = "+".join(run.metrics.get("train_sources") or []) or "(train sources not recorded)"
        for source, block in (run.metrics.get("per_source") or {}).items():
            area, acc = block.get("roc_auc"), block.get("accuracy")
            if area is None and acc is None:
                continue
            if train not in rows:
                rows.append(train)
            if source not in cols:
                cols.append(source)
            best = cells.get((train, source))
            # Several models can share training sources: the cell shows the best of them and names it.
            if best is None or number_or(area, -math.inf) > number_or(best["roc_auc"], -math.inf):
                cells[(train, source)] = {"roc_auc": area, "accuracy": acc, "model": run.name, "n": block.get("n")}
    return rows, sorted(cols), cells


def cross_dataset_matrix(runs: list[RunResult]) -> go.Figure | None:
    """Train source x evaluation source heatmaps (ROC AUC and accuracy); None unless there is more than one cell."""
    rows, cols, cells = cross_dataset_rows(runs)
    if len(rows) * len(cols) < 2:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("ROC AUC", "accuracy"), horizontal_spacing=0.14)
    for col, metric in enumerate(("roc_auc", "accuracy"), start=1):
        z, label, hover = [], [], []
        for r in rows:
            z.append([number_or(cells.get((r, c), {}).get(metric), math.nan) for c in cols])
            # A result whose metric is undefined (one class only in that source) says so instead of a blank.
            label.append([("n/a" if (r, c) in cells else "") if math.isnan(v) else f"{v:.3f}"
                          for c, v in zip(cols, z[-1])])
            hover.append([_cell_hover(cells.get((r, c)), metric) for c in cols])
        fig.add_trace(go.Heatmap(
            z=z, x=[text(c) for c in cols], y=[text(r) for r in rows], text=label, texttemplate="%{text}",
            customdata=hover, hovertemplate="%{customdata}<extra></extra>", zmin=0.5 if metric == "roc_auc" else 0,
            zmax=1, colorscale="Blues", showscale=False, xgap=2, ygap=2,
        ), row=1, col=col)
        fig.update_xaxes(title_text="evaluated on", row=1, col=col, showgrid=False)
        fig.update_yaxes(title_text="trained on" if col == 1 else None, autorange="reversed", showgrid=False, ticks="",
                         showticklabels=col == 1, row=1, col=col)
    return _layout(fig, "Cross-dataset results (best model per cell)", height=max(260, 120 + 60 * len(rows)))


def _cell_hover(cell: dict | None, metric: str) -> str:
    if not cell:
        return "no result"
    value = number_or(cell.get(metric), math.nan)
    shown = "—" if math.isnan(value) else f"{value:.3f}"
    return f"{text(cell['model'])}<br>{metric} {shown}<br>n = {text(cell.get('n', '?'))}"


# ---------------------------------------------------------------- one model

def confusion_matrix(run: RunResult) -> go.Figure | None:
    """Test confusion matrix from metrics.json (or predictions.csv), as counts and as row-normalised rates."""
    matrix = run.metrics.get("confusion_matrix")
    if matrix is None and run.predictions is not None and "pred" in run.predictions.columns:
        pred, label = run.predictions["pred"].astype(int), run.predictions["label"]
        matrix = [[int(((label == t) & (pred == p)).sum()) for p in (0, 1)] for t in (0, 1)]
    if matrix is None:
        return None
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("counts", "row-normalised (share of each true class)"),
                        horizontal_spacing=0.16)
    x, y = ["predicted real", "predicted fake"], ["true real", "true fake"]
    fig.add_trace(go.Heatmap(z=counts.astype(int).tolist(), x=x, y=y, text=counts.astype(int).tolist(),
                             texttemplate="%{text}", colorscale="Blues", showscale=False, xgap=2, ygap=2,
                             hovertemplate="%{y}, %{x}: %{z}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Heatmap(z=rates.tolist(), x=x, y=y, text=[[f"{v:.1%}" for v in row] for row in rates],
                             texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1, showscale=False,
                             xgap=2, ygap=2, hovertemplate="%{y}, %{x}: %{z:.1%}<extra></extra>"), row=1, col=2)
    fig.update_yaxes(autorange="reversed", showgrid=False, ticks="")
    fig.update_yaxes(showticklabels=False, row=1, col=2)
    fig.update_xaxes(showgrid=False)
    n = int(counts.sum())
    return _layout(fig, f"Confusion matrix, test split (n = {n})", height=300)


def roc(run: RunResult) -> go.Figure | None:
    """Test ROC curve (validation dotted when present) with the EER point and the deployed threshold's point."""
    if run.predictions is None:
        return None
    points = _roc_points(run.predictions)
    if points is None:
        return None
    fpr, tpr, area = points
    fig = go.Figure()
    if run.val_predictions is not None and (val := _roc_points(run.val_predictions)) is not None:
        fig.add_trace(go.Scatter(x=val[0], y=val[1], mode="lines", name=f"validation (AUC {val[2]:.3f})",
                                 line=dict(color=MUTED_COLOR, dash="dot", width=2),
                                 hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<extra>validation</extra>"))
    fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"test (AUC {area:.3f})",
                             line=dict(color=PALETTE[0], width=2.5),
                             hovertemplate="FPR %{x:.3f}<br>TPR %{y:.3f}<extra>test</extra>"))
    # The same rule as the EER in metrics.json (search scores it with this function), so the two always agree.
    eer = equal_error_point(fpr, tpr)
    fig.add_trace(go.Scatter(x=[eer.fpr], y=[eer.tpr], mode="markers", name=f"EER ≈ {eer.rate:.3f}",
                             marker=dict(size=10, color=PALETTE[1], symbol="diamond"),
                             hovertemplate="equal error rate<br>FPR %{x:.3f}, TPR %{y:.3f}<extra></extra>"))
    cm = run.metrics.get("confusion_matrix")
    if cm is not None and (cm[0][0] + cm[0][1]) > 0 and (cm[1][0] + cm[1][1]) > 0:
        op_fpr, op_tpr = cm[0][1] / (cm[0][0] + cm[0][1]), cm[1][1] / (cm[1][0] + cm[1][1])
        threshold = run.value("threshold")
        label = f"threshold {threshold:.3f}" if threshold is not None else "deployed threshold"
        fig.add_trace(go.Scatter(x=[op_fpr], y=[op_tpr], mode="markers", name=label,
                                 marker=dict(size=10, color=PALETTE[3], symbol="circle"),
                                 hovertemplate=f"{label}<br>FPR %{{x:.3f}}, TPR %{{y:.3f}}<extra></extra>"))
    _chance_line(fig)
    return _layout(fig, "ROC curve", height=360, xaxis=dict(title="false positive rate", range=[0, 1]),
                   yaxis=dict(title="true positive rate", range=[0, 1.02]),
                   legend=dict(x=0.98, xanchor="right", y=0.02, yanchor="bottom"))


def score_histogram(run: RunResult, bins: int = 25) -> go.Figure | None:
    """Test P(fake) per true class, pre-binned so the page stays small however large the test split."""
    if run.predictions is None:
        return None
    edges = np.linspace(0.0, 1.0, bins + 1)
    centers, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    fig = go.Figure()
    for label, name, color in ((0, "real", REAL_COLOR), (1, "fake", FAKE_COLOR)):
        scores = run.predictions.loc[run.predictions["label"] == label, "prob_fake"].to_numpy()
        if len(scores) == 0:
            continue
        counts, _ = np.histogram(scores, bins=edges)
        fig.add_trace(go.Bar(x=centers, y=counts, width=width, name=f"true {name} (n = {len(scores)})",
                             marker=dict(color=color, line=dict(width=0)), opacity=0.6,
                             hovertemplate=f"true {name}<br>P(fake) %{{x:.2f}}: %{{y}} images<extra></extra>"))
    threshold = run.value("threshold")
    if threshold is not None and fig.data:
        top = max(max(trace.y) for trace in fig.data)
        fig.add_trace(go.Scatter(x=[threshold, threshold], y=[0, top * 1.05], mode="lines",
                                 name=f"threshold {threshold:.2f}", line=dict(color="#333", dash="dash", width=1.5),
                                 hovertemplate=f"threshold {threshold:.3f}<extra></extra>"))
    return _layout(fig, "Scores per true class (test)", barmode="overlay", bargap=0, height=360,
                   xaxis=dict(title="predicted P(fake)", range=[0, 1]), yaxis=dict(title="images"),
                   legend=_TOP_LEGEND,
                   margin=dict(t=70))


def per_source_accuracy(run: RunResult) -> go.Figure | None:
    """Test accuracy and ROC AUC per source dataset, against the accuracy target."""
    per_source = {k: v for k, v in (run.metrics.get("per_source") or {}).items() if isinstance(v, dict)}
    if not per_source:
        return None
    names = list(per_source)
    fig = go.Figure()
    for metric, color in (("accuracy", PALETTE[0]), ("roc_auc", PALETTE[5])):
        values = [number_or(per_source[s].get(metric), math.nan) for s in names]
        fig.add_trace(go.Bar(
            x=[text(s) for s in names], y=values, name=metric.replace("roc_auc", "ROC AUC"), marker_color=color,
            text=["" if math.isnan(v) else f"{v:.3f}" for v in values], textposition="outside", cliponaxis=False,
            customdata=[text(per_source[s].get("n", "?")) for s in names],
            hovertemplate="%{x}<br>%{fullData.name} %{y:.3f}<br>n = %{customdata}<extra></extra>"))
    _target_line(fig)
    return _layout(fig, "Per source dataset (test)", barmode="group", yaxis=dict(range=[0, 1.15]),
                   legend=_TOP_LEGEND, margin=dict(t=70))


def _maximise(run: RunResult) -> bool:
    objective = str(run.metrics.get("objective") or "")
    return not (objective and lower_is_better(objective.removeprefix("val_")))


def optimisation_history(run: RunResult) -> go.Figure | None:
    """Objective per trial: complete trials, pruned trials at their last reported value, and the best so far."""
    trials = run.trials
    if trials is None or trials.empty:
        return None
    objective = text(run.metrics.get("objective") or "objective")
    complete = trials[(trials["state"] == "COMPLETE") & trials["value"].notna()]
    fig = go.Figure()
    if "intermediate" in trials.columns:
        pruned = trials[(trials["state"] == "PRUNED") & trials["intermediate"].map(bool)]
        if not pruned.empty:
            fig.add_trace(go.Scatter(x=pruned["number"], y=[v[-1] for v in pruned["intermediate"]], mode="markers",
                                     name="pruned (last value)", marker=dict(color=MUTED_COLOR, symbol="x", size=8),
                                     hovertemplate="trial %{x}: pruned at %{y:.4f}<extra></extra>"))
    if not complete.empty:
        fig.add_trace(go.Scatter(x=complete["number"], y=complete["value"], mode="markers", name="complete",
                                 marker=dict(color=PALETTE[0], size=8),
                                 hovertemplate="trial %{x}: %{y:.4f}<extra></extra>"))
        values = complete["value"].to_numpy()
        best = np.maximum.accumulate(values) if _maximise(run) else np.minimum.accumulate(values)
        fig.add_trace(go.Scatter(x=complete["number"], y=best, mode="lines", name="best so far",
                                 line=dict(color=PALETTE[1], shape="hv", width=2), hoverinfo="skip"))
    if not fig.data:
        return None
    last = int(trials["number"].max())
    return _layout(fig, "Optimisation history", yaxis=dict(title=objective), legend=_TOP_LEGEND, margin=dict(t=70),
                   xaxis=dict(title="trial", tick0=0, dtick=max(1, math.ceil(last / 10))))


def trial_curves(run: RunResult) -> go.Figure | None:
    """Per-epoch validation values of every trial (what the pruner saw); pruned trials in grey."""
    trials = run.trials
    if trials is None or "intermediate" not in trials.columns or not trials["intermediate"].map(bool).any():
        return None
    fig = go.Figure()
    for state, color, width, name in (("PRUNED", MUTED_COLOR, 1, "pruned"), ("COMPLETE", PALETTE[0], 1.5,
                                                                             "complete")):
        first = True
        for _, row in trials[(trials["state"] == state) & trials["intermediate"].map(bool)].iterrows():
            values = row["intermediate"]
            # Markers too: a trial pruned after its first epoch is a single point, invisible as a line.
            fig.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers", name=name,
                                     legendgroup=name, showlegend=first, line=dict(color=color, width=width),
                                     marker=dict(size=4),
                                     hovertemplate=f"trial {int(row['number'])}, epoch %{{x}}: %{{y:.4f}}"
                                                   "<extra></extra>"))
            first = False
    if not fig.data:
        return None
    longest = int(trials["intermediate"].map(len).max())
    return _layout(fig, "Trial learning curves (validation, per epoch)", xaxis=_epoch_axis(longest),
                   yaxis=dict(title=text(run.metrics.get("objective") or "objective")),
                   legend=_TOP_LEGEND,
                   margin=dict(t=70))


def _epoch_axis(epochs: int) -> dict:
    # Whole epochs only, about ten ticks at most.
    return dict(title="epoch", tick0=1, dtick=max(1, math.ceil(epochs / 10)))


def importances(run: RunResult) -> go.Figure | None:
    """fANOVA importance of each hyperparameter, largest on top."""
    if not run.importances:
        return None
    items = sorted(run.importances.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[text(k) for k, _ in items], orientation="h",
                           marker_color=PALETTE[2], text=[f"{v:.2f}" for _, v in items], textposition="outside",
                           cliponaxis=False, hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    return _layout(fig, "Hyperparameter importance (fANOVA)", xaxis=dict(title="importance", rangemode="tozero"),
                   height=max(220, 110 + 32 * len(items)), showlegend=False)


def training_curves(run: RunResult) -> go.Figure | None:
    """The final model's per-epoch curves from history.json: losses on the left, other metrics on the right."""
    if not run.history:
        return None
    losses = {k: v for k, v in run.history.items() if "loss" in k}
    others = {k: v for k, v in run.history.items() if "loss" not in k}
    groups = [g for g in ((losses, "loss"), (others, "metric")) if g[0]]
    fig = make_subplots(rows=1, cols=len(groups), horizontal_spacing=0.12)
    colours: dict[str, str] = {}
    for col, (curves, axis_title) in enumerate(groups, start=1):
        for name, values in curves.items():
            colour = colours.setdefault(name, PALETTE[len(colours) % len(PALETTE)])
            fig.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers",
                                     name=text(name), line=dict(color=colour, width=2, dash="dot" if
                                                                name.startswith("val_") else "solid"),
                                     marker=dict(size=5),
                                     hovertemplate="epoch %{x}: %{y:.4f}<extra>%{fullData.name}</extra>"),
                          row=1, col=col)
        axis = _epoch_axis(max(map(len, curves.values())))
        fig.update_xaxes(title_text=axis.pop("title"), **axis, row=1, col=col)
        fig.update_yaxes(title_text=axis_title, row=1, col=col)
    return _layout(fig, "Training curves of the final model",
                   legend=_TOP_LEGEND,
                   margin=dict(t=70))


def reliability(run: RunResult) -> go.Figure | None:
    """Reliability diagram on the test split: fraction fake against mean P(fake) per bin, before and after the
    temperature fitted on validation, ECE of each in the legend."""
    block = run.calibration
    if not block:
        return None
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", hoverinfo="skip",
                             line=dict(color=MUTED_COLOR, dash="dot", width=1)))
    temperature = block.get("temperature")
    for side, color, label in (("before", PALETTE[1], "raw P(fake)"),
                               ("after", PALETTE[0], "temperature-scaled" + (
                                   f" (T = {temperature:.2f})" if temperature is not None else ""))):
        points = block.get(f"reliability_{side}") or []
        if not points:
            continue
        ece = block.get(f"ece_{side}")
        name = f"{label}, ECE {ece:.3f}" if ece is not None else f"{label}, ECE not recorded"
        fig.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=name,
            line=dict(color=color, width=2), marker=dict(size=[6 + min(10, math.sqrt(p[2])) for p in points]),
            customdata=[p[2] for p in points],
            hovertemplate="mean P(fake) %{x:.3f}<br>fraction fake %{y:.3f}<br>%{customdata} images<extra></extra>"))
    return _layout(fig, "Reliability diagram (test)", height=360,
                   xaxis=dict(title="mean predicted P(fake) in the bin", range=[0, 1]),
                   yaxis=dict(title="fraction of fakes in the bin", range=[0, 1.02]),
                   legend=dict(x=0.02, xanchor="left", y=0.98, yanchor="top"))


def robustness_kinds(runs: list[RunResult]) -> list[str]:
    """Every perturbation any run was measured under, in the order first met (the search writes a fixed order)."""
    kinds: list[str] = []
    for run in runs:
        for kind in (run.robustness or {}).get("perturbations", {}):
            if kind not in kinds:
                kinds.append(kind)
    return kinds


def robustness_curve(runs: list[RunResult], kind: str) -> go.Figure | None:
    """ROC AUC against severity for one perturbation, one line per model, starting from its clean AUC."""
    fig = go.Figure()
    parameter = None
    lowest = 0.4
    for i, run in enumerate(runs):
        block = (run.robustness or {}).get("perturbations", {}).get(kind)
        if not block:
            continue
        parameter = parameter or block["parameter"]
        x = ["clean"] + [f"{block['parameter']} {_level(v)}" for v in block["levels"]]
        y = [run.robustness.get("clean_roc_auc")] + block["roc_auc"]
        lowest = min([lowest] + [v - 0.03 for v in y if v is not None])
        n = run.robustness.get("n")
        fig.add_trace(go.Scatter(
            x=[text(v) for v in x], y=[math.nan if v is None else v for v in y], mode="lines+markers",
            name=text(run.name) + (f" (n = {int(n)})" if n is not None else ""),
            line=dict(color=PALETTE[i % len(PALETTE)], width=2),
            hovertemplate="%{x}: ROC AUC %{y:.3f}<extra>%{fullData.name}</extra>"))
    if not fig.data:
        return None
    return _layout(fig, f"Robustness to {text(kind)} ({text(parameter)})", height=340,
                   xaxis=dict(title="severity (left: none)", type="category"),
                   yaxis=dict(title="ROC AUC", range=[lowest, 1.02]), legend=_TOP_LEGEND, margin=dict(t=70))


def _level(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def pareto_front(points: dict[str, tuple[float, float]]) -> set[str]:
    """The names whose (latency, ROC AUC) no other point beats on both: no other is at least as fast and at least
    as accurate while strictly better on one."""
    front = set()
    for name, (latency, area) in points.items():
        if not any(o_lat <= latency and o_auc >= area and (o_lat < latency or o_auc > area)
                   for other, (o_lat, o_auc) in points.items() if other != name):
            front.add(name)
    return front


def pareto_points(runs: list[RunResult]) -> dict[str, tuple[float, float]]:
    """{model: (latency ms per image, in-domain test ROC AUC)} for the runs that have both."""
    points = {}
    for run in runs:
        area = run.value("roc_auc")
        if run.cost and area is not None:
            points[run.name] = (run.cost["latency_ms_per_image"], area)
    return points


def pareto(runs: list[RunResult]) -> go.Figure | None:
    """Test ROC AUC against CPU latency per image; the models nobody beats on both are marked and joined."""
    points = pareto_points(runs)
    if not points:
        return None
    front = pareto_front(points)
    fig = go.Figure()
    best = sorted((points[n] for n in front))
    fig.add_trace(go.Scatter(x=[p[0] for p in best], y=[p[1] for p in best], mode="lines", name="Pareto front",
                             line=dict(color=GOOD_COLOR, dash="dash", width=1.5, shape="hv"), hoverinfo="skip"))
    for on_front, symbol, color, label in ((True, "star", GOOD_COLOR, "on the front (nobody faster and better)"),
                                           (False, "circle", MUTED_COLOR, "beaten on both by another")):
        names = [n for n in points if (n in front) == on_front]
        if not names:
            continue
        fig.add_trace(go.Scatter(
            x=[points[n][0] for n in names], y=[points[n][1] for n in names], mode="markers+text", name=label,
            text=[text(n) for n in names], textposition="top center", cliponaxis=False,
            marker=dict(size=13 if on_front else 9, symbol=symbol, color=color),
            hovertemplate="%{text}<br>%{x:.2f} ms/image, ROC AUC %{y:.3f}<extra></extra>"))
    return _layout(fig, "Quality against speed", height=380, legend=_TOP_LEGEND, margin=dict(t=70),
                   xaxis=dict(title="CPU latency per image, batch 1 (ms, log scale)", type="log"),
                   yaxis=dict(title="ROC AUC (test split)"))


def model_caption(key: str, run: RunResult) -> str:
    """What data a model's figure was measured on, said under it."""
    n_test = run.value("n_test")
    test = "the test split" + (f" (n = {int(n_test)})" if n_test is not None else "")
    validation = run.metrics.get("validation") if isinstance(run.metrics.get("validation"), dict) else {}
    n_val = validation.get("n") if is_number(validation.get("n")) else None
    cal = run.calibration or {}
    return {
        "confusion": f"Measured on {test} at the threshold chosen on validation.",
        "roc": f"Measured on {test}; dotted: the validation split"
               + (f" (n = {int(n_val)})" if n_val is not None else "") + ".",
        "scores": f"Measured on {test}.",
        "sources": f"Measured on {test}, split by source dataset (n per source in the hover).",
        "history": "Validation objective of each trial of the search (the test split is never seen).",
        "trials": "Validation values per epoch during the search (the test split is never seen).",
        "importances": "fANOVA over the search's completed trials (validation objective).",
        "training": "The final model's per-epoch curves: training data and the validation split.",
        "calibration": "Measured on the test split" + (f" (n = {int(cal['n_test'])})" if cal.get("n_test") else "")
                       + f", {int(cal.get('bins') or 15)} equal-width bins; temperature fitted on the validation "
                       "split" + (f" (n = {int(cal['n_validation'])})" if cal.get("n_validation") else "") + ".",
    }.get(key, "")


MODEL_FIGURES = (
    ("confusion", "confusion matrix", confusion_matrix),
    ("roc", "ROC curve", roc),
    ("scores", "score histogram", score_histogram),
    ("sources", "per-source results", per_source_accuracy),
    ("history", "optimisation history", optimisation_history),
    ("trials", "trial learning curves", trial_curves),
    ("importances", "parameter importances", importances),
    ("training", "training curves", training_curves),
    ("calibration", "reliability diagram", reliability),
)
