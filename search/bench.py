"""Benchmarks of the search's speed and memory on real data: measured here, written to bench/results.json.

The measurements, each against the target the project set for a 2-core CPU:
- trial time of a frozen MobileNetV2 head search with the feature cache vs. the notebook's pipeline that runs the
  backbone every epoch (same images, epochs and head): target >= 50x;
- input pipeline images/s vs. backbone forward images/s: target >= 3x (the pipeline must never be the bottleneck);
- peak and resident RSS at trial 5 and trial 30 of one study: target < 5% growth of both (trials are isolated);
- wall time of a 30-trial MobileNetV2-frozen study on all the data, cold and warm cache: targets 30 and 5 minutes;
- a cached-trunk fine-tune trial (last blocks + head from cached activations) vs. the same trial trained on images,
  each repeated over 3 seeds: target >= 5x faster with mean validation ROC AUC within 0.01;
- wall time and memory of a 20-trial cached-trunk MobileNetV2 fine-tune study on all the data, cold: 60 minutes,
  RSS flat (< 5%) from trial 5 to 20;
- the best model: frozen MobileNetV2 studies at 128 and 224px (16 epochs a trial, test-time flip) and their
  ensemble, chosen on validation: test ROC AUC >= 0.92 and accuracy >= 0.85, for the best single run and the
  ensemble alike.
"""
from __future__ import annotations

import ctypes
import json
import math
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import keras
import numpy as np
import optuna

from deepfake_zoo import zoo
from deepfake_zoo.datasets.manifest import load_manifest
from deepfake_zoo.datasets.pipeline import make_dataset
from deepfake_zoo.runfiles import lookup_number
from deepfake_zoo.search.config import SearchConfig, replace
from deepfake_zoo.search.study import run_model_search, select_rows
from deepfake_zoo.search.training import FrozenTask, ImageTask, TrunkTask

MODEL = "mobilenet_v2_frozen"
TRUNK_MODEL = "mobilenet_v2_finetune"
TRUNK_SPEEDUP_TARGET = 5.0
TRUNK_AUC_TOLERANCE = 0.01
MEMORY_GROWTH_TARGET = 0.05  # trial 5 -> last trial, for the peak and for resident memory alike


def _status_mb(field: str) -> float | None:
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024.0
    return None


def peak_rss_mb() -> float:
    """This process's own peak resident memory.

    Linux's VmHWM belongs to the process's address space, which starts afresh at exec; `ru_maxrss` does not: a child
    started from a big parent inherits the parent's size as its floor, which would hide the child's own growth.
    """
    peak = _status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float | None:
    """Resident memory now (Linux): a leak shows here even while the peak is still set by loading the features."""
    return _status_mb("VmRSS")


def bench_cache_speedup(config: SearchConfig, n_train: int, epochs: int) -> dict:
    """One head trial on cached features vs. the same head trained through the frozen backbone every epoch."""
    entry = zoo.get_model(MODEL)
    frame = select_rows(load_manifest(config.manifest), replace(config, limit=n_train))
    size = int(config.image_size or entry.input_size)
    weights = entry.resolve_weights(config.weights, size)
    # A cache of its own, always cold, so the one-time extraction it reports is a real backbone pass.
    scratch = Path(tempfile.mkdtemp(prefix="bench-cache-", dir=Path(config.cache_dir).parent))
    try:
        task = FrozenTask(entry, frame, size, weights, config.batch_size, config.seed, scratch, 1)
        hp = entry.default_hparams() | {"augment": "none"}
        start = time.perf_counter()
        for split in ("train", "val"):
            task.features(split)
        extract_s = time.perf_counter() - start
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the features stay in memory; the disk copy is not needed

    zoo.reset_session(config.seed)
    start = time.perf_counter()
    task.fit(hp, epochs, patience=epochs)
    cached_s = time.perf_counter() - start

    # The notebook's way: backbone and head in one model, images decoded and pushed through the backbone each epoch.
    zoo.reset_session(config.seed)
    extractor = entry.build_feature_extractor(image_size=size, weights=weights)
    head = entry.build_head(task.features("val").shape[1], hp)
    model = entry.assemble(extractor, head)
    zoo.compile_model(model, hp)
    train = make_dataset(task.frames["train"], "train", size, batch_size=config.batch_size, seed=config.seed)
    val = make_dataset(task.frames["val"], "val", size, batch_size=config.batch_size)
    start = time.perf_counter()
    model.fit(train, validation_data=val, epochs=epochs, verbose=0)
    naive_s = time.perf_counter() - start
    return {"images_train": len(task.frames["train"]), "images_val": len(task.frames["val"]), "epochs": epochs,
            "image_size": size, "cached_trial_s": cached_s, "one_time_extraction_s": extract_s,
            "backbone_every_epoch_trial_s": naive_s, "speedup": naive_s / cached_s, "target": 50,
            "met": naive_s / cached_s >= 50}


def bench_trunk_speedup(config: SearchConfig, n_train: int, epochs: int, k: int = 2, seeds: int = 3) -> dict:
    """One fine-tune trial (last `k` blocks + head) from cached trunk activations vs. the same trial on images.

    Same rows, hyperparameters, epochs and seed; no augmentation, so both see exactly the same pixels. The trunk
    cache is cold (a scratch folder) and its one-time pass is reported apart from the trial. Each pair is repeated
    with `seeds` seeds: on 2,000 images one trial's validation AUC moved by 0.02-0.07 from one epoch to the next,
    more than the 0.01 tolerance, so one pair alone says little. The means are compared; every value is kept.
    """
    entry = zoo.get_model(TRUNK_MODEL)
    frame = select_rows(load_manifest(config.manifest), replace(config, limit=n_train))
    size = int(config.image_size or entry.input_size)
    weights = entry.resolve_weights(config.weights, size)
    hp = entry.default_hparams() | {"augment": "none", "unfreeze_blocks": k}
    scratch = Path(tempfile.mkdtemp(prefix="bench-trunk-", dir=Path(config.cache_dir).parent))
    trunk_runs, image_runs, cache_s, blocks = [], [], None, k
    try:
        for seed in range(config.seed, config.seed + seeds):
            zoo.reset_session(seed)
            trunk = TrunkTask(entry, frame, size, weights, config.batch_size, seed, scratch, 1)
            blocks = trunk.cut_for(hp)
            start = time.perf_counter()
            for split in ("train", "val"):
                trunk.features(split, k=blocks)
            # Only the first seed computes the maps (clean views do not depend on the seed); later ones read them.
            cache_s = time.perf_counter() - start if cache_s is None else cache_s
            start = time.perf_counter()
            fitted = trunk.fit(hp, epochs, patience=epochs)
            trunk_runs.append((time.perf_counter() - start, fitted))
            del trunk
            zoo.reset_session(seed)
            images = ImageTask(entry, frame, size, weights, config.batch_size, seed)
            start = time.perf_counter()
            fitted = images.fit(hp, epochs, patience=epochs)
            image_runs.append((time.perf_counter() - start, fitted))
            del images
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    trunk_s = float(np.mean([t for t, _ in trunk_runs]))
    image_s = float(np.mean([t for t, _ in image_runs]))
    trunk_auc = float(np.mean([f.best_value for _, f in trunk_runs]))
    image_auc = float(np.mean([f.best_value for _, f in image_runs]))
    gap = trunk_auc - image_auc
    return {"model": TRUNK_MODEL, "images_train": len(frame[frame["split"] == "train"]),
            "images_val": len(frame[frame["split"] == "val"]), "epochs": epochs, "image_size": size,
            "blocks_trained": blocks, "seeds": seeds, "one_time_trunk_pass_s": cache_s,
            "trunk_trial_s": trunk_s, "image_trial_s": image_s, "speedup": image_s / trunk_s,
            "val_roc_auc_trunk": trunk_auc, "val_roc_auc_images": image_auc, "val_auc_gap": gap,
            "val_roc_auc_trunk_by_seed": [f.best_value for _, f in trunk_runs],
            "val_roc_auc_images_by_seed": [f.best_value for _, f in image_runs],
            "val_roc_auc_trunk_by_epoch": [f.history["val_roc_auc"] for _, f in trunk_runs],
            "val_roc_auc_images_by_epoch": [f.history["val_roc_auc"] for _, f in image_runs],
            "target": TRUNK_SPEEDUP_TARGET, "auc_tolerance": TRUNK_AUC_TOLERANCE,
            "met": image_s / trunk_s >= TRUNK_SPEEDUP_TARGET and abs(gap) <= TRUNK_AUC_TOLERANCE}


def bench_pipeline_vs_backbone(config: SearchConfig, n: int) -> dict:
    """Images/s the tf.data pipeline delivers (decode, resize, augment) vs. images/s the backbone consumes."""
    entry = zoo.get_model(MODEL)
    frame = select_rows(load_manifest(config.manifest), replace(config, limit=n))
    rows = frame[frame["split"] == "train"].reset_index(drop=True)
    size = int(config.image_size or entry.input_size)
    data = make_dataset(rows, "train", size, batch_size=config.batch_size, augment="rotation", seed=config.seed)
    for _ in data.take(1):
        pass
    start = time.perf_counter()
    count = sum(int(x.shape[0]) for x, _ in data)
    pipeline = count / (time.perf_counter() - start)
    extractor = entry.build_feature_extractor(image_size=size, weights=entry.resolve_weights(config.weights, size))
    images = np.concatenate([x.numpy() for x, _ in data.take(4)])
    extractor.predict(images[: config.batch_size], verbose=0)
    start = time.perf_counter()
    extractor.predict(images, batch_size=config.batch_size, verbose=0)
    backbone = len(images) / (time.perf_counter() - start)
    return {"pipeline_images_per_s": pipeline, "backbone_images_per_s": backbone, "ratio": pipeline / backbone,
            "image_size": size, "augment": "rotation", "target": 3, "met": pipeline / backbone >= 3}


def bench_study(config: SearchConfig, trials: int, cold: bool, model: str = MODEL, target_s: int | None = None) -> dict:
    """Wall time of a full study on all the data; records peak and resident RSS after trials 5 and `trials`."""
    keras.config.disable_interactive_logging()
    target_s = target_s or (1800 if cold else 300)
    if cold:
        shutil.rmtree(Path(config.cache_dir) / model, ignore_errors=True)
    rss: dict[int, float] = {}
    now: dict[int, float | None] = {}
    Path(config.runs).mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{Path(config.runs).resolve() / 'bench-optuna.db'}"
    study_name = f"bench-{model}-{'cold' if cold else 'warm'}-{int(time.time())}"
    cfg = replace(config, model=model, trials=trials, storage=storage, study=study_name)
    original = optuna.Study.optimize

    def recording_optimize(self, func, *args, callbacks=None, **kwargs):
        def on_trial(study, trial):
            finished = sum(t.state.is_finished() for t in study.trials)
            rss[finished], now[finished] = peak_rss_mb(), rss_mb()
        return original(self, func, *args, callbacks=[*(callbacks or []), on_trial], **kwargs)

    optuna.Study.optimize = recording_optimize
    try:
        start = time.perf_counter()
        metrics = run_model_search(model, cfg, log=lambda line: print(line, flush=True))
        wall = time.perf_counter() - start
    finally:
        optuna.Study.optimize = original
    result = {"model": model, "trials": trials, "wall_time_s": wall, "cache": "cold" if cold else "warm",
              "limit": config.limit, "epochs": config.epochs, "trunk_cache": bool(config.trunk_cache),
              "target_s": target_s, "met": wall <= target_s,
              "best_params": metrics.get("best_params"), "validation_roc_auc": metrics.get("best_value"),
              "final_validation_roc_auc": lookup_number(metrics, "validation.roc_auc"),
              "test_accuracy": metrics["accuracy"], "test_roc_auc": metrics["roc_auc"],
              "feature_cache": metrics.get("feature_cache"), "trial_counts": metrics["trials"]}
    if 5 in rss and trials in rss:
        result["peak_rss_mb"] = _memory_growth(rss[5], rss[trials], trials)
        if now.get(5) and now.get(trials):
            result["rss_mb"] = _memory_growth(now[5], now[trials], trials)
    return result


# The recipe aimed at the best-model target: one frozen study per size, each trial trained longer, test-time flip on,
# then their ensemble. 16 epochs because the best 8-epoch trials were still gaining validation AUC at their last epoch.
BEST_SIZES = (128, 224)
BEST_EPOCHS = 16
BEST_TRIALS = 20


def bench_best_model(config: SearchConfig, trials: int = BEST_TRIALS, epochs: int = BEST_EPOCHS,
                     sizes: tuple[int, ...] = BEST_SIZES, model: str = MODEL) -> dict:
    """One study per size in a fresh Optuna study (`search --compare-sizes` with `--tta-flip`), then the ensemble of
    the runs it wrote. Every choice (trials, size, members, thresholds) is made on validation; test is scored once a
    run."""
    from deepfake_zoo.search.ensemble import build_ensemble
    from deepfake_zoo.search.launch import compare_sizes

    keras.config.disable_interactive_logging()
    runs = Path(config.runs) / "best-model"
    runs.mkdir(parents=True, exist_ok=True)
    cfg = replace(config, model=model, image_size=None, compare_sizes=list(sizes), trials=trials, epochs=epochs,
                  tta_flip=True, runs=str(runs), storage=f"sqlite:///{runs.resolve() / 'optuna.db'}",
                  study=f"bench-best-{int(time.time())}")
    start = time.perf_counter()
    searched = compare_sizes(cfg, log=lambda line: print(line, flush=True))
    ensemble = build_ensemble(runs, top_k=len(sizes), name="ensemble", models=f"{model}-*px")
    wall = time.perf_counter() - start
    if sorted(ensemble["members"]) != sorted(name for name, metrics in searched.items() if metrics):
        raise RuntimeError(f"the ensemble in {runs} took {ensemble['members']}, not the runs this step searched "
                           f"({sorted(searched)}): remove the other run folders there and run the step again")

    def scores(metrics: dict) -> dict:
        return {"validation_roc_auc": lookup_number(metrics, "validation.roc_auc"),
                "test_roc_auc": metrics["roc_auc"], "test_accuracy": metrics["accuracy"],
                "threshold": metrics["threshold"]}

    members = [{"model": name, "image_size": metrics["image_size"], "wall_time_s": metrics.get("wall_time_s"),
                "trial_counts": metrics["trials"], "best_params": metrics.get("best_params"),
                "best_trial_validation_roc_auc": metrics.get("best_value"), **scores(metrics)}
               for name, metrics in searched.items() if metrics]
    return {"sizes": list(sizes), "trials": trials, "epochs": epochs, "tta_flip": True, "limit": config.limit,
            "wall_time_s": wall, "members": members,
            "ensemble": {"model": ensemble["model"], "members": ensemble["members"], **scores(ensemble)}}


def _memory_growth(at_5: float, at_last: float, trials: int) -> dict:
    growth = (at_last - at_5) / at_5
    return {"trial_5": at_5, f"trial_{trials}": at_last, "growth": growth,
            "target": MEMORY_GROWTH_TARGET, "met": growth < MEMORY_GROWTH_TARGET}


def _die_with_parent() -> None:
    """A benchmark child must not outlive a stopped `make bench`: an orphan study would skew every later measurement."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def in_fresh_process(fn, *args):
    """Run `fn(*args)` in a new Python process and return its result.

    Peak RSS is a per-process high-water mark: a study measured in the process that already ran other benchmarks would
    report their peak, not its own. "spawn" because TensorFlow's threads do not survive a fork.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_die_with_parent) as pool:
        return pool.submit(fn, *args).result()


def _manifest_summary(manifest: str | Path) -> dict:
    """What data the bench measured, by row counts per split (no absolute path of the machine it ran on)."""
    frame = load_manifest(manifest)
    return {"rows": int(len(frame)), **{split: int((frame["split"] == split).sum()) for split in ("train", "val", "test")}}


def run_bench(config: SearchConfig, out: str | Path = "bench/results.json", quick: bool = False,
              only: list[str] | None = None, extra_steps: list | None = None, trunk_epochs: int = 4) -> dict:
    """Run the benchmarks (all, or the `only` ones, merged into an existing results file) and write the results."""
    keras.config.disable_interactive_logging()
    out = Path(out)
    results: dict = json.loads(out.read_text()) if only and out.is_file() else {}
    results.update({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "platform": platform.platform()},
                    "manifest": _manifest_summary(config.manifest), "image_size": config.image_size,
                    "quick": quick})
    if not isinstance(results.get("started"), dict):
        results["started"] = {}
    # The quick run checks the benchmark itself on a few hundred images; the real one uses all the data.
    study_config = replace(config, limit=300) if quick else config
    steps = [
        ("cache_speedup", lambda: bench_cache_speedup(config, n_train=200 if quick else 2000, epochs=3 if quick else 5)),
        ("pipeline_vs_backbone", lambda: bench_pipeline_vs_backbone(config, n=128 if quick else 512)),
        ("study_cold", lambda: in_fresh_process(bench_study, study_config, 6 if quick else 30, True)),
        ("study_warm", lambda: in_fresh_process(bench_study, study_config, 6 if quick else 30, False)),
        ("trunk_speedup", lambda: in_fresh_process(bench_trunk_speedup, config, 200 if quick else 2000,
                                                   2 if quick else 4, 2, 1 if quick else 3)),
        ("study_trunk", lambda: in_fresh_process(bench_study, replace(study_config, trunk_cache=True,
                                                                      epochs=trunk_epochs),
                                                 6 if quick else 20, True, TRUNK_MODEL, 3600)),
        ("best_model", lambda: in_fresh_process(bench_best_model, study_config, 2 if quick else BEST_TRIALS,
                                                2 if quick else BEST_EPOCHS)),
        # Steps of rooms above search (evaluate), handed in by the roof's bench command; they read the studies' runs.
        *(extra_steps or []),
    ]
    unknown = sorted(set(only or []) - {name for name, _ in steps})
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}: choose from {[name for name, _ in steps]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, step in steps:
        if only and name not in only:
            continue
        print(f"bench: {name} ...", flush=True)
        results["started"][name] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        results[name] = step()
        print(f"bench: {name}: {json.dumps(results[name])}", flush=True)
        # Written after every step, so a long run that is stopped keeps what it measured.
        out.write_text(json.dumps(results, indent=2) + "\n")
    return results


def down(value: float, digits: int) -> str:
    """`value` cut (not rounded) to `digits` decimals: a quality, speed-up or ratio is never shown above what it was."""
    scale = 10 ** digits
    return f"{math.floor(value * scale + 1e-9) / scale:.{digits}f}"


# Test ROC AUC and accuracy the best single model must reach on the shared split (issue 16).
BEST_MODEL_TARGET = {"roc_auc": 0.92, "accuracy": 0.85}
BEST_MODEL_TARGET_TEXT = f">= {BEST_MODEL_TARGET['roc_auc']} and >= {BEST_MODEL_TARGET['accuracy']}"


def meets_best_model_target(result: dict) -> bool:
    return (result["test_roc_auc"] >= BEST_MODEL_TARGET["roc_auc"]
            and result["test_accuracy"] >= BEST_MODEL_TARGET["accuracy"])


def summary_table(results: dict) -> str:
    """The README's Markdown table of a results file: each measurement against its target (qualities, speed-ups and
    ratios cut down, never rounded up)."""
    rows = ["| measurement | result | target | met |", "|---|---|---|---|"]

    def add(name, result, target, met):
        rows.append(f"| {name} | {result} | {target} | {'yes' if met else '**no**'} |")

    if "cache_speedup" in results:
        r = results["cache_speedup"]
        add(f"frozen MobileNetV2 head trial, {r['images_train']} train + {r['images_val']} val images, "
            f"{r['epochs']} epochs, {r['image_size']}px: cached vs backbone every epoch",
            f"{r['cached_trial_s']:.1f} s vs {r['backbone_every_epoch_trial_s']:.0f} s = {down(r['speedup'], 0)}x "
            f"(one-time extraction {r['one_time_extraction_s']:.0f} s)", ">= 50x", r["met"])
    if "pipeline_vs_backbone" in results:
        r = results["pipeline_vs_backbone"]
        add(f"input pipeline (decode, resize, {r['augment']}) vs MobileNetV2 forward, {r['image_size']}px",
            f"{r['pipeline_images_per_s']:.0f} vs {r['backbone_images_per_s']:.0f} img/s = {down(r['ratio'], 1)}x",
            ">= 3x", r["met"])
    if "trunk_speedup" in results:
        r = results["trunk_speedup"]
        add(f"MobileNetV2 fine-tune trial (last {r['blocks_trained']} blocks + head), {r['images_train']} train + "
            f"{r['images_val']} val images, {r['epochs']} epochs, {r['image_size']}px: cached trunk vs images"
            + (f" (mean of {r['seeds']} seeds)" if r.get("seeds", 1) > 1 else ""),
            f"{r['trunk_trial_s']:.0f} s vs {r['image_trial_s']:.0f} s = {down(r['speedup'], 1)}x (one-time trunk pass "
            f"{r['one_time_trunk_pass_s']:.0f} s); val AUC {down(r['val_roc_auc_trunk'], 3)} vs "
            f"{down(r['val_roc_auc_images'], 3)} ({r['val_auc_gap']:+.4f})", ">= 5x, AUC within 0.01", r["met"])
    for key in ("study_cold", "study_warm", "study_trunk"):
        if key in results:
            r = results[key]
            data = f"at most {r['limit']} images a split" if r.get("limit") else "all the real data"
            kind = ("MobileNetV2 cached-trunk fine-tune" if r.get("trunk_cache") else "MobileNetV2-frozen")
            add(f"{r['trials']}-trial {kind} study on {data}, {r['cache']} cache",
                f"{r['wall_time_s'] / 60:.1f} min (trials {r['trial_counts']['complete']} complete / "
                f"{r['trial_counts']['pruned']} pruned; test AUC {down(r['test_roc_auc'], 3)}, "
                f"accuracy {down(r['test_accuracy'], 3)})", f"<= {r['target_s'] // 60} min", r["met"])
            rss = r.get("peak_rss_mb")
            if rss:
                last = [k for k in rss if k.startswith("trial_") and k != "trial_5"][0]
                current = r.get("rss_mb")
                resident = (f" (resident now: {current['trial_5']:.0f} vs {current[last]:.0f} MB = "
                            f"{100 * current['growth']:+.1f}%)" if current else "")
                # Flat means both: the peak (set while features load) and what stays resident after each trial.
                met = rss["met"] and (current is None or current["met"])
                add(f"peak RSS, trial 5 vs {last.replace('_', ' ')} ({r['cache']} {'trunk ' if r.get('trunk_cache') else ''}study)",
                    f"{rss['trial_5']:.0f} MB vs {rss[last]:.0f} MB = {100 * rss['growth']:+.1f}%{resident}",
                    "< 5% growth, both", met)
    # Each candidate's validation ROC AUC as its final model scores it (with the test-time flip where a run uses it),
    # the same measure for every row; results from before that was recorded fall back to the best trial's.
    candidates = [{**results[key], "validation_roc_auc": results[key].get("final_validation_roc_auc")
                   or results[key].get("validation_roc_auc")}
                  for key in ("study_cold", "study_warm", "study_trunk") if key in results
                  and results[key].get("validation_roc_auc") is not None and not results[key].get("limit")]
    best = results.get("best_model")
    if best and not best.get("limit"):
        candidates += [m for m in best["members"] if m.get("validation_roc_auc") is not None]
    if candidates:
        # Picked by validation, like every selection here: the test numbers only report it.
        r = max(candidates, key=lambda c: c["validation_roc_auc"])
        add("best single model trained on all the shared data, chosen on validation ROC AUC among the studies above",
            f"{r.get('model', MODEL)}: test ROC AUC {down(r['test_roc_auc'], 3)}, accuracy "
            f"{down(r['test_accuracy'], 3)} (validation {down(r['validation_roc_auc'], 3)})",
            BEST_MODEL_TARGET_TEXT, meets_best_model_target(r))
    if best and not best.get("limit"):
        e = best["ensemble"]
        sizes = " and ".join(f"{size}px" for size in best["sizes"])
        add(f"ensemble of the {sizes} frozen MobileNetV2 studies ({best['trials']} trials of up to {best['epochs']} "
            "epochs each, test-time flip), members and threshold chosen on validation",
            f"test ROC AUC {down(e['test_roc_auc'], 3)}, accuracy {down(e['test_accuracy'], 3)} (validation "
            f"{down(e['validation_roc_auc'], 3)}; both studies and the ensemble {best['wall_time_s'] / 60:.1f} min)",
            BEST_MODEL_TARGET_TEXT, meets_best_model_target(e))
    if "evaluate_throughput" in results:
        r = results["evaluate_throughput"]
        add(f"`evaluate` on {r['images']} labelled images ({r['model']}, {r['image_size']}px) vs the model's forward "
            f"throughput (batch 32, preloaded)", f"{r['evaluate_images_per_s']:.0f} vs {r['model_images_per_s']:.0f} "
            f"img/s = {down(r['ratio'], 2)}", f">= {r['target_ratio']:.2f}", r["met"])
    return "\n".join(rows)
