"""Start a configured search: check the storage, make sure a manifest exists, run the chosen engine.

The one path both the `search` command and the Python API (`deepfake_zoo.search(...)`) take, so they cannot drift.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from deepfake_zoo.search.config import SearchConfig

Log = Callable[[str], None]


def launch(config: SearchConfig, log: Log = print) -> dict[str, dict | None]:
    """Run the search `config` describes; returns {model name: its metrics, or None when it was skipped}."""
    if config.engine == "optuna" and not config.dry_run:
        from deepfake_zoo.search.storage import open_storage

        # Before the manifest is (re)built: a wrong URL or a silent database is one line, at once, not after it.
        open_storage(config.storage_url(), config.heartbeat)
    ensure_manifest(config, log)
    if config.leave_one_source_out:
        return leave_one_source_out(config, log)
    if config.compare_sizes:
        return compare_sizes(config, log)
    if config.holdout_sources and not config.dry_run:
        from deepfake_zoo.datasets.manifest import load_manifest
        from deepfake_zoo.search.study import check_holdout

        # Before a study is created under a misspelt source's name: the error lists the sources present.
        check_holdout(load_manifest(config.manifest), config.holdout_sources)
    return _engine(config)(config, log=log)


def _engine(config: SearchConfig) -> Callable:
    if config.engine == "kerastuner":
        from deepfake_zoo.search.kerastuner_engine import run_search
    else:
        from deepfake_zoo.search.study import run_search
    return run_search


def loso_sources(frame) -> list[str]:
    """The sources a leave-one-source-out run holds out in turn: self-blended fakes (`<source>+sbi`) belong to their
    source and are held out with it, never on their own."""
    from deepfake_zoo.datasets.self_blend import original_source

    return sorted(set(original_source(frame["source"])))


def leave_one_source_out(config: SearchConfig, log: Log = print) -> dict[str, dict | None]:
    """Hold out each source of the manifest in turn (one study and one run folder each), then log the table of
    in-domain test ROC AUC beside held-out ROC AUC; returns {run folder name: metrics}."""
    from deepfake_zoo.datasets.manifest import load_manifest
    from deepfake_zoo.search.config import replace
    from deepfake_zoo.search.study import run_name

    sources = loso_sources(load_manifest(config.manifest))
    if len(sources) < 2:
        raise ValueError(f"leave_one_source_out needs a manifest with at least two sources; {config.manifest} holds "
                         f"only {sources}: build it from several datasets (--data FOLDER)")
    results: dict[str, dict | None] = {}
    for source in sources:
        log(f"leave-one-source-out: holding out {source!r} ({sources.index(source) + 1} of {len(sources)})")
        one = replace(config, leave_one_source_out=False, holdout_sources=[source],
                      study=f"{config.study}-holdout-{source}" if config.study else None)
        for model, metrics in _engine(one)(one, log=log).items():
            results[run_name(model, [source], config.run_suffix)] = metrics
    log(loso_table(results))
    return results


def _score(value) -> str:
    """A table cell for a score that may be missing (a run without that split or metric)."""
    return "   n/a" if value is None else f"{value:.4f}"


def compare_sizes(config: SearchConfig, log: Log = print) -> dict[str, dict | None]:
    """One search per size of `compare_sizes` (own study, cache and run folder `<model>-<size>px`), then the table of
    them; returns {run folder name: metrics}. Every size is tested and reported; validation alone picks the best."""
    from deepfake_zoo.search.config import replace
    from deepfake_zoo.search.study import run_name

    results: dict[str, dict | None] = {}
    for number, size in enumerate(config.compare_sizes, 1):
        log(f"compare sizes: {size}px ({number} of {len(config.compare_sizes)})")
        suffix = f"{config.run_suffix}-{size}px" if config.run_suffix else f"{size}px"
        one = replace(config, compare_sizes=None, image_size=size, run_suffix=suffix,
                      study=f"{config.study}-{suffix}" if config.study else None)
        for model, metrics in _engine(one)(one, log=log).items():
            results[run_name(model, config.holdout_sources, suffix)] = metrics
    log(sizes_table(results))
    return results


def sizes_table(results: dict[str, dict | None]) -> str:
    """Per model and size: validation ROC AUC (best trial), test ROC AUC and accuracy, minutes; the size with the best
    validation ROC AUC is marked, never the best test one."""
    lines = ["", f"{'run':36s} {'size':>5s} {'val roc_auc':>11s} {'test roc_auc':>12s} {'test accuracy':>13s} "
                 f"{'minutes':>7s}"]
    by_model: dict[str, list[tuple[str, dict]]] = {}
    for name, metrics in results.items():
        if metrics:
            by_model.setdefault(metrics["model"], []).append((name, metrics))
    for model, runs in sorted(by_model.items()):
        chosen = max(runs, key=lambda item: item[1].get("best_value") or float("-inf"))[0]
        for name, metrics in sorted(runs, key=lambda item: item[1]["image_size"]):
            mark = "  <- chosen on validation" if name == chosen and len(runs) > 1 else ""
            lines.append(f"{name:36s} {metrics['image_size']:>5d} {_score(metrics.get('best_value')):>11s} "
                         f"{_score(metrics.get('roc_auc')):>12s} {_score(metrics.get('accuracy')):>13s} "
                         f"{metrics.get('wall_time_s', 0) / 60:>7.1f}{mark}")
    return "\n".join(lines)


def loso_table(results: dict[str, dict | None]) -> str:
    """Model, held-out source, in-domain test ROC AUC, held-out ROC AUC; then per model the mean over sources."""
    lines = ["", f"{'model':28s} {'held-out source':24s} {'in-domain test roc_auc':>22s} {'held-out roc_auc':>16s}"]
    per_model: dict[str, list[tuple[float | None, float | None]]] = {}
    for metrics in results.values():
        if not metrics:
            continue
        for source, block in sorted(metrics.get("holdout", {}).items()):
            lines.append(f"{metrics['model']:28s} {source:24s} {_score(metrics['roc_auc']):>22s} "
                         f"{_score(block['roc_auc']):>16s}")
            per_model.setdefault(metrics["model"], []).append((metrics["roc_auc"], block["roc_auc"]))
    for model, pairs in sorted(per_model.items()):
        mean = [sum(v) / len(v) if v and None not in v else None for v in ([a for a, _ in pairs], [b for _, b in pairs])]
        lines.append(f"{model:28s} {'mean over ' + str(len(pairs)) + ' source(s)':24s} {_score(mean[0]):>22s} "
                     f"{_score(mean[1]):>16s}")
    return "\n".join(lines)


def ensure_manifest(config: SearchConfig, log: Log = print) -> None:
    """Build the manifest when data is given or none exists yet (then from the embedded synthetic demo)."""
    from deepfake_zoo.datasets.manifest import build_manifest

    if config.data or not Path(config.manifest).is_file():
        if not config.data:
            log(f"no manifest at {config.manifest} and no --data: using the synthetic demo dataset "
                "(it only shows the pipeline working; pass DATA=folder for real data)")
        build_manifest(config.data, config.manifest, seed=config.seed)
