"""The build report written beside the manifest (report.json, report.txt) and printed by `make data`."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deepfake_zoo.datasets.screening import CONVERSIONS, SKIP_REASONS

SYNTHETIC_NOTE = ("THE DATA IS THE SYNTHETIC DEMO: generated face-like images that only show the pipeline working; "
                  "scores on it say nothing about deepfake detection. Pass DATA=<folder> for real data.")


@dataclass
class BuildReport:
    """What `build_manifest` did: counts per source x split x label, skips and conversions with reasons, duplicates.

    `counts[source][split]["real"|"fake"]` are manifest rows; `skipped[source][reason]` and
    `converted[source][kind]` count files (reasons are `datasets.screening.SKIP_REASONS` / `CONVERSIONS` keys);
    `capped[source][label]` counts rows dropped by the per-class cap; `examples[reason]` holds a few paths.
    `faces` is the face mode ("none", "crop", "auto"); `face_sources[source]` says whether that source was cropped
    and counts its crops, no-face skips and detector runs (`datasets.cropping.SourceFaces`); `faces_rule` is the
    auto rule, empty unless `faces` is "auto".
    """

    manifest: str
    data: str
    data_is_synthetic: bool
    seed: int
    cap_per_class: int
    val_fraction: float
    test_fraction: float
    rows: int = 0
    sources: list[str] = field(default_factory=list)
    layouts: dict[str, str] = field(default_factory=dict)
    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    converted: dict[str, dict[str, int]] = field(default_factory=dict)
    capped: dict[str, dict[str, int]] = field(default_factory=dict)
    faces: str = "none"
    faces_rule: str = ""
    face_sources: dict[str, dict] = field(default_factory=dict)
    synthetic_fakes: str = "none"
    self_blended: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    duplicate_sets: int = 0
    duplicate_files: int = 0
    duplicates: list[str] = field(default_factory=list)
    manifest_sha256: str = ""
    seconds: float = 0.0

    def skip_counts(self) -> Counter:
        """Skipped files per reason, summed over sources."""
        total: Counter = Counter()
        for reasons in self.skipped.values():
            total.update(reasons)
        return total

    def conversion_counts(self) -> Counter:
        """Converted files per conversion kind, summed over sources."""
        total: Counter = Counter()
        for kinds in self.converted.values():
            total.update(kinds)
        return total

    def to_dict(self) -> dict:
        return asdict(self)

    def to_text(self) -> str:
        """The human-readable report: what `make data` prints and writes to report.txt."""
        lines = []
        if self.data_is_synthetic:
            lines += [SYNTHETIC_NOTE, ""]
        lines.append(f"manifest {self.manifest}: {self.rows} images from {len(self.sources)} source(s) in {self.data}")
        lines.append(f"seed {self.seed}, cap per class and source {self.cap_per_class or 'none'}, "
                     f"val {self.val_fraction:g} / test {self.test_fraction:g} for sources without their own split")
        lines.append("")
        header = f"{'source':<28}{'split':<7}{'real':>8}{'fake':>8}{'total':>8}"
        lines += [header, "-" * len(header)]
        for source in self.sources:
            for split in ("train", "val", "test"):
                c = self.counts.get(source, {}).get(split, {"real": 0, "fake": 0})
                lines.append(f"{source:<28}{split:<7}{c['real']:>8}{c['fake']:>8}{c['real'] + c['fake']:>8}")
            layout = self.layouts.get(source, "")
            lines.append(f"{'':<28}({layout} layout)")
        skips = self.skip_counts()
        lines += ["", f"skipped files: {sum(skips.values())}"]
        for reason, text in SKIP_REASONS.items():
            if skips.get(reason):
                example = self.examples.get(reason, [""])[0]
                lines.append(f"  {skips[reason]:>6}  {reason}: {text}" + (f" (e.g. {example})" if example else ""))
        conversions = self.conversion_counts()
        lines.append(f"converted to RGB PNG under {Path(self.manifest).parent / 'converted'}/: "
                     f"{sum(conversions.values())}")
        for kind, text in CONVERSIONS.items():
            if conversions.get(kind):
                lines.append(f"  {conversions[kind]:>6}  {kind}: {text}")
        lines += self._faces_lines()
        if self.synthetic_fakes == "sbi":
            made = self.self_blended.get("made", 0)
            skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.self_blended.items()) if reason != "made")
            lines.append(f"--synthetic-fakes sbi: {made} self-blended fakes added to train (sources '<source>+sbi', "
                         f"their source's groups) under {Path(self.manifest).parent / 'sbi'}/"
                         + (f"; skipped: {skipped}" if skipped else ""))
        capped = sum(sum(v.values()) for v in self.capped.values())
        lines.append(f"dropped by the per-class cap (random, seed {self.seed}): {capped}")
        for source, per_label in self.capped.items():
            for label, n in per_label.items():
                if n:
                    lines.append(f"  {n:>6}  {source} {label}")
        lines.append(f"identical files kept (same split, one group): {self.duplicate_files} files in "
                     f"{self.duplicate_sets} sets")
        lines += [f"  {d}" for d in self.duplicates[:10]]
        if len(self.duplicates) > 10:
            lines.append(f"  ... {len(self.duplicates) - 10} more sets in report.json")
        lines.append("leakage audit: passed (no group and no identical file in two splits)")
        lines.append(f"manifest sha256 {self.manifest_sha256}, built in {self.seconds:.1f} s")
        if self.data_is_synthetic:
            lines += ["", SYNTHETIC_NOTE]
        return "\n".join(lines) + "\n"

    def _faces_lines(self) -> list[str]:
        if self.faces == "none":
            return ["--faces none: every image is used whole (pass --faces crop or auto for photos that are not face "
                    "crops)"]
        folder = Path(self.manifest).parent / "faces"
        lines = [f"--faces {self.faces}: face crops (largest face, framed like the training crops) under {folder}/"]
        if self.faces_rule:
            lines.append(f"  rule: {self.faces_rule}")
        for source, info in sorted(self.face_sources.items()):
            sample = f" ({info['tight']}/{info['sampled']} sampled images tight)" if info.get("sampled") else ""
            if not info["cropped"]:
                lines.append(f"  {source}: already face crops{sample}, used whole")
                continue
            lines.append(f"  {source}: cropped {info['crops']}{sample}, {info['no_face']} no-face skips, "
                         f"detector run on {info['detected']} (the rest from the cache)")
        return lines

    def to_json(self) -> str:
        """What report.json holds: every field, keys sorted, so equal builds give equal files."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
