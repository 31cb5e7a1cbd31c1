"""The result folders under runs/: how to read them safely and how to rank them, for every room that reads them.

`search` writes runs/<model>/ (formats in docs/design.md); the leaderboard and `predict` only read it, possibly from
another machine, so whatever a file holds ends as a usable result or a `RunFileError` whose message is one sentence
naming the fix, never an exception from deep inside a parser. The rules that decide "best" live here once (which
metrics rank smallest first, how a dotted key reaches a nested number, how ties break), so the page and `predict`
always agree, and so do the EER rule and the accuracy target. This module imports nothing of the project and
nothing heavier than numpy, so every room may use it without breaking the one-way data flow.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

ACCURACY_TARGET = 0.70  # the original notebook's goal for test accuracy
ACCURACY_TARGET_TEXT = f"{ACCURACY_TARGET:.0%}"

HEADLINE_METRICS = ("accuracy", "roc_auc", "eer", "average_precision", "f1")
NUMERIC_FIELDS = HEADLINE_METRICS + (
    "threshold", "image_size", "params_total", "params_trainable", "n_test", "best_value", "wall_time_s",
    "inference_images_per_s", "seed", "epochs",
)
OBJECT_FIELDS = ("per_source", "best_params", "trials", "validation")
BOOLEAN_FIELDS = ("frozen", "data_is_synthetic")
# Key endings where a smaller number is the better result; every other metric ranks larger-first. Times end in
# `_time_s`/`duration_s`, not a bare `_s`, because `inference_images_per_s` is a rate where more is better.
LOWER_IS_BETTER = ("eer", "loss", "_time_s", "duration_s", "seconds", "params_total", "params_trainable")

# A real metrics.json is a few kB and five levels deep; the limits only stop files no search wrote from exhausting
# memory or the parser's recursion (Python's json raises RecursionError near 1,000 levels).
MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_JSON_DEPTH = 32
RERUN_FIX = "rerun the search for this model or delete the folder"


class RunFileError(ValueError):
    """A file under runs/ that cannot be used; the message says what is wrong with it and the fix."""


# ------------------------------------------------------------------ numbers and metric lookup

def is_number(value: Any) -> bool:
    """True for a finite int/float that is not a bool (JSON true/false are ints in Python)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float (JSON allows any number of digits)
        return False


def number_or(value: Any, default: float) -> float:
    """`value` as a float when it is a finite number, else `default` (e.g. NaN for a blank cell, -inf to sort last)."""
    return float(value) if is_number(value) else default


def lookup_number(metrics: dict[str, Any], key: str) -> float | None:
    """The finite number at `key` in a metrics dict, dots reaching nested dicts (`per_source.demo.accuracy`), else None.

    A key that itself contains dots (a source named `faces.v2`) wins over descending: at every level the longest
    dotted prefix that is a real key is taken.
    """
    node: Any = metrics
    rest = key
    while isinstance(node, dict):
        if rest in node:
            node = node[rest]
            return float(node) if is_number(node) else None
        # Comparing the level's own keys with the rest of `key` stays linear however many dots `key` has.
        head = max((k for k in node if isinstance(k, str) and rest.startswith(k + ".")), key=len, default=None)
        if head is None:
            return None
        node, rest = node[head], rest[len(head) + 1:]
    return None


def numeric_keys(metrics: Iterable[dict[str, Any]]) -> list[str]:
    """The top-level keys holding a number in any of `metrics`, sorted: what an error can offer to rank by."""
    return sorted({key for block in metrics for key, value in block.items() if is_number(value)})


def lower_is_better(key: str) -> bool:
    """Whether ranking by `key` puts the smallest value first (EER, losses, times, sizes), judged by its last part."""
    return key.split(".")[-1].endswith(LOWER_IS_BETTER)


# What "the best run" means by default, for the page, predict and serve alike: validation ROC AUC, because choosing
# the model to use on its test score would make that score an optimistic estimate. The test columns only report.
DEFAULT_RANK_BY = "validation.roc_auc"
# Runs written by other tools or older versions may hold no validation block; they are still ordered, by test.
FALLBACK_RANK_BY = "roc_auc"


def resolve_rank_by(rank_by: str | None, metrics: Iterable[dict[str, Any]]) -> str:
    """The metric to rank by: `rank_by` when one is named (never swapped), else the default rule, validation ROC AUC,
    falling back to test ROC AUC only when runs exist and none of them recorded a validation one."""
    if rank_by is not None:
        return rank_by
    metrics = list(metrics)
    if metrics and all(lookup_number(m, DEFAULT_RANK_BY) is None for m in metrics):
        return FALLBACK_RANK_BY
    return DEFAULT_RANK_BY


def rank_key(metrics: dict[str, Any], rank_by: str, folder_name: str) -> tuple[int, float, str]:
    """Sort key putting the best run first by `rank_by`: runs lacking that number go last; ties go by folder name
    (unique under runs/, where model names may repeat), so every reader orders the same runs the same way."""
    value = lookup_number(metrics, rank_by)
    if value is None:
        return (1, 0.0, folder_name)
    return (0, value if lower_is_better(rank_by) else -value, folder_name)


@dataclass(frozen=True)
class EqualErrorPoint:
    """Where a ROC curve crosses FPR = FNR: the point to mark on the curve and the equal error rate there."""

    fpr: float
    tpr: float
    rate: float


def equal_error_point(fpr: Any, tpr: Any) -> EqualErrorPoint:
    """The EER of a ROC curve given as increasing `fpr` and `tpr` arrays (sklearn's `roc_curve` order).

    The ROC point where |FNR - FPR| is smallest; when the crossing lies between it and the point before, the two are
    interpolated linearly, otherwise the rate is the mean of FPR and FNR there.
    """
    fpr, tpr = np.asarray(fpr, dtype=float), np.asarray(tpr, dtype=float)
    fnr = 1.0 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    if i > 0:
        d0, d1 = fnr[i - 1] - fpr[i - 1], fnr[i] - fpr[i]
        if np.sign(d0) != np.sign(d1) and d0 != d1:
            t = d0 / (d0 - d1)
            x = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
            return EqualErrorPoint(float(x), float(tpr[i - 1] + t * (tpr[i] - tpr[i - 1])), float(x))
    return EqualErrorPoint(float(fpr[i]), float(tpr[i]), float((fpr[i] + fnr[i]) / 2))


# ------------------------------------------------------------------ files

def readable_text(text: str) -> str:
    """`text` with any bytes that were not UTF-8 (a file name read from disk) shown as U+FFFD, so it can be printed
    or written into a UTF-8 page."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no undecodable byte maps to (typed, not read from disk)
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def run_folders(runs_dir: str | Path) -> list[Path]:
    """The run folders under `runs_dir`, sorted by name; names starting with "." or "_" are work in progress or
    bookkeeping (staging folders, locks), never results.

    Raises FileNotFoundError / NotADirectoryError naming `runs_dir` when it is not a folder.
    """
    root = Path(runs_dir)
    if not root.exists():
        raise FileNotFoundError(f"the runs folder {readable_text(str(root))} does not exist: produce results with "
                                "`make data` then `make search MODEL=cnn`, or pass --runs with the folder that "
                                "holds them")
    if not root.is_dir():
        raise NotADirectoryError(f"--runs {readable_text(str(root))} is a file, not a folder of runs: pass the "
                                 "folder that holds one sub-folder per model")
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def check_file(path: Path, max_bytes: int) -> None:
    """Raise RunFileError unless `path` is a regular file of at most `max_bytes` (a FIFO or device would hang or
    never end; an oversized file would exhaust memory)."""
    try:
        if not path.is_file():
            raise RunFileError(f"{path.name} is not a regular file")
        size = path.stat().st_size
    except OSError as err:
        raise RunFileError(f"{path.name} cannot be read ({err.strerror or err})") from err
    if size > max_bytes:
        raise RunFileError(f"{path.name} is {size:,} bytes, more than the {max_bytes:,} a run file may hold")


def read_json(path: Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse a JSON file of runs/; raises RunFileError for anything that is not reasonable JSON: unreadable, too
    large, not UTF-8, malformed, nested deeper than MAX_JSON_DEPTH, or holding text that is not valid Unicode."""
    check_file(path, max_bytes)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(max_bytes + 1)  # the file may have grown since it was measured
        if len(raw) > max_bytes:
            raise RunFileError(f"{path.name} is more than the {max_bytes:,} bytes a run file may hold")
        data = json.loads(raw.decode("utf-8"))
    except RecursionError as err:
        raise RunFileError(f"{path.name} is not readable JSON (nested too deeply to parse)") from err
    except (OSError, ValueError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise RunFileError(f"{path.name} is not readable JSON ({_first_line(err)})") from err
    _check_tree(data, path.name)
    return data


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def _check_tree(data: Any, name: str) -> None:
    # Walked with a stack, not recursion, so no shape of file can exhaust Python's recursion limit.
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_text(node, name)
        elif isinstance(node, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                raise RunFileError(f"{name} nests deeper than {MAX_JSON_DEPTH} levels, which no search writes")
            if isinstance(node, dict):
                for key, value in node.items():
                    _check_text(key, name)
                    stack.append((value, depth + 1))
            else:
                stack.extend((value, depth + 1) for value in node)


def _check_text(text: str, name: str) -> None:
    # JSON's \udcff escapes decode to lone surrogates, which no UTF-8 page or terminal can hold.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise RunFileError(f"{name} holds text that is not valid Unicode (a lone surrogate escape)") from err


def read_metrics(folder: str | Path) -> dict[str, Any]:
    """Read and check runs/<model>/metrics.json; returns it as a dict (confusion matrix counts as ints).

    Raises RunFileError with one sentence naming the problem and the fix when the file is missing, unreadable, or
    a field the readers rely on has the wrong type: numbers must be finite (or null), `per_source`, `best_params`,
    `trials` and `validation` objects, `train_sources` a list of names, `model` a name, `frozen` and
    `data_is_synthetic` true/false. Which metrics a reader needs (a threshold, a headline metric) is its own check.
    """
    path = Path(folder) / "metrics.json"
    try:
        missing = not path.exists() and not path.is_symlink()
    except OSError as err:
        raise RunFileError(f"metrics.json cannot be read ({err.strerror or err}); {RERUN_FIX}") from err
    if missing:
        raise RunFileError("no metrics.json (the search did not finish or failed); rerun `make search MODEL=...` "
                           "for it or delete the folder")
    try:
        metrics = read_json(path)
    except RunFileError as err:
        raise RunFileError(f"{err}; {RERUN_FIX}") from err
    fix = f"; {RERUN_FIX}"
    if not isinstance(metrics, dict):
        raise RunFileError(f"metrics.json holds a {type(metrics).__name__}, not an object{fix}")
    _check_numbers(metrics, NUMERIC_FIELDS, "metrics.json", fix)
    for key in BOOLEAN_FIELDS:
        if metrics.get(key) is not None and not isinstance(metrics[key], bool):
            raise RunFileError(f"metrics.json field {key} is {_shown(metrics[key])}, not true or false{fix}")
    if metrics.get("model") is not None and not isinstance(metrics["model"], str):
        raise RunFileError(f"metrics.json field model is {_shown(metrics['model'])}, not a name{fix}")
    if metrics.get("confusion_matrix") is not None:
        if not _is_confusion_matrix(metrics["confusion_matrix"]):
            raise RunFileError(f"metrics.json confusion_matrix is not [[tn, fp], [fn, tp]] of counts{fix}")
        metrics["confusion_matrix"] = [[int(c) for c in row] for row in metrics["confusion_matrix"]]
    for key in OBJECT_FIELDS:
        if metrics.get(key) is not None and not isinstance(metrics[key], dict):
            raise RunFileError(f"metrics.json field {key} is not an object{fix}")
    for source, block in (metrics.get("per_source") or {}).items():
        if not isinstance(block, dict):
            raise RunFileError(f"metrics.json per_source[{_shown(source)}] is not an object{fix}")
    sources = metrics.get("train_sources")
    if sources is not None and not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        raise RunFileError(f"metrics.json train_sources is not a list of names{fix}")
    return metrics


def _shown(value: Any) -> str:
    # A wrong value is quoted in the reason, shortened: it may be a 5 MB list.
    text = repr(value) if not isinstance(value, (dict, list)) else f"a {'list' if isinstance(value, list) else 'dict'}"
    return text if len(text) <= 60 else text[:57] + "..."


def _is_confusion_matrix(value: Any) -> bool:
    # Counts written as floats (3.0) are still counts; anything fractional or negative is not.
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(row, list) and len(row) == 2 for row in value)
            and all(is_number(c) and c >= 0 and float(c).is_integer() for row in value for c in row))


# ------------------------------------------------------------------ evaluation sets beyond the test split

EXTERNAL_DIR = "external"  # runs/<model>/external/<SET>/metrics.json, written by `deepfake-zoo evaluate`
CROSS_MEAN_KEY = "cross_mean_roc_auc"
# A user evaluates on a handful of sets; the cap only keeps a folder of thousands from stalling every reader.
MAX_EXTERNAL_SETS = 100
_SET_NUMBERS = HEADLINE_METRICS + ("n", "ece", "brier")


@dataclass(frozen=True)
class EvaluationSet:
    """One set a run was scored on: the in-domain test split, an external set (`evaluate`) or a held-out source."""

    kind: str  # "in-domain", "external" or "held-out"
    name: str
    roc_auc: float | None
    accuracy: float | None
    n: int | None
    data: dict | None = None  # what `evaluate` recorded about the external data (path, kind, sources)


def _check_numbers(block: dict, keys, where: str, fix: str = "") -> None:
    """Raise naming the first of `keys` that `block` holds as something other than a finite number."""
    for key in keys:
        value = block.get(key)
        if value is not None and not is_number(value):
            raise RunFileError(f"{where} field {key} is {_shown(value)}, not a number{fix}")


def _check_scores(block: Any, where: str) -> dict[str, Any]:
    if not isinstance(block, dict):
        raise RunFileError(f"{where} holds a {type(block).__name__}, not an object of metrics")
    _check_numbers(block, _SET_NUMBERS, where)
    return block


def read_external(folder: str | Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """{set name: its metrics} from runs/<model>/external/*/metrics.json, and one note per set that was ignored
    (unreadable, hostile, or a metric that is not a number); never raises for what the folder holds."""
    root = Path(folder) / EXTERNAL_DIR
    sets: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    try:
        if not root.is_dir():
            return sets, notes
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    except OSError as err:
        return sets, [f"{EXTERNAL_DIR}/ cannot be read ({err.strerror or err})"]
    if len(children) > MAX_EXTERNAL_SETS:
        notes.append(f"{EXTERNAL_DIR}/ holds {len(children)} sets; only the first {MAX_EXTERNAL_SETS} are shown")
    for child in children[:MAX_EXTERNAL_SETS]:
        where = f"{EXTERNAL_DIR}/{readable_text(child.name)}/metrics.json"
        try:
            sets[readable_text(child.name)] = _check_scores(read_json(child / "metrics.json"), where)
        except RunFileError as err:
            notes.append(f"{where} was ignored: {err}; rerun `deepfake-zoo evaluate` for it or delete the folder")
    return sets, notes


def read_holdout(metrics: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """{held-out source: its metrics} from metrics.json `holdout` (a cross-source run scored on every row of the
    sources it never trained on), and one note per block that is not usable."""
    block = metrics.get("holdout")
    if block is None:
        return {}, []
    if not isinstance(block, dict):
        return {}, [f"metrics.json holdout was ignored: it is {_shown(block)}, not an object {{source: metrics}}"]
    sets, notes = {}, []
    for source, scores in block.items():
        try:
            sets[source] = _check_scores(scores, f"metrics.json holdout[{_shown(source)}]")
        except RunFileError as err:
            notes.append(f"{err}; that source is not shown")
    return sets, notes


def evaluation_sets(metrics: dict[str, Any], external: dict[str, dict[str, Any]],
                    holdout: dict[str, dict[str, Any]]) -> list[EvaluationSet]:
    """The in-domain test split first, then each external set, then each held-out source (names sorted)."""
    def number(block: dict, key: str) -> float | None:
        value = block.get(key)
        return float(value) if is_number(value) else None

    n_test = number(metrics, "n_test")
    sets = [EvaluationSet("in-domain", "test split", number(metrics, "roc_auc"), number(metrics, "accuracy"),
                          None if n_test is None else int(n_test))]
    for kind, blocks in (("external", external), ("held-out", holdout)):
        for name in sorted(blocks):
            block = blocks[name]
            n = number(block, "n")
            data = block.get("data") if isinstance(block.get("data"), dict) else None
            sets.append(EvaluationSet(kind, name, number(block, "roc_auc"), number(block, "accuracy"),
                                      None if n is None else int(n), data))
    return sets


def cross_mean_roc_auc(sets: Iterable[EvaluationSet]) -> float | None:
    """Mean ROC AUC over the sets that are not in-domain (external and held-out), None when none has one: the
    number DeepfakeBench reports beside the in-domain AUC."""
    values = [s.roc_auc for s in sets if s.kind != "in-domain" and s.roc_auc is not None]
    return float(np.mean(values)) if values else None


def add_cross_mean(folder: str | Path, metrics: dict[str, Any]) -> tuple[list[EvaluationSet], list[str]]:
    """Read the run's external and held-out results, store their mean ROC AUC in `metrics` under CROSS_MEAN_KEY
    (None when there is none, whatever the file held there), so `rank_key` ranks by it like any metric; returns
    the evaluation sets and the notes on ignored files."""
    external, notes = read_external(folder)
    holdout, holdout_notes = read_holdout(metrics)
    sets = evaluation_sets(metrics, external, holdout)
    metrics[CROSS_MEAN_KEY] = cross_mean_roc_auc(sets)
    return sets, notes + holdout_notes
