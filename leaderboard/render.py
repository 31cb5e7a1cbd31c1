"""Render runs/*/ into one self-contained leaderboard/index.html: ranked table, comparison plots, one section per model.

The page needs no server and no network: plotly.js is inlined once and every figure's JSON sits in a single
`<script type="application/json">` block that a few lines of inline JS hand to `Plotly.newPlot`.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import plotly.io as pio
from plotly.offline import get_plotlyjs

from deepfake_zoo.atomic import write_text
from deepfake_zoo.leaderboard import figures
from deepfake_zoo.leaderboard.runs import RunResult, SkippedRun, is_number, load_runs, lower_is_better

METRIC_LABELS = {
    "accuracy": "test accuracy", "roc_auc": "ROC AUC", "eer": "EER", "f1": "F1",
    "average_precision": "average precision",
    "wall_time_s": "search wall time", "inference_images_per_s": "inference images/s", "params_total": "parameters",
    "params_trainable": "trainable parameters", "image_size": "input size", "best_value": "best validation value",
}
EMPTY_HELP = ("No results yet. Produce them with <code>make data</code> (builds the split manifest), then "
              "<code>make search MODEL=cnn</code> (or any model from <code>make list</code>); the search rewrites "
              "this page when it finishes, or run <code>make leaderboard</code>.")


def e(value: Any) -> str:
    """HTML-escape anything that reaches the page (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


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
                      rank_by: str = "roc_auc") -> Path:
    """Read every run under `runs_dir`, rank by `rank_by` and write the page to `out`; returns the written path.

    `rank_by` is any numeric metrics.json key, dots reaching nested ones (`validation.roc_auc`,
    `per_source.deepfake-faces.accuracy`); EER, losses, times and sizes rank smallest first. Raises ValueError when
    runs exist but none has a number at `rank_by`. Broken run folders never raise: they are listed on the page.

    >>> write_leaderboard("runs", "leaderboard/index.html", rank_by="accuracy")
    PosixPath('leaderboard/index.html')
    """
    return build_leaderboard(runs_dir, rank_by).write(out)


def rank_runs(runs: list[RunResult], rank_by: str = "roc_auc") -> list[RunResult]:
    """Best first by `rank_by`; runs without that number go last, ties broken by name."""
    if runs and all(r.value(rank_by) is None for r in runs):
        keys = sorted({k for r in runs for k, v in r.metrics.items() if is_number(v)})
        raise ValueError(f"no run has a number at --rank-by {rank_by!r}; choose one of: {', '.join(keys)} "
                         "(or a dotted path such as validation.roc_auc)")
    sign = 1.0 if lower_is_better(rank_by) else -1.0

    def key(run: RunResult) -> tuple:
        value = run.value(rank_by)
        return (value is None, sign * value if value is not None else 0.0, run.name)

    return sorted(runs, key=key)


def build_leaderboard(runs_dir: str | Path = "runs", rank_by: str = "roc_auc") -> Leaderboard:
    """Load, rank and render without writing; see `write_leaderboard`."""
    runs, skipped = load_runs(runs_dir)
    ranked = rank_runs(runs, rank_by)
    page = _Page(ranked, skipped, rank_by, str(runs_dir))
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


def _metric_cell(key: str) -> Callable[[RunResult], tuple[str, float | None]]:
    def cell(run: RunResult) -> tuple[str, float | None]:
        value = run.value(key)
        shown = e(_fmt_rate(value))
        if key == "accuracy" and value is not None:
            verdict = "meets" if value >= figures.ACCURACY_TARGET else "below"
            shown = (f'<span class="acc {verdict}" title="{verdict} the 70% accuracy target">{shown}</span>')
        return shown, value
    return cell


def _params_cell(run: RunResult) -> tuple[str, float | None]:
    total, trainable = run.value("params_total"), run.value("params_trainable")
    return f"{e(_fmt_count(total))}<span class=sub> / {e(_fmt_count(trainable))}</span>", total


def _trials_cell(run: RunResult) -> tuple[str, float | None]:
    trials = run.metrics.get("trials") or {}
    complete, pruned, failed = (trials.get(k) for k in ("complete", "pruned", "failed"))
    if complete is None and run.trials is not None:
        states = run.trials["state"].value_counts()
        complete, pruned, failed = (int(states.get(s, 0)) for s in ("COMPLETE", "PRUNED", "FAIL"))
    if complete is None:
        return "—", None
    shown = f"{e(complete)}<span class=sub> / {e(pruned if pruned is not None else '?')}</span>"
    if failed:
        shown += f' <span class="warn-text">{e(failed)} failed</span>'
    return shown, float(complete) if is_number(complete) else None


def _best_params_cell(run: RunResult) -> str:
    params = run.metrics.get("best_params") or {}
    lines = "".join(f"<span>{e(k)}=<b>{e(_fmt_param(v))}</b></span>" for k, v in params.items())
    return f'<span class="params">{lines}</span>' if lines else "—"


def _params_text(run: RunResult) -> str:
    params = run.metrics.get("best_params") or {}
    return ", ".join(f"{k}={_fmt_param(v)}" for k, v in params.items())


# key, header, type, lower-is-better, cell(run) -> (html, sort value)
COLUMNS: list[tuple[str, str, str, bool, Callable[[RunResult], tuple[str, Any]]]] = [
    ("accuracy", "test accuracy", "num", False, _metric_cell("accuracy")),
    ("roc_auc", "ROC AUC", "num", False, _metric_cell("roc_auc")),
    ("eer", "EER", "num", True, _metric_cell("eer")),
    ("f1", "F1", "num", False, _metric_cell("f1")),
    ("average_precision", "avg precision", "num", False, _metric_cell("average_precision")),
    ("image_size", "input", "num", False,
     lambda r: ((f"{int(r.value('image_size'))}px" if r.value("image_size") else "—"), r.value("image_size"))),
    ("params_total", "params total / trainable", "num", True, _params_cell),
    ("weights", "weights", "text", False, lambda r: (e(weights_text(r.metrics)), weights_text(r.metrics))),
    ("trials", "trials complete / pruned", "num", False, _trials_cell),
    ("wall_time_s", "search time", "num", True,
     lambda r: (e(_fmt_duration(r.value("wall_time_s"))), r.value("wall_time_s"))),
    ("inference_images_per_s", "images/s", "num", False,
     lambda r: (e(_fmt_count(r.value("inference_images_per_s"))) if r.value("inference_images_per_s") is None
                else e(f"{r.value('inference_images_per_s'):.1f}"), r.value("inference_images_per_s"))),
    ("best_params", "best hyperparameters", "text", False,
     lambda r: (_best_params_cell(r), _params_text(r))),
]


# ------------------------------------------------------------------ the page

class _Page:
    def __init__(self, runs: list[RunResult], skipped: list[SkippedRun], rank_by: str, runs_dir: str):
        self.runs, self.skipped, self.rank_by, self.runs_dir = runs, skipped, rank_by, runs_dir
        self.anchors = {id(run): anchor(i, run.name) for i, run in enumerate(runs)}
        self.figures: dict[str, str] = {}

    def figure(self, fig_id: str, fig, css: str = "") -> str:
        """Register a plotly figure (JSON via plotly's own encoder) and return its placeholder div."""
        if fig is None:
            return ""
        self.figures[fig_id] = pio.to_json(fig, validate=False)
        # Plotly's responsive mode sizes a figure to its div, so the div gets the figure's height and no padding
        # (the frame is on a wrapper): the page never reflows while plotly draws or re-fits on window resize.
        height = int(fig.layout.height or figures.TEMPLATE.layout.height)
        return (f'<div class="plot-box {css}"><div class="plot" id="{e(fig_id)}" style="height:{height}px">'
                f'</div></div>')

    def render(self) -> str:
        body = [self.header(), self.notices()]
        if self.runs:
            body += [self.table(), self.comparison(), *(self.model_section(run) for run in self.runs)]
        else:
            body.append(f'<section class="empty card"><h2>Nothing to rank yet</h2><p>{EMPTY_HELP}</p>'
                        f'<p class=muted>Looked in <code>{e(self.runs_dir)}</code>.</p></section>')
        return _document("\n".join(b for b in body if b), self.figures)

    def header(self) -> str:
        created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        direction = "lower is better" if lower_is_better(self.rank_by) else "higher is better"
        summary = ""
        if self.runs:
            best = self.runs[0]
            acc = best.value("accuracy")
            verdict = ("" if acc is None else
                       f' — test accuracy {acc:.3f}, {"meets" if acc >= figures.ACCURACY_TARGET else "below"} '
                       "the 70% target")
            value = best.value(self.rank_by)
            summary = (f'<p class="lead">Best by {e(metric_label(self.rank_by))}: '
                       f'<a href="#{self.anchors[id(best)]}"><strong>{e(best.name)}</strong></a> '
                       f'({e(_fmt_rate(value) if value is None or abs(value) <= 1 else f"{value:.4g}")})'
                       f'{e(verdict)}.</p>')
        return (f'<header><h1>deepfake-zoo leaderboard</h1>'
                f'<p class="muted">{len(self.runs)} model{"s" * (len(self.runs) != 1)} from '
                f'<code>{e(self.runs_dir)}</code>, ranked by <strong>{e(metric_label(self.rank_by))}</strong> '
                f'({direction}) on the held-out test split · generated {e(created)}</p>{summary}</header>')

    def notices(self) -> str:
        parts = []
        synthetic = [r for r in self.runs if r.metrics.get("data_is_synthetic")]
        if synthetic:
            names = ", ".join(e(r.name) for r in synthetic)
            parts.append(f'<div class="notice synthetic" role="note"><strong>Synthetic demo data.</strong> '
                         f'{names} {"was" if len(synthetic) == 1 else "were"} trained and tested on the generated '
                         'demo images, not real faces: their numbers say nothing about real deepfakes. Run '
                         '<code>make data</code> with the Kaggle datasets for real results.</div>')
        if self.skipped:
            items = "".join(f"<li><code>{e(s.folder)}</code>: {e(s.reason)}</li>" for s in self.skipped)
            parts.append(f'<div class="notice skipped" role="note"><strong>{len(self.skipped)} run folder'
                         f'{"s" * (len(self.skipped) != 1)} skipped</strong><ul>{items}</ul></div>')
        return "".join(parts)

    def table(self) -> str:
        head = ['<th data-key="rank" data-type="num" aria-sort="ascending"><button type="button">#</button></th>',
                '<th data-key="model" data-type="text"><button type="button">model</button></th>']
        columns = list(COLUMNS)
        if self.rank_by not in {c[0] for c in columns}:
            # Ranked by a key the table does not show (e.g. validation.roc_auc): show it, right after the model.
            columns.insert(0, (self.rank_by, metric_label(self.rank_by), "num", lower_is_better(self.rank_by),
                               _metric_cell(self.rank_by)))
        for key, label, kind, lower, _ in columns:
            order = ' data-order="asc"' if lower else ""
            ranked = ' class="ranked" title="the ranking metric"' if key == self.rank_by else ""
            head.append(f'<th data-key="{e(key)}" data-type="{kind}"{order}{ranked}><button type="button">'
                        f'{e(label)}</button></th>')
        rows = []
        for rank, run in enumerate(self.runs, start=1):
            badges = ""
            if run.metrics.get("data_is_synthetic"):
                badges += (' <span class="badge synthetic" title="trained and tested on synthetic demo data">'
                           'synthetic data</span>')
            if run.notes:
                badges += f' <span class="badge warn" title="{e("; ".join(run.notes))}">incomplete files</span>'
            cells = [f'<td data-key="rank" data-sort="{rank}">{rank}</td>',
                     f'<td data-key="model" data-sort="{e(run.name)}" class="model"><a href="#'
                     f'{self.anchors[id(run)]}">{e(run.name)}</a>{badges}</td>']
            for key, _, _, _, cell in columns:
                shown, sort = cell(run)
                sort_text = "" if sort is None else (repr(float(sort)) if is_number(sort) else str(sort))
                cells.append(f'<td data-key="{e(key)}" data-sort="{e(sort_text)}">{shown}</td>')
            top = ' class="top"' if rank == 1 else ""
            rows.append(f'<tr data-model="{e(run.name)}"{top}>{"".join(cells)}</tr>')
        return (f'<section id="ranking"><h2>Ranking</h2><p class="muted">Click a column header to sort. Accuracy '
                f'is green when it meets the notebook\'s 70% target. Parameters: total / trainable; trials: complete '
                f'/ pruned.</p><div class="table-wrap"><table id="leaderboard" class="sortable"><thead><tr>'
                f'{"".join(head)}</tr></thead><tbody>{"".join(rows)}</tbody></table></div></section>')

    def comparison(self) -> str:
        plots = [self.figure("fig-compare-accuracy", figures.accuracy_bars(self.runs)),
                 self.figure("fig-compare-roc", figures.roc_overlay(self.runs))]
        matrix = self.figure("fig-compare-cross", figures.cross_dataset_matrix(self.runs), css="wide")
        if not matrix:
            matrix = ('<p class="muted wide">The cross-dataset matrix appears once results exist on more than one '
                      'source (per_source in metrics.json).</p>')
        return (f'<section id="comparison"><h2>All models compared</h2><div class="grid">{"".join(plots)}'
                f'{matrix}</div></section>')

    def model_section(self, run: RunResult) -> str:
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
            ("test images", m.get("n_test")), ("engine", m.get("engine")), ("study", m.get("study_name")),
            ("seed", m.get("seed")), ("epochs", m.get("epochs")), ("created", m.get("created")),
            ("folder", str(run.folder)),
        ]
        facts_html = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts if v is not None and v != "")
        params = m.get("best_params") or {}
        params_html = ("".join(f"<dt>{e(k)}</dt><dd>{e(_fmt_param(v))}</dd>" for k, v in params.items())
                       or "<dd class=muted>not recorded</dd>")
        badges = ""
        if m.get("data_is_synthetic"):
            badges += ' <span class="badge synthetic">synthetic demo data</span>'
        plots, missing = [], []
        for key, label, builder in figures.MODEL_FIGURES:
            div = self.figure(f"fig-{sid}-{key}", builder(run), css="wide" if key in ("confusion", "training")
                              else "")
            (plots if div else missing).append(div or label)
        notes = "".join(f"<li>{e(n)}</li>" for n in run.notes)
        if missing:
            notes += f"<li>Not shown (file missing or unreadable): {e(', '.join(missing))}.</li>"
        return (f'<section class="model card" id="{sid}"><h2>{e(run.name)}{badges} '
                f'<a class="back" href="#ranking">↑ ranking</a></h2><div class="summary"><div>{_metrics_table(run)}'
                f'<dl class="facts">{facts_html}</dl></div><div class="best-params"><h3>Best hyperparameters</h3>'
                f'<dl>{params_html}</dl></div></div><div class="grid">{"".join(plots)}</div>'
                f'{f"<ul class=notes>{notes}</ul>" if notes else ""}</section>')


def _metrics_table(run: RunResult) -> str:
    keys = ("accuracy", "roc_auc", "eer", "average_precision", "f1")
    rows = [("test", run.metrics, run.metrics.get("n_test"))]
    validation = run.metrics.get("validation")
    if isinstance(validation, dict):
        rows.append(("validation", validation, validation.get("n")))
    head = "".join(f"<th>{e(metric_label(k))}</th>" for k in keys)
    body = "".join(
        f"<tr><th>{split}</th>"
        + "".join(f"<td>{e(_fmt_rate(float(v) if is_number(v := block.get(k)) else None))}</td>" for k in keys)
        + f"<td>{e(n if n is not None else '—')}</td></tr>"
        for split, block, n in rows)
    return f'<table class="metrics"><thead><tr><th></th>{head}<th>images</th></tr></thead><tbody>{body}</tbody></table>'


def _figures_json(figs: dict[str, str]) -> str:
    body = ",".join(f"{json.dumps(k)}:{v}" for k, v in figs.items())
    # Plotly's encoder already writes < as \u003c; this keeps any "</" from ever closing the <script> early.
    return "{" + body.replace("</", "<\\/") + "}"


def _document(body: str, figs: dict[str, str]) -> str:
    scripts = ""
    if figs:
        scripts = (f"<script>{get_plotlyjs()}</script>\n"
                   f'<script type="application/json" id="figure-data">{_figures_json(figs)}</script>\n')
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>deepfake-zoo leaderboard</title>
<style>{_CSS}</style>
</head>
<body>
<main>
{body}
</main>
{scripts}<script>{_JS}</script>
</body>
</html>
"""


_CSS = """
:root { --ink:#1d1d1f; --muted:#6b7280; --line:#e5e7eb; --bg:#f6f7f9; --good:#067a57; --bad:#c2410c; --accent:#0b63b6; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
main { max-width:1500px; margin:0 auto; padding:24px 28px 64px; }
h1 { font-size:26px; margin:0 0 4px; } h2 { font-size:19px; margin:0 0 10px; } h3 { font-size:14px; margin:0 0 6px; }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
code { background:#eef0f3; padding:1px 5px; border-radius:4px; font-size:12.5px; }
.muted { color:var(--muted); } .lead { font-size:16px; margin:6px 0 0; }
header { margin-bottom:18px; }
section { margin:22px 0; }
.card, #ranking, #comparison { background:#fff; border:1px solid var(--line); border-radius:10px; padding:18px 20px; }
.notice { border-radius:8px; padding:10px 14px; margin:10px 0; border:1px solid; }
.notice ul { margin:6px 0 0; padding-left:20px; }
.notice.synthetic { background:#fff7e6; border-color:#f2c46d; }
.notice.skipped { background:#fdecec; border-color:#f0a8a8; }
.table-wrap { overflow-x:auto; }
table.sortable { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
table.sortable th, table.sortable td { padding:7px 8px; border-bottom:1px solid var(--line); text-align:right;
  white-space:nowrap; }
table.sortable th[data-type="text"], table.sortable td[data-key="model"], table.sortable td[data-key="weights"],
table.sortable td[data-key="best_params"] { text-align:left; }
table.sortable thead th { position:sticky; top:0; background:#fafbfc; border-bottom:2px solid var(--line);
  white-space:normal; vertical-align:bottom; min-width:56px; }
table.sortable th button { all:unset; cursor:pointer; font-weight:600; font-size:12.5px; color:#374151; }
table.sortable th button:focus-visible { outline:2px solid var(--accent); }
table.sortable th[aria-sort="ascending"] button::after { content:" ▲"; color:var(--accent); }
table.sortable th[aria-sort="descending"] button::after { content:" ▼"; color:var(--accent); }
table.sortable tbody tr:hover { background:#f3f7fc; }
table.sortable tbody tr.top td { background:#f1faf5; }
table.sortable th.ranked { background:#eaf2fb; }
table.sortable td.model a { font-weight:600; }
table.sortable td.model { white-space:normal; min-width:170px; max-width:240px; overflow-wrap:break-word; }
table.sortable td[data-key="best_params"] { white-space:normal; min-width:170px; max-width:280px; }
table.sortable td[data-key="weights"] { white-space:normal; min-width:90px; }
.params { display:flex; flex-wrap:wrap; gap:0 10px; font-family:ui-monospace,SFMono-Regular,Menlo,monospace;
  font-size:11.5px; color:#4b5563; }
.params b { font-weight:600; color:#111827; }
.sub { color:var(--muted); }
.acc.meets { color:var(--good); font-weight:600; } .acc.below { color:var(--bad); font-weight:600; }
.warn-text { color:var(--bad); }
.badge { display:inline-block; font-size:11px; padding:1px 7px; border-radius:10px; margin-left:6px;
  vertical-align:middle; font-weight:500; }
.badge.synthetic { background:#fff2cc; color:#8a5a00; border:1px solid #f2c46d; }
.badge.warn { background:#fdecec; color:#9b1c1c; border:1px solid #f0a8a8; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(460px,1fr)); gap:14px; margin-top:12px; }
.grid .wide { grid-column:1 / -1; }
.plot-box { border:1px solid var(--line); border-radius:8px; padding:4px; background:#fff; min-width:0; }
.plot { width:100%; }
.model h2 { display:flex; align-items:center; gap:8px; flex-wrap:wrap; }
.back { margin-left:auto; font-size:12.5px; font-weight:400; }
table.metrics { border-collapse:collapse; margin:4px 0 12px; font-variant-numeric:tabular-nums; }
table.metrics th, table.metrics td { padding:4px 12px; border-bottom:1px solid var(--line); text-align:right; }
table.metrics thead th { font-size:12px; color:var(--muted); font-weight:600; }
table.metrics tbody th { text-align:left; }
.summary { display:grid; grid-template-columns:minmax(0,2fr) minmax(0,1fr); gap:24px; }
dl.facts { grid-template-columns:max-content minmax(0,1fr) max-content minmax(0,1fr); }
.best-params { background:#fafbfc; border:1px solid var(--line); border-radius:8px; padding:10px 14px;
  align-self:start; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 14px; margin:0; }
dt { color:var(--muted); } dd { margin:0; overflow-wrap:anywhere; }
ul.notes { color:#8a5a00; margin:12px 0 0; padding-left:20px; }
.plot-error { color:var(--bad); padding:12px; }
"""

_JS = r"""
(function () {
  "use strict";
  // Sort the ranking table by the clicked column; empty cells always sink to the bottom.
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    heads.forEach(function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var current = th.getAttribute("aria-sort");
        var first = (th.dataset.type === "text" || th.dataset.order === "asc") ? "ascending" : "descending";
        var dir = current === "ascending" ? "descending" : current === "descending" ? "ascending" : first;
        var sign = dir === "ascending" ? 1 : -1;
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
          if (x === "" || y === "") { return (x === "") - (y === ""); }
          if (th.dataset.type === "num") { return sign * (parseFloat(x) - parseFloat(y)); }
          return sign * x.localeCompare(y);
        });
        rows.forEach(function (row) { body.appendChild(row); });
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
      });
    });
  });
  // Draw every figure from the one JSON block; a failing figure says so in place and in the console.
  var data = document.getElementById("figure-data");
  if (!data || typeof Plotly === "undefined") { return; }
  var figs = JSON.parse(data.textContent);
  var config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
  Object.keys(figs).forEach(function (id) {
    var div = document.getElementById(id);
    try {
      Plotly.newPlot(div, figs[id].data, figs[id].layout, config);
    } catch (err) {
      div.textContent = "This plot could not be drawn: " + err;
      div.className += " plot-error";
      console.error(err);
    }
  });
})();
"""
