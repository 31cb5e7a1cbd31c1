"""Render verdicts as a readable table, JSON or CSV; the JSON keys and CSV columns are a stable interface."""
from __future__ import annotations

import csv
import io
import json

from deepfake_zoo.predict.models import Run
from deepfake_zoo.predict.scoring import SCORED, Verdict

# Order matters: scripts read these by name, people read them left to right.
CSV_COLUMNS = ("path", "kind", "status", "label", "prob_fake", "threshold", "model", "frames_sampled",
               "frames_with_face", "frame_scores", "error")
RESULT_KEYS = CSV_COLUMNS + ("frame_indices",)
REPORT_KEYS = ("model", "run_dir", "threshold", "image_size", "rank_by", "rank_value", "summary", "results")
SUMMARY_KEYS = ("inputs", "scored", "fake", "real", "no_face", "failed")


def summarize(verdicts: list[Verdict]) -> dict:
    """Counts: inputs, scored, fake, real, no_face (videos without a face) and failed (everything not scored)."""
    scored = [v for v in verdicts if v.status == SCORED]
    return {
        "inputs": len(verdicts),
        "scored": len(scored),
        "fake": sum(v.label == "fake" for v in scored),
        "real": sum(v.label == "real" for v in scored),
        "no_face": sum(v.status == "no_face" for v in verdicts),
        "failed": len(verdicts) - len(scored),
    }


def result_record(verdict: Verdict) -> dict:
    """One verdict as a plain dict with exactly RESULT_KEYS (None where a field does not apply)."""
    return {
        "path": verdict.path,
        "kind": verdict.kind,
        "status": verdict.status,
        "label": verdict.label,
        "prob_fake": verdict.prob_fake,
        "threshold": verdict.threshold,
        "model": verdict.model,
        "frames_sampled": verdict.frames_sampled,
        "frames_with_face": verdict.frames_with_face,
        "frame_scores": verdict.frame_scores,
        "error": verdict.error,
        "frame_indices": verdict.frame_indices,
    }


def to_json(verdicts: list[Verdict], run: Run, rank_by: str) -> str:
    """The whole report as indented JSON: the run used, a summary, and one record per input under "results"."""
    report = {
        "model": run.name,
        "run_dir": str(run.path),
        "threshold": run.threshold,
        "image_size": run.image_size,
        "rank_by": rank_by,
        "rank_value": run.rank_value(rank_by),
        "summary": summarize(verdicts),
        "results": [result_record(v) for v in verdicts],
    }
    return json.dumps(report, indent=2)


def to_csv(verdicts: list[Verdict]) -> str:
    """One CSV row per input with CSV_COLUMNS; frame_scores is ";"-separated, empty cells where nothing applies."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for verdict in verdicts:
        record = result_record(verdict)
        record.pop("frame_indices")
        scores = record["frame_scores"]
        record["frame_scores"] = None if scores is None else ";".join(repr(score) for score in scores)
        writer.writerow({key: "" if value is None else value for key, value in record.items()})
    return buffer.getvalue()


def _row(verdict: Verdict) -> list[str]:
    faces = "-"
    if verdict.frames_sampled is not None:
        faces = f"{verdict.frames_with_face}/{verdict.frames_sampled}"
    if verdict.status == SCORED:
        label = verdict.label.upper() if verdict.label == "fake" else verdict.label
        prob = f"{verdict.prob_fake:.3f}"
    else:
        label = "no face" if verdict.status == "no_face" else "ERROR"
        prob = "-"
    detail = verdict.path if verdict.error is None else f"{verdict.path}: {verdict.error}"
    return [label, prob, f"{verdict.threshold:.3f}", verdict.model, faces, detail]


def to_table(verdicts: list[Verdict], run: Run, rank_by: str) -> str:
    """A fixed-width table for people: verdict, P(fake), threshold, model, faces found (videos), path or error."""
    value = run.rank_value(rank_by)
    ranked = f", {rank_by} {value:.3f}" if value is not None else ""
    lines = [f"model: {run.name} ({run.path}{ranked}; threshold {run.threshold:.3f} chosen on validation, "
             f"{run.image_size} px)"]
    header = ["verdict", "p(fake)", "threshold", "model", "faces", "input"]
    rows = [_row(v) for v in verdicts]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    counts = summarize(verdicts)
    lines.append(f"{counts['inputs']} input(s): {counts['scored']} scored ({counts['fake']} fake, {counts['real']} "
                 f"real), {counts['failed']} not scored" + (f" ({counts['no_face']} without a face)"
                                                            if counts["no_face"] else ""))
    return "\n".join(lines)
