"""An ensemble run: the mean calibrated P(fake) of the top-k runs chosen on validation, saved as a run like any other.

Members are ranked by metrics.json `validation.roc_auc` (never a test number, so the test score stays an honest
estimate). Each member's raw P(fake) is calibrated with its own validation-fitted temperature (T = 1 where a run has
no calibration), the k calibrated scores are averaged, and the ensemble then gets what every run gets from
`search.results.write_results`: a threshold chosen on its validation scores, test scored once, and its own
temperature fitted on validation. Its model.keras takes raw RGB at the largest member's image size, runs every member,
calibrates each with a `zoo.layers.TemperatureScaling` layer and averages, so predict and evaluate use it unchanged.

Members may take different image sizes (a 128px and a 224px run see different detail, which is what an ensemble
wants). A smaller member gets the ensemble's input resized inside the model, bilinear and antialiased like
`datasets.images.resize_for_model`: for an image already at the ensemble's size (the 224px DFDC crops) that is
exactly the member's own input; a larger photo is resampled twice instead of once, a small difference the README
measures.

The validation and test scores come from the members' val_predictions.csv / predictions.csv (no image is read again),
which is why the members must share one manifest: the rows then match path for path.
"""
from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_zoo.runfiles import (RunFileError, is_number, lookup_number, rank_key, read_metrics, readable_text,
                                   run_folders)
from deepfake_zoo.search.calibration import apply_temperature, calibration_of
from deepfake_zoo.search.results import write_results
from deepfake_zoo.search.rundir import publishing

RANK_BY = "validation.roc_auc"
FAMILY = "ensemble"
DEFAULT_TOP_K = 3


@dataclass(frozen=True)
class Member:
    """One run an ensemble may average: its folder, metrics and validation-fitted temperature (None: uncalibrated)."""

    name: str
    path: Path
    metrics: dict
    temperature: float | None

    @property
    def validation_auc(self) -> float | None:
        return lookup_number(self.metrics, RANK_BY)

    def calibrated(self, scores) -> np.ndarray:
        scores = np.asarray(scores, dtype=float)
        return scores if self.temperature is None else apply_temperature(scores, self.temperature)


def default_name(top_k: int) -> str:
    return f"ensemble_top{top_k}"


def candidate_runs(runs_dir: str | Path, pattern: str | None = None, exclude: str | None = None) -> list[Member]:
    """Complete runs under `runs_dir` that may join an ensemble, best validation ROC AUC first.

    Left out: folders without model.keras, metrics.json, val_predictions.csv and predictions.csv, unreadable
    metrics, runs with no `validation.roc_auc`, other ensembles (their members would count twice), cross-source runs
    (their validation and test rows leave the held-out sources out), the folder named
    `exclude` (the ensemble being rebuilt), and names not matching the shell-style `pattern` when one is given.
    """
    members = []
    for folder in run_folders(runs_dir):
        if folder.name == exclude or (pattern is not None and not fnmatch.fnmatchcase(folder.name, pattern)):
            continue
        if not all((folder / f).is_file() for f in ("model.keras", "metrics.json", "val_predictions.csv",
                                                    "predictions.csv")):
            continue
        try:
            metrics = read_metrics(folder)
        except RunFileError:
            continue
        if metrics.get("family") == FAMILY or lookup_number(metrics, RANK_BY) is None:
            continue
        # A cross-source run's validation and test rows leave its held-out sources out: not the split's rows.
        if metrics.get("holdout_sources"):
            continue
        temperature, _ = calibration_of(metrics)
        members.append(Member(folder.name, folder, metrics, temperature))
    return sorted(members, key=lambda m: rank_key(m.metrics, RANK_BY, m.name))


def choose_members(runs_dir: str | Path, top_k: int = DEFAULT_TOP_K, pattern: str | None = None,
                   exclude: str | None = None) -> list[Member]:
    """The `top_k` best runs by validation ROC AUC; raises ValueError when k < 2, fewer runs qualify, or the chosen
    runs differ in manifest."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 2:
        raise ValueError(f"--top-k must be at least 2 (an ensemble of {top_k!r} run is no ensemble); pass --top-k 2 "
                         "or more")
    candidates = candidate_runs(runs_dir, pattern, exclude)
    where = f"{readable_text(str(runs_dir))}/" + (f" matching {pattern!r}" if pattern else "")
    if len(candidates) < top_k:
        names = ", ".join(m.name for m in candidates) or "none"
        raise ValueError(f"--top-k {top_k} needs {top_k} finished runs with validation.roc_auc and prediction files "
                         f"in {where}, found {len(candidates)} ({names}); train more with `make search MODEL=...` "
                         f"or pass a smaller --top-k")
    chosen = candidates[:top_k]
    manifests = {m.name: m.metrics.get("manifest_sha256") for m in chosen}
    if None in manifests.values() or len(set(manifests.values())) > 1:
        shown = ", ".join(f"{name}={(sha or 'none')[:12]}" for name, sha in manifests.items())
        raise ValueError(f"the top {top_k} runs by validation ROC AUC were not scored on one manifest ({shown}), so "
                         "their predictions cannot be matched image by image; retrain them on the same "
                         "build/splits.csv or choose runs that share one with --models")
    for member in chosen:
        size = member.metrics.get("image_size")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"{member.name}/metrics.json has no positive integer image_size (got {size!r}); rerun "
                             f"the search for {member.name}")
    return chosen


def ensemble_size(members: list[Member]) -> int:
    """The ensemble's input size: the largest member's, so no member is fed less detail than it was trained on."""
    return max(int(m.metrics["image_size"]) for m in members)


def _read_predictions(member: Member, filename: str) -> pd.DataFrame:
    path = member.path / filename
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {readable_text(str(path))} ({exc}); rerun the search for {member.name}") from exc
    missing = {"path", "source", "label", "prob_fake"} - set(frame.columns)
    if missing:
        raise ValueError(f"{readable_text(str(path))} lacks the column(s) {', '.join(sorted(missing))}; rerun the "
                         f"search for {member.name}")
    if frame["path"].duplicated().any():
        raise ValueError(f"{readable_text(str(path))} lists an image twice, so its rows cannot be matched to the "
                         f"other members'; rerun the search for {member.name}")
    return frame


def averaged_scores(members: list[Member], filename: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The first member's rows (path, source, label) and, per row, the mean of the members' calibrated P(fake),
    matched by image path. Raises ValueError when the members scored different images."""
    frames = [_read_predictions(m, filename) for m in members]
    base = frames[0][["path", "source", "label"]].reset_index(drop=True)
    columns = []
    for member, frame in zip(members, frames):
        if len(frame) != len(base) or set(frame["path"]) != set(base["path"]):
            raise ValueError(f"{member.name}/{filename} scores other images than {members[0].name}/{filename} "
                             "although their manifests match; rerun the search for both")
        aligned = frame.set_index("path").loc[base["path"]]
        if not np.array_equal(aligned["label"].to_numpy(int), base["label"].to_numpy(int)):
            raise ValueError(f"{member.name}/{filename} labels some images differently from {members[0].name}; "
                             "rerun the search for both")
        columns.append(member.calibrated(aligned["prob_fake"].to_numpy(float)))
    return base, np.mean(np.stack(columns), axis=0)


def build_model(members: list[Member], image_size: int):
    """A functional model, raw RGB (image_size x image_size x 3) in and the mean calibrated P(fake) out, holding
    every member's saved model; loading each needs the zoo imported for its custom layers."""
    import keras

    import deepfake_zoo.zoo  # noqa: F401  (registers the members' custom layers and TemperatureScaling)
    from deepfake_zoo.zoo.layers import HorizontalMirror, TemperatureScaling

    inputs = keras.Input((image_size, image_size, 3), name="image")
    outputs = []
    for i, member in enumerate(members):
        try:
            model = keras.saving.load_model(member.path / "model.keras", compile=False)
        except Exception as exc:
            raise ValueError(f"cannot load {readable_text(str(member.path / 'model.keras'))} ({exc}); rerun the "
                             f"search for {member.name}") from exc
        # Members saved by different searches often share a name ("functional"); a model's layers must not.
        model.name = f"member_{i}_{member.name}"
        size = int(member.metrics["image_size"])
        image = inputs if size == image_size else keras.layers.Resizing(
            size, size, interpolation="bilinear", antialias=True, name=f"member_{i}_resize")(inputs)
        prob = keras.layers.Reshape((1,), name=f"member_{i}_prob")(model(image))
        if member.metrics.get("tta_flip") is True:
            # Its prediction files hold the mean over each image and its mirror (search --tta-flip): so does this.
            mirrored = keras.layers.Reshape((1,), name=f"member_{i}_mirror_prob")(
                model(HorizontalMirror(name=f"member_{i}_mirror")(image)))
            prob = keras.layers.Average(name=f"member_{i}_flip_mean")([prob, mirrored])
        if member.temperature is not None:
            prob = TemperatureScaling(member.temperature, name=f"member_{i}_calibration")(prob)
        outputs.append(prob)
    return keras.Model(inputs, keras.layers.Average(name="mean_prob_fake")(outputs), name="ensemble")


def _info(name: str, members: list[Member], model, top_k: int, pattern: str | None, n_candidates: int) -> dict:
    first = members[0].metrics
    rates = [m.metrics.get("inference_images_per_s") for m in members]
    # The model runs its members one after another, so its time per image is the sum of theirs (an estimate from
    # the members' own measurements; `deepfake-zoo evaluate --cost` measures the ensemble itself).
    throughput = 1.0 / sum(1.0 / r for r in rates) if all(is_number(r) and r > 0 for r in rates) else None
    sources = sorted({s for m in members for s in (m.metrics.get("train_sources") or [])})
    return {
        "model": name, "family": FAMILY, "frozen": True, "image_size": ensemble_size(members), "weights": None,
        "params_total": int(model.count_params()), "params_trainable": 0,
        "objective": "val_roc_auc", "inference_images_per_s": throughput,
        "members": [m.name for m in members],
        "member_details": [{"name": m.name, "model": m.metrics.get("model"), "family": m.metrics.get("family"),
                            "image_size": m.metrics["image_size"], "tta_flip": m.metrics.get("tta_flip") is True,
                            "validation_roc_auc": m.validation_auc, "temperature": m.temperature}
                           for m in members],
        "selection": {"rule": f"top {top_k} runs by {RANK_BY} (test numbers are never used to choose)",
                      "rank_by": RANK_BY, "top_k": top_k, "models": pattern, "candidates": n_candidates,
                      "combine": "mean of each member's temperature-calibrated P(fake)"},
        "train_sources": sources,
        "manifest_sha256": first.get("manifest_sha256"),
        "data_is_synthetic": any(bool(m.metrics.get("data_is_synthetic")) for m in members),
    }


def build_ensemble(runs_dir: str | Path = "runs", top_k: int = DEFAULT_TOP_K, name: str | None = None,
                   models: str | None = None) -> dict:
    """Choose the top-k runs on validation, average their calibrated P(fake), and publish runs/<name>/ whole.

    Returns the ensemble's metrics.json as a dict. Raises ValueError (one sentence with the fix) for k < 2, too few
    runs, members scored on different manifests, or unreadable member files.

    >>> build_ensemble("runs", top_k=3)["members"]  # doctest: +SKIP
    ['mobilenet_v2_frozen', 'efficientnet_b0_frozen', 'cnn']
    """
    runs_dir = Path(runs_dir)
    name = name or default_name(top_k)
    if name.startswith((".", "_")) or "/" in name or name in ("", ".."):
        raise ValueError(f"--name {name!r} cannot name a run folder (no '/', and no leading '.' or '_'); pass a plain "
                         "name such as ensemble_top3")
    members = choose_members(runs_dir, top_k, models, exclude=name)
    n_candidates = len(candidate_runs(runs_dir, models, exclude=name))
    val_frame, val_scores = averaged_scores(members, "val_predictions.csv")
    test_frame, test_scores = averaged_scores(members, "predictions.csv")
    model = build_model(members, ensemble_size(members))
    info = _info(name, members, model, top_k, models, n_candidates)
    with publishing(runs_dir, name) as staging:
        model.save(staging / "model.keras")
        metrics = write_results(staging, info=info, val_frame=val_frame, val_scores=val_scores,
                                test_frame=test_frame, test_scores=test_scores, trials=[], importances={},
                                history={})
    return metrics


def summary(metrics: dict, runs_dir: str | Path) -> str:
    def fmt(value):
        return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"

    val_auc = (metrics.get("validation") or {}).get("roc_auc")
    return (f"[{metrics['model']}] mean of {', '.join(metrics['members'])} (chosen by validation ROC AUC): "
            f"validation roc_auc={fmt(val_auc)}; test accuracy={fmt(metrics['accuracy'])} "
            f"roc_auc={fmt(metrics['roc_auc'])} eer={fmt(metrics['eer'])} (threshold {metrics['threshold']:.3f} "
            f"from validation); results in {Path(runs_dir) / metrics['model']}/")
