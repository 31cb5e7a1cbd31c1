"""Score trained runs on any labelled data without training, and measure their robustness and cost.

`evaluate_folder` reads labelled images from a folder in either Kaggle layout (`faces_224/` + `metadata.csv`, or
`[Dataset/]{Train,Validation,Test}/{Real,Fake}/`), a plain folder with `Real/` and `Fake/` sub-folders (any case), a
folder holding several such datasets, or a CSV of `path,label` (label real/fake or 0/1; relative paths are relative
to the CSV's folder; an optional `source` column). Every file is screened by the same rules as `data` (bad files are
counted skips with reasons), read and resized exactly as in training, and scored in batches with the run's
validation-chosen threshold; when the run stores a temperature (`metrics.json` `calibration`), P(fake) is calibrated
with it and the calibrated threshold is used. Results go to `runs/<model>/external/<NAME>/` (`metrics.json`,
`predictions.csv`), replaced whole on re-evaluation.
"""
from __future__ import annotations

import fnmatch
import gc
import json
import re
import shutil
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from deepfake_zoo.predict.models import ModelChoiceError, Run, list_runs, load_model, read_run

LABEL_WORDS = {"real": 0, "fake": 1, "0": 0, "1": 1}
LABEL_NAMES = {0: "real", 1: "fake"}
EXPECTED = ("a folder with Real/ and Fake/ sub-folders (any case), a Kaggle layout (Dataset/{Train,Validation,Test}/"
            "{Real,Fake}/ or faces_224/ with metadata.csv), or a CSV of path,label")
# Reasons only evaluate adds to screening's (datasets.screening.SKIP_REASONS): a CSV row can be wrong in its own ways.
EXTRA_SKIP_REASONS = {
    "missing_file": "listed but the image file is missing",
    "bad_label": "label is neither real/fake nor 0/1",
    "undecodable": "passed screening but TensorFlow could not decode it",
}
EXTERNAL_DIR = "external"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_EXAMPLES = 5
NO_RUN_HINT = "train one first: `make data` then `make search MODEL=cnn`"
SCREEN_WORKERS = 4


@dataclass(frozen=True)
class LabelledItem:
    """One labelled image to score: its file, label (0 real, 1 fake) and source (dataset folder or CSV name)."""

    path: Path
    label: int
    source: str


@dataclass
class LabelledData:
    """What `read_labelled` found: the items to screen, the skips already known (reason, path), and a description."""

    path: Path
    kind: str
    items: list[LabelledItem] = field(default_factory=list)
    skips: list[tuple[str, str]] = field(default_factory=list)
    description: dict = field(default_factory=dict)


def _read_csv(path: Path) -> LabelledData:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ValueError(f"CSV {path} is empty: write a header line `path,label` and one row per image") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"CSV {path} cannot be parsed ({str(exc).splitlines()[0]}): write it as `path,label` with "
                         "one row per image") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("path", "label") if c not in table.columns]
    if missing:
        raise ValueError(f"CSV {path} lacks the column(s) {missing} (found {list(table.columns)}): its header must "
                         "name `path,label` (label real/fake or 0/1)")
    data = LabelledData(path, "csv")
    default_source = path.stem
    for row in table.itertuples(index=False):
        text = str(row.path).strip()
        file = Path(text).expanduser()
        file = file if file.is_absolute() else path.parent / file
        label = LABEL_WORDS.get(str(row.label).strip().lower())
        if not text or not file.is_file():
            data.skips.append(("missing_file", str(file)))
        elif label is None:
            data.skips.append(("bad_label", f"{file} (label {row.label!r})"))
        else:
            source = str(getattr(row, "source", "") or "").strip() or default_source
            data.items.append(LabelledItem(file, label, source))
    if table.empty:
        raise ValueError(f"CSV {path} lists no images: add one `path,label` row per image")
    return data


def _read_folder(path: Path) -> LabelledData:
    from deepfake_zoo.datasets.layouts import DataLayoutError, discover, read_source

    if not any(path.iterdir()):
        raise ValueError(f"evaluation folder {path} is empty: put the images in {path}/Real/ and {path}/Fake/ "
                         "(or pass a CSV of path,label)")
    try:
        found = discover(path)
    except DataLayoutError:
        raise ValueError(f"evaluation folder {path} holds no labelled images: expected {EXPECTED}") from None
    data = LabelledData(path, found[0][2] if len(found) == 1 else "datasets")
    splits: Counter = Counter()
    for source, folder, kind in found:
        listing = read_source(source, folder, kind)
        data.skips.extend(listing.skipped)
        for candidate in listing.candidates:
            data.items.append(LabelledItem(candidate.path, candidate.label, source))
            splits[candidate.split or "none"] += 1
    if set(splits) != {"none"}:
        data.description["splits"] = dict(sorted(splits.items()))
    return data


def read_labelled(data: str | Path) -> LabelledData:
    """List the labelled images of `data` (a folder in any supported layout, or a CSV of path,label).

    Raises ValueError with the fix for a missing path, an empty folder, a folder with no labelled layout, a CSV
    without `path,label` columns, and data where no image is left to score.

    >>> [item.label for item in read_labelled("eval/").items][:2]  # doctest: +SKIP
    [1, 1]
    """
    # Absolute, so predictions.csv names files the way the run's own predictions.csv does, wherever it is read.
    path = Path(data).expanduser().absolute()
    if not path.exists():
        raise ValueError(f"evaluation data {path} does not exist: pass {EXPECTED}")
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise ValueError(f"evaluation data {path} is a file but not a .csv: pass {EXPECTED}")
        labelled = _read_csv(path)
    else:
        labelled = _read_folder(path)
    if not labelled.items:
        skipped = f" ({len(labelled.skips)} skipped: {_reason_counts(labelled.skips)})" if labelled.skips else ""
        raise ValueError(f"evaluation data {path} has no labelled image to score{skipped}: expected {EXPECTED}")
    per_source: dict[str, dict[str, int]] = {}
    for item in labelled.items:
        counts = per_source.setdefault(item.source, {"real": 0, "fake": 0})
        counts[LABEL_NAMES[item.label]] += 1
    from deepfake_zoo.datasets.manifest import SYNTHETIC_MARKER

    synthetic = path.is_dir() and any(p.name == SYNTHETIC_MARKER for p in path.rglob(SYNTHETIC_MARKER))
    labelled.description = {"path": str(path.resolve()), "kind": labelled.kind, "listed": len(labelled.items),
                            "sources": dict(sorted(per_source.items())), "synthetic": synthetic,
                            **labelled.description}
    return labelled


def _reason_counts(skips: list[tuple[str, str]]) -> dict[str, int]:
    return dict(sorted(Counter(reason for reason, _ in skips).items()))


class ScreenedImages:
    """Every item screened by the rules of `data` (in a thread pool), once for all the runs scored on them.

    `results[i]` is the `Screened` of item i. Screening finishes before scoring starts: it is cheap (a hash and a
    reduced-size JPEG decode, about 0.2-0.5 ms of CPU per file), and knowing the good files up front lets the scoring
    pipeline be pure tf.data with no Python generator in it. Converted files (grayscale, CMYK, ...) live in a
    temporary folder that `close()` removes.
    """

    def __init__(self, items: list[LabelledItem], workers: int = SCREEN_WORKERS):
        from deepfake_zoo.datasets.screening import screen_image

        self._converted = tempfile.TemporaryDirectory(prefix="deepfake-zoo-evaluate-")
        converted = Path(self._converted.name)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            self.results = list(pool.map(lambda item: screen_image(item.path, converted), items))
        self.seconds = time.perf_counter() - started

    def usable(self) -> list[tuple[int, str]]:
        """(item position, file to read) of every item that passed screening, in item order."""
        return [(position, str(result.path)) for position, result in enumerate(self.results) if not result.skip]

    def skips(self) -> list[tuple[str, str]]:
        """(reason, original path) of every item screening skipped, in item order."""
        return [(result.skip, str(result.source_path)) for result in self.results if result.skip]

    def close(self) -> None:
        self._converted.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def score_files(model, files: list[tuple[int, str]], image_size: int, batch_size: int = 32,
                timing: dict | None = None, flip: bool = False) -> dict[int, float]:
    """P(fake) by position for (position, file) pairs; files TensorFlow cannot decode are left out, not fatal.

    A tf.data pipeline reads, decodes and resizes exactly as training does (`datasets.images`), in parallel and
    ahead of the model, with no Python in the loop. `timing`, when given, receives `model_s` (time in the model)
    and `input_wait_s` (time the model waited for images): the pipeline keeps up when the wait is small.
    `flip=True` averages each image's P(fake) with its mirror's, for runs tested that way (search --tta-flip).
    """
    import tensorflow as tf

    from deepfake_zoo.datasets.images import decode_rgb, resize_for_model
    from deepfake_zoo.search.cost import traced_forward

    timing = timing if timing is not None else {}
    timing.update(model_s=0.0, input_wait_s=0.0)
    if not files:
        return {}
    positions, paths = zip(*files)

    def load(path, position):
        return resize_for_model(decode_rgb(tf.io.read_file(path)), image_size), position

    dataset = (tf.data.Dataset.from_tensor_slices((list(paths), np.asarray(positions, dtype=np.int64)))
               .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .ignore_errors()
               .batch(batch_size)
               .prefetch(2))
    forward = traced_forward(model)
    scores: dict[int, float] = {}
    iterator = iter(dataset)
    while True:
        waited = time.perf_counter()
        try:
            images, batch_positions = next(iterator)
        except StopIteration:
            break
        started = time.perf_counter()
        timing["input_wait_s"] += started - waited
        probs = forward(images).numpy().reshape(len(batch_positions), -1)[:, 0]
        if flip:
            probs = (probs + forward(images[:, :, ::-1, :]).numpy().reshape(len(batch_positions), -1)[:, 0]) / 2
        timing["model_s"] += time.perf_counter() - started
        scores.update(zip(batch_positions.numpy().tolist(), probs.astype(float).tolist()))
    return scores


def _check_name(name: str) -> str:
    if not NAME_PATTERN.match(name) or name in (".", ".."):
        raise ValueError(f"evaluation name {name!r} is not a plain folder name: pass --name with letters, digits, "
                         "'.', '_' or '-' only")
    return name


def default_name(data: str | Path) -> str:
    """The evaluation's default NAME: the data folder's or CSV's name without its suffix, made folder-safe."""
    path = Path(data).expanduser().resolve()
    stem = path.stem if path.is_file() else path.name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).lstrip("._-") or "external"


def select_runs(runs_dir: str | Path = "runs", model: str = "all") -> list[Run]:
    """The runs `model` names: "all", a run name, a glob (`*_frozen`), a family (metrics.json `family`), or a
    comma list of those. Raises ModelChoiceError (with the available runs) when something matches nothing."""
    runs = list_runs(runs_dir)
    if not runs:
        if model not in (None, "all") and (Path(runs_dir) / model).is_dir():
            read_run(Path(runs_dir) / model)  # raises with the folder's precise problem
        raise ModelChoiceError(f"no trained model found in {runs_dir}/; {NO_RUN_HINT}")
    if model in (None, "", "all"):
        return runs
    chosen: dict[str, Run] = {}
    for part in (p.strip() for p in str(model).split(",")):
        if not part:
            continue
        matched = [run for run in runs if fnmatch.fnmatchcase(run.name, part) or run.metrics.get("family") == part]
        if not matched:
            if (Path(runs_dir) / part).is_dir():
                read_run(Path(runs_dir) / part)
            import difflib

            close = difflib.get_close_matches(part, [run.name for run in runs], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ModelChoiceError(f"no run in {runs_dir}/ matches --model {part!r}; {hint}available runs: "
                                   f"{', '.join(run.name for run in runs)}")
        chosen.update((run.name, run) for run in matched)
    return sorted(chosen.values(), key=lambda run: run.name)


def decision_rule(run: Run) -> tuple[float | None, float, str]:
    """(temperature or None, threshold, where the threshold comes from) for a run: calibrated when it stores one."""
    from deepfake_zoo.search.calibration import calibration_of

    temperature, threshold = calibration_of(run.metrics)
    if temperature is not None:
        return temperature, threshold, "calibrated validation"
    return None, run.threshold, "validation"


def load_run_model(run: Run):
    """The run's Keras model, with the zoo's custom layers registered first (its preprocessing layer)."""
    try:
        import deepfake_zoo.zoo  # noqa: F401  (registers the layers saved models refer to)
    except Exception:  # models made of built-in layers load without it
        pass
    return load_model(run)


def replace_folder(target: Path, write) -> Path:
    """Fill a new sibling of `target` with `write(folder)`, then swap it in as run folders are (`search.rundir.
    swap_in`): readers see the old result or the new one, never a mix, and a failure while writing leaves the old one
    as it was."""
    from deepfake_zoo.search.rundir import swap_in

    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.parent / f".{target.name}.new-{uuid.uuid4().hex[:8]}"
    fresh.mkdir()
    try:
        write(fresh)
        swap_in(fresh, target)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return target


def _external_metrics(run: Run, name: str, labelled: LabelledData, frame: pd.DataFrame, skips: list,
                      temperature: float | None, threshold: float, threshold_from: str, seconds: float,
                      screening_seconds: float) -> dict:
    from deepfake_zoo.search.calibration import brier_score, expected_calibration_error
    from deepfake_zoo.search.metrics import evaluate_predictions

    metrics = evaluate_predictions(frame, threshold)
    examples: dict[str, list[str]] = {}
    for reason, path in skips:
        bucket = examples.setdefault(reason, [])
        if len(bucket) < MAX_EXAMPLES:
            bucket.append(path)
    labels, probs = frame["label"].to_numpy(), frame["prob_fake"].to_numpy()
    return {
        "name": name, "model": run.name, **metrics,
        "n_real": int((labels == 0).sum()), "n_fake": int((labels == 1).sum()),
        "ece": expected_calibration_error(labels, probs), "brier": brier_score(labels, probs),
        "threshold": threshold, "threshold_from": threshold_from, "temperature": temperature,
        "image_size": run.image_size,
        "skips": dict(sorted(Counter(reason for reason, _ in skips).items())), "n_skipped": len(skips),
        "skip_examples": examples, "data": labelled.description,
        # Screening is done once for every run scored together; each run's rate counts all of it, end to end.
        "wall_time_s": round(seconds, 3), "screening_s": round(screening_seconds, 3),
        "images_per_s": len(frame) / max(seconds + screening_seconds, 1e-9),
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def evaluate_run(run: Run, labelled: LabelledData, screened: ScreenedImages, name: str, batch_size: int = 32,
                 model=None) -> dict:
    """Score one run on screened labelled data and write runs/<model>/external/<name>/; returns its metrics."""
    from deepfake_zoo.search.calibration import apply_temperature

    started = time.perf_counter()
    model = model if model is not None else load_run_model(run)
    timing: dict = {}
    usable = screened.usable()
    raw = score_files(model, usable, run.image_size, batch_size, timing, flip=run.tta_flip)
    temperature, threshold, threshold_from = decision_rule(run)
    skips = list(labelled.skips) + screened.skips()
    skips += [("undecodable", str(labelled.items[position].path)) for position, _ in usable if position not in raw]
    positions = sorted(raw)
    if not positions:
        raise ValueError(f"no image of {labelled.path} could be scored ({len(skips)} skipped: "
                         f"{dict(Counter(r for r, _ in skips))}); check the files are JPEG/PNG images")
    probs = np.asarray([raw[p] for p in positions], dtype=float)
    if temperature is not None:
        probs = apply_temperature(probs, temperature)
    frame = pd.DataFrame({
        "path": [str(labelled.items[p].path) for p in positions],
        "source": [labelled.items[p].source for p in positions],
        "label": [labelled.items[p].label for p in positions],
        "prob_fake": probs,
    })
    frame["pred"] = (frame["prob_fake"] >= threshold).astype(int)
    metrics = _external_metrics(run, name, labelled, frame, skips, temperature, threshold, threshold_from,
                                time.perf_counter() - started, screened.seconds)
    metrics.update({key: round(value, 3) for key, value in timing.items()})
    metrics["tta_flip"] = run.tta_flip

    from deepfake_zoo.search.results import json_safe

    def write(folder: Path) -> None:
        (folder / "predictions.csv").write_text(frame.to_csv(index=False))
        (folder / "metrics.json").write_text(json.dumps(json_safe(metrics), indent=2) + "\n")

    replace_folder(run.path / EXTERNAL_DIR / name, write)
    metrics["folder"] = str(run.path / EXTERNAL_DIR / name)
    return metrics


def _release(model) -> None:
    import keras

    del model
    keras.backend.clear_session()
    gc.collect()


def evaluate_folder(data: str | Path, name: str | None = None, model: str = "all", runs: str | Path = "runs",
                    batch_size: int = 32) -> dict[str, dict]:
    """Score the runs `model` selects on the labelled images in `data`; returns {run name: metrics}.

    Each run's results go to runs/<model>/external/<name>/ (metrics.json with the test metrics' keys plus n, skips
    and the data's description; predictions.csv), replacing an earlier evaluation of the same name whole. `name`
    defaults to the folder's or CSV's name. Raises ValueError for unusable data and ModelChoiceError when no run
    matches `model`.

    >>> results = evaluate_folder("eval-faces/", model="mobilenet_v2_frozen")  # doctest: +SKIP
    >>> round(results["mobilenet_v2_frozen"]["roc_auc"], 2)  # doctest: +SKIP
    0.61
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}; pass --batch-size 1 or more")
    name = _check_name(name if name is not None else default_name(data))
    chosen = select_runs(runs, model)
    labelled = read_labelled(data)
    results = {}
    with ScreenedImages(labelled.items) as screened:
        for run in chosen:
            loaded = load_run_model(run)
            results[run.name] = evaluate_run(run, labelled, screened, name, batch_size, loaded)
            _release(loaded)
    return results


def _check_manifest(run: Run, manifest: Path) -> None:
    from deepfake_zoo.datasets.manifest import manifest_sha256

    recorded = run.metrics.get("manifest_sha256")
    if recorded and recorded != manifest_sha256(manifest):
        raise ValueError(f"run {run.name} was trained on another manifest than {manifest} (its test split may hold "
                         f"training images): pass --manifest with the splits.csv it was trained on")


def run_rows(run: Run, frame: pd.DataFrame) -> pd.DataFrame:
    """The manifest rows a run was searched on: its held-out sources, train_sources and limit applied as the search
    applied them, so its robustness is measured on its own test split."""
    from deepfake_zoo.search.config import make_config
    from deepfake_zoo.search.study import select_rows

    metrics = run.metrics
    keys = {"holdout_sources": metrics.get("holdout_sources"), "train_sources": metrics.get("train_sources"),
            "limit": metrics.get("limit")}
    if not (keys["holdout_sources"] or metrics.get("limit")):
        return frame  # train_sources alone keeps every source in test, so the test split is the manifest's
    seed = metrics.get("seed")
    values = {k: v for k, v in keys.items() if v}
    return select_rows(frame, make_config({**values, "seed": seed if isinstance(seed, int) else 0}))


def evaluate_robustness(model: str = "all", runs: str | Path = "runs", manifest: str | Path = "build/splits.csv",
                        limit: int | None = None, seed: int = 0, batch_size: int = 32,
                        force: bool = False) -> dict[str, dict]:
    """robustness.json for each selected run, on its own test split from `manifest` (cached per model file).

    >>> evaluate_robustness("cnn", limit=200)["cnn"]["perturbations"]["blur"]["roc_auc"]  # doctest: +SKIP
    [0.93, 0.9, 0.84]
    """
    from deepfake_zoo.datasets.manifest import load_manifest
    from deepfake_zoo.search.robustness import run_robustness

    chosen = select_runs(runs, model)
    manifest = Path(manifest)
    frame = load_manifest(manifest)
    results = {}
    for run in chosen:
        _check_manifest(run, manifest)
        temperature, threshold, _ = decision_rule(run)
        loaded: list = []

        def loader(run=run):
            loaded.append(load_run_model(run))
            return loaded[-1]

        results[run.name] = run_robustness(run.path, run_rows(run, frame), loader, run.image_size, threshold,
                                           temperature, limit=limit, seed=seed, batch_size=batch_size, force=force)
        if loaded:
            _release(loaded.pop())
    return results


def evaluate_cost(model: str = "all", runs: str | Path = "runs", seed: int = 0) -> dict[str, dict]:
    """cost.json for each selected run: CPU latency (batch 1), throughput (batch 32), parameters, file size.

    >>> evaluate_cost("cnn")["cnn"]["latency_ms_per_image"]  # doctest: +SKIP
    3.1
    """
    from deepfake_zoo.search.cost import write_cost

    results = {}
    for run in select_runs(runs, model):
        loaded = load_run_model(run)
        results[run.name] = write_cost(run.path, loaded, run.image_size, seed=seed)
        _release(loaded)
    return results


def _fmt(value, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def external_table(results: dict[str, dict]) -> str:
    """A text table of evaluate_folder's results, one row per model."""
    header = f"{'model':<28} {'n':>6} {'skipped':>7} {'ROC AUC':>7} {'acc':>6} {'EER':>6} {'AP':>6} {'ECE':>6} " \
             f"{'thresh':>6}  folder"
    lines = [header, "-" * len(header)]
    for name, m in results.items():
        lines.append(f"{name:<28} {m['n']:>6} {m['n_skipped']:>7} {_fmt(m['roc_auc']):>7} {_fmt(m['accuracy']):>6} "
                     f"{_fmt(m['eer']):>6} {_fmt(m['average_precision']):>6} {_fmt(m['ece']):>6} "
                     f"{_fmt(m['threshold']):>6}  {m['folder']}")
    skips = Counter()
    for m in results.values():
        skips.update(m["skips"])
        break  # every model sees the same files, so one model's skips are the data's
    if skips:
        lines.append("skipped: " + ", ".join(f"{reason} {count}" for reason, count in sorted(skips.items())))
    return "\n".join(lines)


def robustness_table(results: dict[str, dict]) -> str:
    """A text table of ROC AUC per perturbation and severity, one block per model."""
    lines = []
    for name, report in results.items():
        lines.append(f"{name}: {report['n']} test images, clean ROC AUC {_fmt(report['clean']['roc_auc'])}, "
                     f"accuracy {_fmt(report['clean']['accuracy'])}")
        for kind, curve in report["perturbations"].items():
            cells = ", ".join(f"{level:g}: {_fmt(auc)}" for level, auc in zip(curve["levels"], curve["roc_auc"]))
            lines.append(f"  {kind:<10} ROC AUC by {curve['parameter']:<8} {cells}")
    return "\n".join(lines)


def cost_table(results: dict[str, dict]) -> str:
    """A text table of cost.json values, one row per model."""
    header = f"{'model':<28} {'ms/image (b=1)':>14} {'images/s (b=32)':>15} {'parameters':>11} {'file MB':>8}"
    lines = [header, "-" * len(header)]
    for name, c in results.items():
        size = c["model_file_bytes"] / 1e6 if c.get("model_file_bytes") else None
        lines.append(f"{name:<28} {c['latency_ms_per_image']:>14.2f} {c['throughput_images_per_s']:>15.1f} "
                     f"{c['params_total']:>11,} {_fmt(size, '.2f'):>8}")
    return "\n".join(lines)


def read_external(run_dir: str | Path) -> dict[str, dict]:
    """{evaluation name: metrics} for every external evaluation stored under runs/<model>/external/."""
    root = Path(run_dir) / EXTERNAL_DIR
    out = {}
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if folder.is_dir() and not folder.name.startswith(".") and (folder / "metrics.json").is_file():
                out[folder.name] = json.loads((folder / "metrics.json").read_text())
    return out
