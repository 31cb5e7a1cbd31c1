"""Render verdicts as a readable table, JSON or CSV; the JSON keys and CSV columns are a stable interface."""
from __future__ import annotations

import csv
import io
import json

from deepfake_zoo.predict.models import Run
from deepfake_zoo.predict.scoring import SCORED, Verdict

# Order matters: scripts read these by name, people read them left to right.
# New columns go at the end, so scripts reading the older ones by position keep working.
CSV_COLUMNS = ("path", "kind", "status", "label", "prob_fake", "threshold", "model", "frames_sampled",
               "frames_with_face", "frame_scores", "error", "scored_on", "face_boxes", "face_scores", "note", "skip")
RESULT_KEYS = ("path", "kind", "status", "label", "prob_fake", "threshold", "model", "frames_sampled",
               "frames_with_face", "frame_scores", "error", "frame_indices", "scored_on", "faces", "note", "skip")
REPORT_KEYS = ("model", "run_dir", "threshold", "temperature", "tta_flip", "image_size", "rank_by", "rank_value",
               "summary", "results")
SUMMARY_KEYS = ("inputs", "scored", "fake", "real", "no_face", "failed", "skipped")


def summarize(verdicts: list[Verdict]) -> dict:
    """Counts: inputs, scored, fake, real, no_face, failed (everything not scored), and skipped by screening reason.

    `skipped` counts, per datasets.screening reason (transparent, too_large, corrupt, ...), the images that were
    not scored because `data` would not train on them either.
    """
    scored = [v for v in verdicts if v.status == SCORED]
    skipped: dict[str, int] = {}
    for verdict in verdicts:
        if verdict.skip:
            skipped[verdict.skip] = skipped.get(verdict.skip, 0) + 1
    return {
        "inputs": len(verdicts),
        "scored": len(scored),
        "fake": sum(v.label == "fake" for v in scored),
        "real": sum(v.label == "real" for v in scored),
        "no_face": sum(v.status == "no_face" for v in verdicts),
        "failed": len(verdicts) - len(scored),
        "skipped": dict(sorted(skipped.items())),
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
        "scored_on": verdict.scored_on,
        "faces": verdict.faces,
        "note": verdict.note,
        "skip": verdict.skip,
    }


def report_dict(verdicts: list[Verdict], run: Run, rank_by: str, tta_flip: bool = False) -> dict:
    """The whole report with REPORT_KEYS: the run used, a summary, and one record per input under "results"."""
    return {
        "model": run.name,
        "run_dir": str(run.path),
        "threshold": run.threshold,
        "temperature": run.temperature,
        "tta_flip": tta_flip,
        "image_size": run.image_size,
        "rank_by": rank_by,
        "rank_value": run.rank_value(rank_by),
        "summary": summarize(verdicts),
        "results": [result_record(v) for v in verdicts],
    }


def to_json(verdicts: list[Verdict], run: Run, rank_by: str, tta_flip: bool = False) -> str:
    """The whole report (report_dict) as indented JSON."""
    return json.dumps(report_dict(verdicts, run, rank_by, tta_flip), indent=2)


def to_csv(verdicts: list[Verdict]) -> str:
    """One CSV row per input with CSV_COLUMNS; empty cells where nothing applies.

    frame_scores and face_scores are ";"-separated; face_boxes is ";"-separated "x y width height" boxes in the
    order of face_scores.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for verdict in verdicts:
        record = result_record(verdict)
        record.pop("frame_indices")
        scores = record["frame_scores"]
        record["frame_scores"] = None if scores is None else ";".join(repr(score) for score in scores)
        faces = record.pop("faces") or []
        record["face_boxes"] = ";".join(" ".join(str(v) for v in face["box"]) for face in faces) or None
        record["face_scores"] = ";".join(repr(face["prob_fake"]) for face in faces
                                         if face["prob_fake"] is not None) or None
        writer.writerow({key: "" if value is None else value for key, value in record.items()})
    return buffer.getvalue()


def _row(verdict: Verdict) -> list[str]:
    faces = "-"
    if verdict.frames_sampled is not None:
        faces = f"{verdict.frames_with_face}/{verdict.frames_sampled}"
    elif verdict.faces is not None:
        faces = str(len(verdict.faces)) if verdict.faces or verdict.status != SCORED else "none"
    if verdict.status == SCORED:
        label = verdict.label.upper() if verdict.label == "fake" else verdict.label
        prob = f"{verdict.prob_fake:.3f}"
    else:
        label = {"no_face": "no face", "skipped": "skipped"}.get(verdict.status, "ERROR")
        prob = "-"
    detail = verdict.path if verdict.error is None else f"{verdict.path}: {verdict.error}"
    if verdict.status == SCORED and verdict.scored_on == "faces" and len(verdict.faces) > 1:
        detail += " [" + ", ".join(f"face at {f['box'][0]},{f['box'][1]}: {f['prob_fake']:.3f}"
                                   for f in verdict.faces) + "]"
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
    whole = sum(v.status == SCORED and v.faces == [] and v.scored_on == "whole_image" for v in verdicts)
    if whole and any(v.note for v in verdicts):
        lines.append(f"--faces auto: no face was found in {whole} image(s), so each was scored whole; the model was "
                     "trained on face crops, so treat those verdicts with care")
    tally = (f"{counts['inputs']} input(s): {counts['scored']} scored ({counts['fake']} fake, {counts['real']} real), "
             f"{counts['failed']} not scored")
    if counts["no_face"]:
        tally += f" ({counts['no_face']} without a face)"
    if counts["skipped"]:
        tally += "; skipped as `data` would: " + ", ".join(f"{n} {why}" for why, n in counts["skipped"].items())
    lines.append(tally)
    return "\n".join(lines)
