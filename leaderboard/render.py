"""Render runs/*/ into one self-contained leaderboard/index.html: ranked table, comparison plots, one section per model.

Beyond the test split the page shows what each run folder holds of: external/<SET>/metrics.json (`evaluate`), a
`holdout` block (cross-source runs), robustness.json, cost.json and the calibration block, as a generalization
matrix, robustness curves, a Pareto plot and reliability diagrams; a run without them says "not measured".

The page needs no server and no network: plotly.js is inlined once and every figure's JSON sits in a single
`<script type="application/json">` block that a few lines of inline JS hand to `Plotly.newPlot`. This module
gathers the data (ranked runs, table cells, figures); the markup is `templates/page.html` (Jinja2, autoescaping on,
so every name from a run is shown as text) and the styles and script are `static/`, all inlined into the one file.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import jinja2
import plotly.io as pio
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from deepfake_zoo.atomic import write_text
from deepfake_zoo.leaderboard import figures
from deepfake_zoo.leaderboard.runs import RunResult, SkippedRun, load_runs
from deepfake_zoo.runfiles import (ACCURACY_TARGET, ACCURACY_TARGET_TEXT, CROSS_MEAN_KEY, DEFAULT_RANK_BY,
                                   HEADLINE_METRICS, is_number, lower_is_better, numeric_keys, rank_key, readable_text,
                                   resolve_rank_by)

METRIC_LABELS = {
    "accuracy": "test accuracy", "roc_auc": "ROC AUC", "eer": "EER", "f1": "F1",
    "average_precision": "average precision",
    "wall_time_s": "search wall time", "inference_images_per_s": "inference images/s", "params_total": "parameters",
    "params_trainable": "trainable parameters", "image_size": "input size", "best_value": "best validation value",
    CROSS_MEAN_KEY: "mean cross-set ROC AUC", "validation.roc_auc": "validation ROC AUC",
}
# Validation ROC AUC this far above test means the search picked a model that suits the validation split more than
# faces in general: a small validation split, or one that leaks (the same people or videos as training).
GAP_FLAG = 0.05
_HERE = Path(__file__).resolve().parent
# Autoescaping for every template whatever its name: names, sources and notes come from files anyone can write.
_TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(_HERE / "templates"), autoescape=True,
                                undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def metric_label(key: str) -> str:
    """Human name for a metrics.json key, e.g. roc_auc -> ROC AUC; unknown keys are shown as they are."""
    return METRIC_LABELS.get(key, key)


@dataclass
class Leaderboard:
    """A rendered page plus what went into it; `write()` puts it on disk."""

    html: str
    runs: list[RunResult]
    skipped: list[SkippedRun]
    rank_by: str
    figure_ids: list[str] = field(default_factory=list)

    def write(self, out: str | Path = "leaderboard/index.html") -> Path:
        """Write the page atomically (a browser refreshing mid-search never sees half a file); returns its path."""
        return write_text(out, self.html)


def write_leaderboard(runs_dir: str | Path = "runs", out: str | Path = "leaderboard/index.html",
                      rank_by: str | None = None) -> Path:
    """Read every run under `runs_dir`, rank by `rank_by` and write the page to `out`; returns the written path.

    `rank_by` is any numeric metrics.json key, dots reaching nested ones (`validation.roc_auc`,
    `per_source.deepfake-faces.accuracy`); EER, losses, times and sizes rank smallest first; None is the default
    rule (`deepfake_zoo.runfiles.resolve_rank_by`: validation ROC AUC). Raises ValueError when
    runs exist but none has a number at `rank_by`, and FileNotFoundError when `runs_dir` does not exist (an existing
    page is then left as it was). Broken run folders never raise: they are listed on the page.

    >>> write_leaderboard("runs", "leaderboard/index.html", rank_by="accuracy")
    PosixPath('leaderboard/index.html')
    """
    return build_leaderboard(runs_dir, rank_by).write(out)


def rank_runs(runs: list[RunResult], rank_by: str = DEFAULT_RANK_BY) -> list[RunResult]:
    """Best first by `rank_by`; runs without that number go last, ties broken by folder name (as `predict` does)."""
    if runs and all(r.value(rank_by) is None for r in runs):
        if rank_by == CROSS_MEAN_KEY:
            raise ValueError(f"no run has a result beyond its own test split to rank by {rank_by}: score runs on "
                             "other data with `deepfake-zoo evaluate DATA`, or search with --holdout-sources")
        keys = numeric_keys(r.metrics for r in runs)
        raise ValueError(f"no run has a number at --rank-by {rank_by!r}; choose one of: {', '.join(keys)} "
                         "(or a dotted path such as validation.roc_auc)")
    return sorted(runs, key=lambda run: rank_key(run.metrics, rank_by, run.folder.name))


def _rank_scope(rank_by: str) -> str:
    if rank_by == CROSS_MEAN_KEY:
        return "over the external sets and held-out sources (not in-domain)"
    if rank_by.startswith("validation."):
        return "on the validation split, where each model was chosen (the test columns only report)"
    return "on the held-out test split"


def build_leaderboard(runs_dir: str | Path = "runs", rank_by: str | None = None) -> Leaderboard:
    """Load, rank and render without writing; see `write_leaderboard`."""
    runs, skipped = load_runs(runs_dir)
    rank_by = resolve_rank_by(rank_by, (r.metrics for r in runs))
    ranked = rank_runs(runs, rank_by)
    page = _Page(ranked, skipped, rank_by, readable_text(str(runs_dir)))
    return Leaderboard(page.render(), ranked, skipped, rank_by, list(page.figures))


def anchor(index: int, name: str) -> str:
    """A stable, safe HTML id for a model's section (the name may hold any characters)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "model"
    return f"model-{index + 1}-{slug}"


# ------------------------------------------------------------------ table columns

def _fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _fmt_count(value: float | None) -> str:
    if value is None:
        return "—"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _fmt_param(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def weights_text(metrics: dict[str, Any]) -> str:
    """What the backbone really started from, said plainly."""
    weights = metrics.get("weights")
    if weights is None:
        return "not recorded"
    if str(weights).lower() == "imagenet":
        return "ImageNet (pretrained)"
    if str(weights).lower() in ("none", "random", ""):
        return "none (random init)"
    return str(weights)


@dataclass(frozen=True)
class Cell:
    """What one ranking-table cell shows (the template decides how) and the value the table sorts it by."""

    text: str = "—"
    sort: float | str | None = None
    sub: str | None = None  # a second value, shown muted after a slash (trainable parameters, pruned trials)
    verdict: str | None = None  # "meets" / "below" the accuracy target
    warn: str | None = None  # shown after the value in the warning colour
    params: tuple[tuple[str, str], ...] | None = None  # best hyperparameters as (name, shown value)

    @property
    def sort_text(self) -> str:
        """The cell's data-sort attribute: a float's repr (exact, for the JS sort and the tests) or the text."""
        if self.sort is None:
            return ""
        return repr(float(self.sort)) if is_number(self.sort) else str(self.sort)


@dataclass(frozen=True)
class Column:
    """One column of the ranking table: its metrics.json key, header, how it sorts, and how a run fills its cell."""

    key: str
    header: str
    kind: str  # "num" or "text": how the page's script compares the data-sort values
    lower_is_better: bool  # the first click on the header sorts smallest first
    cell: Callable[[RunResult], Cell]


def _metric_cell(key: str) -> Callable[[RunResult], Cell]:
    def cell(run: RunResult) -> Cell:
        value = run.value(key)
        verdict = None
        if key == "accuracy" and value is not None:
            verdict = "meets" if value >= ACCURACY_TARGET else "below"
        return Cell(_fmt_rate(value), value, verdict=verdict)
    return cell


def _params_cell(run: RunResult) -> Cell:
    total, trainable = run.value("params_total"), run.value("params_trainable")
    return Cell(_fmt_count(total), total, sub=_fmt_count(trainable))


def _trials_cell(run: RunResult) -> Cell:
    trials = run.metrics.get("trials") or {}
    complete, pruned, failed = (trials.get(k) for k in ("complete", "pruned", "failed"))
    if complete is None and run.trials is not None:
        states = run.trials["state"].value_counts()
        complete, pruned, failed = (int(states.get(s, 0)) for s in ("COMPLETE", "PRUNED", "FAIL"))
    if complete is None:
        return Cell()
    return Cell(str(complete), float(complete) if is_number(complete) else None,
                sub=str(pruned if pruned is not None else "?"), warn=f"{failed} failed" if failed else None)


def _best_params_cell(run: RunResult) -> Cell:
    params = run.metrics.get("best_params") or {}
    return Cell(sort=", ".join(f"{k}={_fmt_param(v)}" for k, v in params.items()),
                params=tuple((str(k), _fmt_param(v)) for k, v in params.items()))


def _image_size_cell(run: RunResult) -> Cell:
    size = run.value("image_size")
    return Cell(f"{int(size)}px" if size else "—", size)


def _speed_cell(run: RunResult) -> Cell:
    speed = run.value("inference_images_per_s")
    return Cell(_fmt_count(speed) if speed is None else f"{speed:.1f}", speed)


def validation_gap(run: RunResult) -> float | None:
    """Validation minus test ROC AUC, None unless both were recorded."""
    val, test = run.value("validation.roc_auc"), run.value("roc_auc")
    return None if val is None or test is None else val - test


def _gap_cell(run: RunResult) -> Cell:
    gap = validation_gap(run)
    if gap is None:
        return Cell()
    return Cell(f"{gap:+.3f}", gap, warn="selection?" if gap > GAP_FLAG else None)


def _cross_mean_cell(run: RunResult) -> Cell:
    value = run.value(CROSS_MEAN_KEY)
    return Cell("not measured" if value is None else f"{value:.3f}", value)


COLUMNS: list[Column] = [
    Column("accuracy", "test accuracy", "num", False, _metric_cell("accuracy")),
    Column("roc_auc", "ROC AUC", "num", False, _metric_cell("roc_auc")),
    Column("validation.roc_auc", "val ROC AUC", "num", False, _metric_cell("validation.roc_auc")),
    Column("val_test_gap", "val − test AUC", "num", True, _gap_cell),
    Column(CROSS_MEAN_KEY, "cross-set ROC AUC", "num", False, _cross_mean_cell),
    Column("eer", "EER", "num", True, _metric_cell("eer")),
    Column("f1", "F1", "num", False, _metric_cell("f1")),
    Column("average_precision", "avg precision", "num", False, _metric_cell("average_precision")),
    Column("image_size", "input", "num", False, _image_size_cell),
    Column("params_total", "params total / trainable", "num", True, _params_cell),
    Column("weights", "weights", "text", False, lambda r: Cell(weights_text(r.metrics), weights_text(r.metrics))),
    Column("trials", "trials complete / pruned", "num", False, _trials_cell),
    Column("wall_time_s", "search time", "num", True,
           lambda r: Cell(_fmt_duration(r.value("wall_time_s")), r.value("wall_time_s"))),
    Column("inference_images_per_s", "images/s", "num", False, _speed_cell),
    Column("best_params", "best hyperparameters", "text", False, _best_params_cell),
]


# ------------------------------------------------------------------ the page

@dataclass(frozen=True)
class Plot:
    """A figure's placeholder on the page: its id in the figure JSON, its height in pixels and extra CSS classes."""

    id: str
    height: int
    css: str = ""
    caption: str = ""  # on what data the figure was measured


class _Page:
    def __init__(self, runs: list[RunResult], skipped: list[SkippedRun], rank_by: str, runs_dir: str):
        self.runs, self.skipped, self.rank_by, self.runs_dir = runs, skipped, rank_by, runs_dir
        self.anchors = {id(run): anchor(i, run.name) for i, run in enumerate(runs)}
        self.figures: dict[str, str] = {}

    def figure(self, fig_id: str, fig, css: str = "", caption: str = "") -> Plot | None:
        """Register a plotly figure (JSON via plotly's own encoder) and return its placeholder, None without one."""
        if fig is None:
            return None
        self.figures[fig_id] = pio.to_json(fig, validate=False)
        return Plot(fig_id, int(fig.layout.height or figures.TEMPLATE.layout.height), css, caption)

    def render(self) -> str:
        context: dict[str, Any] = dict(
            runs=self.runs, runs_dir=self.runs_dir, rank_by=self.rank_by, rank_label=metric_label(self.rank_by),
            direction="lower is better" if lower_is_better(self.rank_by) else "higher is better",
            rank_scope=_rank_scope(self.rank_by),
            created=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), target=ACCURACY_TARGET_TEXT,
            best=self.best(), synthetic=[r.name for r in self.runs if r.metrics.get("data_is_synthetic")],
            skipped=[(readable_text(str(s.folder)), s.reason) for s in self.skipped],
            css=_static("leaderboard.css"), js=_static("leaderboard.js"), plotly_js=None, figures=None,
        )
        if self.runs:
            columns = self.columns()
            context.update(
                columns=columns,
                rows=[dict(run=run, rank=rank, anchor=self.anchors[id(run)],
                           synthetic=bool(run.metrics.get("data_is_synthetic")),
                           cells=[(c.key, c.cell(run)) for c in columns])
                      for rank, run in enumerate(self.runs, start=1)],
                comparison=[p for p in (
                    self.figure("fig-compare-accuracy", figures.accuracy_bars(self.runs),
                                caption="Measured on each model's test split (n per model in the table below)."),
                    self.figure("fig-compare-roc", figures.roc_overlay(self.runs),
                                caption="Measured on each model's test split (predictions.csv).")) if p],
                cross=self.figure("fig-compare-cross", figures.cross_dataset_matrix(self.runs), css="wide",
                                  caption="Measured on the test split, per source dataset (n in the hover)."),
                generalization=generalization_matrix(self.runs, self.anchors),
                robustness=[p for i, kind in enumerate(figures.robustness_kinds(self.runs)) if (p := self.figure(
                    f"fig-robustness-{i + 1}-{_slug(kind)}", figures.robustness_curve(self.runs, kind),
                    caption=_robustness_caption(self.runs, kind)))],
                robustness_missing=[r.name for r in self.runs if r.robustness is None],
                pareto=self.figure("fig-compare-pareto", figures.pareto(self.runs), css="wide",
                                   caption=_pareto_caption(self.runs)),
                cost_missing=[r.name for r in self.runs if r.cost is None],
                gap_flag=GAP_FLAG,
                sections=[self.model_section(run) for run in self.runs],
            )
        if self.figures:
            context.update(plotly_js=Markup(get_plotlyjs()), figures=Markup(_figures_json(self.figures)))
        return _TEMPLATES.get_template("page.html").render(context)

    def best(self) -> dict[str, str] | None:
        if not self.runs:
            return None
        best = self.runs[0]
        acc = best.value("accuracy")
        verdict = ("" if acc is None else
                   f' — test accuracy {acc:.3f}, {"meets" if acc >= ACCURACY_TARGET else "below"} '
                   f"the {ACCURACY_TARGET_TEXT} target")
        value = best.value(self.rank_by)
        return dict(name=best.name, anchor=self.anchors[id(best)], verdict=verdict,
                    value=_fmt_rate(value) if value is None or abs(value) <= 1 else f"{value:.4g}")

    def columns(self) -> list[Column]:
        columns = list(COLUMNS)
        if self.rank_by not in {c.key for c in columns}:
            # Ranked by a key the table does not show (e.g. a per-source accuracy): show it, right after the model.
            columns.insert(0, Column(self.rank_by, metric_label(self.rank_by), "num", lower_is_better(self.rank_by),
                                     _metric_cell(self.rank_by)))
        return columns

    def model_section(self, run: RunResult) -> dict[str, Any]:
        sid = self.anchors[id(run)]
        m = run.metrics
        facts = [
            ("family", m.get("family")), ("input size", f"{m['image_size']}px" if m.get("image_size") else None),
            ("weights", weights_text(m)), ("backbone", None if m.get("frozen") is None else
                                            ("frozen" if m.get("frozen") else "trainable")),
            ("threshold", None if run.value("threshold") is None else f"{run.value('threshold'):.3f} (chosen on "
                                                                           "validation)"),
            ("objective", None if m.get("objective") is None else
             f"{m['objective']} = {_fmt_param(m.get('best_value'))}"),
            ("trained on", " + ".join(m.get("train_sources") or []) or None),
            ("held out", _holdout_text(m)),
            ("latency", _latency_text(run.cost)),
            ("calibration", _calibration_text(run.calibration)),
            ("test images", m.get("n_test")), ("engine", m.get("engine")), ("study", m.get("study_name")),
            ("seed", m.get("seed")), ("epochs", m.get("epochs")), ("created", m.get("created")),
            ("folder", readable_text(str(run.folder))),
        ]
        plots, missing = [], []
        for key, label, builder in figures.MODEL_FIGURES:
            plot = self.figure(f"fig-{sid}-{key}", builder(run), css="wide" if key in ("confusion", "training")
                               else "", caption=figures.model_caption(key, run))
            if plot:
                plots.append(plot)
            else:
                missing.append(label)
        return dict(run=run, anchor=sid, synthetic=bool(m.get("data_is_synthetic")),
                    metric_labels=[metric_label(k) for k in HEADLINE_METRICS], metric_rows=_metric_rows(run),
                    facts=[(k, v) for k, v in facts if v is not None and v != ""],
                    params=[(k, _fmt_param(v)) for k, v in (m.get("best_params") or {}).items()],
                    plots=plots, notes=run.notes, missing=missing)


def _metric_rows(run: RunResult) -> list[tuple[str, list[str], Any]]:
    """(split, the headline metrics as shown, number of images) for test and, when recorded, validation."""
    rows = [("test", run.metrics, run.metrics.get("n_test"))]
    validation = run.metrics.get("validation")
    if isinstance(validation, dict):
        rows.append(("validation", validation, validation.get("n")))
    return [(split, [_fmt_rate(float(v) if is_number(v := block.get(k)) else None) for k in HEADLINE_METRICS],
             n if n is not None else "—") for split, block, n in rows]


def _holdout_text(metrics: dict[str, Any]) -> str | None:
    sources = metrics.get("holdout_sources")
    if not (isinstance(sources, list) and sources and all(isinstance(s, str) for s in sources)):
        return None
    return " + ".join(sources) + " (never in training or validation)"


def _latency_text(cost: dict[str, Any] | None) -> str:
    if not cost:
        return "not measured"
    throughput = cost.get("throughput_images_per_s")
    return (f"{cost['latency_ms_per_image']:.2f} ms per image (CPU, batch 1, median)"
            + (f"; {throughput:.0f} images/s at batch {int(cost.get('batch_size') or 32)}" if throughput else ""))


def _calibration_text(block: dict[str, Any] | None) -> str:
    if not block:
        return "not measured"
    parts = []
    if block.get("temperature") is not None:
        parts.append(f"temperature {block['temperature']:.2f} (fitted on validation)")
    for name, key in (("ECE", "ece"), ("Brier", "brier")):
        before, after = block.get(f"{key}_before"), block.get(f"{key}_after")
        if before is not None and after is not None:
            parts.append(f"{name} {before:.3f} → {after:.3f}")
    return "; ".join(parts) or "recorded without numbers"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:40] or "x"


def _robustness_caption(runs: list[RunResult], kind: str) -> str:
    measured = [r for r in runs if kind in (r.robustness or {}).get("perturbations", {})]
    splits = sorted({r.robustness["split"] for r in measured})
    sizes = sorted({int(r.robustness["n"]) for r in measured if r.robustness.get("n") is not None})
    n = "n = " + (", ".join(map(str, sizes)) if sizes else "not recorded")
    return (f"Measured on the {' / '.join(splits)} split ({n} images per model), each image perturbed before the "
            "training resize, scored at the run's own threshold (robustness.json).")


def _pareto_caption(runs: list[RunResult]) -> str:
    measured = [r for r in runs if r.cost]
    repeats = sorted({int(r.cost["repeats"]) for r in measured if r.cost.get("repeats")})
    return ("ROC AUC on each model's test split; latency: median CPU time per image at batch 1"
            + (f" over {', '.join(map(str, repeats))} runs" if repeats else "") + " (cost.json). Stars: no other "
            "model is both faster and better.")


@dataclass(frozen=True)
class MatrixCell:
    """One cell of the generalization matrix: the ROC AUC shown, its n, colour and hover text."""

    text: str
    n: str
    sort: float | None
    style: str
    title: str


def auc_style(value: float | None) -> str:
    """Background for a ROC AUC cell: white at chance (0.5) to deep blue at 1.0; below chance light red."""
    if value is None:
        return ""
    if value < 0.5:
        return "background:hsl(8,75%,90%);color:#222"
    light = 96 - 52 * min(1.0, (value - 0.5) / 0.5)
    return f"background:hsl(210,65%,{light:.0f}%);color:{'#fff' if light < 62 else '#222'}"


def _matrix_cell(value: float | None, n: int | None, title: str) -> MatrixCell:
    if value is None:
        return MatrixCell("not measured" if n is None else "n/a", "" if n is None else f"n = {n}", None, "", title)
    return MatrixCell(f"{value:.3f}", "" if n is None else f"n = {n}", value, auc_style(value), title)


def generalization_matrix(runs: list[RunResult], anchors: dict[int, str]) -> dict[str, Any] | None:
    """Models x evaluation sets (in-domain test split, each external set, each held-out source) with ROC AUC and n,
    plus the mean over the sets that are not in-domain; None when no run has a set beyond its test split."""
    columns: list[tuple[str, str]] = [("in-domain", "test split")]
    for run in runs:
        for s in run.evaluation_sets:
            if (s.kind, s.name) not in columns:
                columns.append((s.kind, s.name))
    if len(columns) == 1:
        return None
    order = {"in-domain": 0, "external": 1, "held-out": 2}
    columns.sort(key=lambda c: (order[c[0]], c[1]))
    rows = []
    for run in runs:
        found = {(s.kind, s.name): s for s in run.evaluation_sets}
        cells = []
        for kind, name in columns:
            s = found.get((kind, name))
            if s is None:
                cells.append(_matrix_cell(None, None, f"{run.name} was not evaluated on {name}"))
                continue
            where = (s.data or {}).get("path")
            title = f"{run.name} on {name} ({kind})" + (f": {readable_text(str(where))}" if where else "")
            cells.append(_matrix_cell(s.roc_auc, s.n, title))
        mean = run.value(CROSS_MEAN_KEY)
        rows.append(dict(run=run, anchor=anchors[id(run)], cells=cells,
                         mean=_matrix_cell(mean, None, "mean ROC AUC over the external and held-out sets")))
    return dict(columns=columns, rows=rows)


def _static(name: str) -> Markup:
    # Inlined as they are: the files are the project's own, and escaping would break the CSS's quotes and JS's &&.
    return Markup((_HERE / "static" / name).read_text(encoding="utf-8"))


def _figures_json(figs: dict[str, str]) -> str:
    body = ",".join(f"{json.dumps(k)}:{v}" for k, v in figs.items())
    # Plotly's encoder already writes < as \u003c; this keeps any "</" from ever closing the <script> early.
    return "{" + body.replace("</", "<\\/") + "}"
