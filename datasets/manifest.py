"""Build, load and fingerprint the one split manifest every model trains and is evaluated on (build/splits.csv).

How a build decides (in this order, all seeded and independent of file-system listing order):

1. Discover the datasets under `data` and list their files (`datasets.layouts`); screen every file in a thread pool
   (`datasets.screening`): hash, size, full decode; skip or convert bad files with a counted reason.
2. Byte-identical files with different labels: every copy is dropped (`conflicting_labels`); a label is never guessed.
3. A source that comes with its own split keeps it. When it holds identical files in two of its splits, one copy is
   kept, in the split that comes first in test > val > train (the published evaluation sets stay whole), and the
   others are dropped as `duplicate_across_splits`. So the audit passes on real data without moving files between
   splits.
4. The optional cap (`cap_per_class`, the notebook's 16,000) draws rows at random per source and class, seeded.
   Then, with `faces` "crop" or "auto", each kept row of a photo source points at its face crop under `faces/`
   (`datasets.cropping`; only the kept rows, so the detector never runs on images the cap drops); rows without a
   face are dropped as `no_face`. Rows keep their original's sha256 and group, so what follows is unchanged.
5. Union-find over (group, sha256) links: rows sharing a group or a hash form one component, whose name becomes the
   `group` column. A component touching a pre-split row takes that split (on a conflict, the majority split wins
   and rows fixed elsewhere are dropped as `linked_across_splits`); the others are split by component, per source
   and label mix, 70/15/15 by default.
6. The leakage audit (`datasets.audit.audit_leakage`) runs on the result; the csv and both reports are written beside
   and swapped in together (`replace_together`), so a failed or interrupted build leaves the previous ones whole.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from deepfake_zoo.datasets.audit import SPLITS, audit_leakage
from deepfake_zoo.datasets.cropping import AUTO_RULE, FACES_DIR, crop_sources
from deepfake_zoo.datasets.self_blend import make_self_blended
from deepfake_zoo.datasets.demo import SYNTHETIC_MARKER, make_demo_dataset
from deepfake_zoo.datasets.faces import FACE_MODES
from deepfake_zoo.datasets.layouts import discover, read_source
from deepfake_zoo.datasets.report import BuildReport
from deepfake_zoo.datasets.screening import screen_image

COLUMNS = ["path", "label", "source", "group", "split", "sha256", "width", "height"]
# Identical files in two given splits keep the copy in the first split listed here.
KEEP_PRIORITY = ("test", "val", "train")
LABEL_WORDS = {0: "real", 1: "fake"}
MAX_EXAMPLES = 5

# Synthetic fakes a build may add to the training split (`synthetic_fakes`), and where their files go.
SYNTHETIC_FAKES = ("none", "sbi")
SBI_DIR = "sbi"


def _key_seed(seed: int, *parts: object) -> list[int]:
    """A seed for one (source, class, ...) draw that does not shift when other sources are added."""
    return [int(seed)] + [zlib.crc32(str(p).encode()) for p in parts]


def _screen_all(paths: list[Path], converted_dir: Path) -> list:
    # Reading and decoding release the GIL, so threads overlap file I/O with decoding even on two cores.
    workers = min(16, 4 * (os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        return list(pool.map(lambda p: screen_image(p, converted_dir), paths))
    finally:
        # On Ctrl-C, drop the queued files instead of screening all of them before the interrupt can end the build.
        pool.shutdown(wait=True, cancel_futures=True)


def _drop(df: pd.DataFrame, mask: pd.Series, reason: str, skips: list) -> pd.DataFrame:
    for row in df[mask].itertuples(index=False):
        skips.append((row.source, reason, row.source_path))
    return df[~mask]


def _components(df: pd.DataFrame) -> np.ndarray:
    """Connected components of rows linked by a shared group or a shared sha256 (union-find via scipy)."""
    n = len(df)
    rows, cols = [], []
    for key in ("group", "sha256"):
        codes = pd.factorize(df[key])[0]
        order = np.argsort(codes, kind="stable")
        same = codes[order][1:] == codes[order][:-1]
        rows.append(order[:-1][same])
        cols.append(order[1:][same])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _resolve_given_splits(df: pd.DataFrame, skips: list) -> pd.DataFrame:
    """Drop identical copies across the given splits (keep by KEEP_PRIORITY); see the module docstring, step 3."""
    fixed = df[df["given_split"].notna()]
    per_hash = fixed.groupby("sha256")["given_split"].nunique()
    clashing = set(per_hash[per_hash > 1].index)
    if not clashing:
        return df
    rank = {s: i for i, s in enumerate(KEEP_PRIORITY)}
    in_clash = df["sha256"].isin(clashing) & df["given_split"].notna()
    best = df[in_clash].groupby("sha256")["given_split"].agg(lambda s: min(s, key=rank.__getitem__))
    lose = in_clash & (df["given_split"] != df["sha256"].map(best))
    return _drop(df, lose, "duplicate_across_splits", skips)


def _cap(df: pd.DataFrame, cap: int, seed: int) -> tuple[pd.DataFrame, dict]:
    capped: dict[str, dict[str, int]] = {}
    if cap <= 0:
        return df, capped
    keep = []
    for (source, label), rows in df.groupby(["source", "label"], sort=True):
        capped.setdefault(source, {})[LABEL_WORDS[label]] = max(0, len(rows) - cap)
        if len(rows) <= cap:
            keep.append(rows.index.to_numpy())
            continue
        rng = np.random.default_rng(_key_seed(seed, "cap", source, label))
        keep.append(np.sort(rng.choice(rows.index.to_numpy(), size=cap, replace=False)))
    return df.loc[np.sort(np.concatenate(keep))], capped


def _assign_splits(df: pd.DataFrame, seed: int, val_fraction: float, test_fraction: float,
                   skips: list) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    df["component"] = _components(df)
    # A component tied to given splits takes the majority one; rows fixed elsewhere would leak, so they go.
    fixed = df[df["given_split"].notna()]
    if len(fixed):
        rank = {s: i for i, s in enumerate(KEEP_PRIORITY)}
        votes = fixed.groupby(["component", "given_split"]).size().reset_index(name="n")
        votes["rank"] = votes["given_split"].map(rank)
        votes = votes.sort_values(["component", "n", "rank"], ascending=[True, False, True])
        chosen = votes.drop_duplicates("component").set_index("component")["given_split"]
        df["split"] = df["component"].map(chosen)
        lose = df["given_split"].notna() & (df["given_split"] != df["split"])
        df = _drop(df, lose, "linked_across_splits", skips)
    else:
        df["split"] = None
    # The group name: the smallest original group in the component, so it reads like a real video or file.
    df["group"] = df.groupby("component")["group"].transform("min")
    free = df[df["split"].isna()]
    if len(free):
        comp = free.groupby("component").agg(source=("source", "min"), group=("group", "first"),
                                             labels=("label", lambda s: "".join(map(str, sorted(set(s))))),
                                             n=("label", "size"))
        assignment = {}
        for (source, labels), members in comp.groupby(["source", "labels"], sort=True):
            members = members.sort_values("group")
            rng = np.random.default_rng(_key_seed(seed, "split", source, labels))
            members = members.iloc[rng.permutation(len(members))]
            total = members["n"].sum()
            targets = (("test", test_fraction * total), ("val", val_fraction * total))
            filled = {"test": 0, "val": 0}
            for component, n in zip(members.index, members["n"]):
                split = "train"
                for name, target in targets:
                    # Greedy by rows: a component goes to a split while that split is still below its share.
                    if filled[name] + n / 2 <= target:
                        split = name
                        filled[name] += n
                        break
                assignment[component] = split
        df.loc[df["split"].isna(), "split"] = df.loc[df["split"].isna(), "component"].map(assignment)
    return df


def _refuse_folders(targets: list[Path]) -> None:
    for target in targets:
        if target.is_dir():
            raise IsADirectoryError(f"{target} is a folder, so the build cannot write its output there: move the "
                                    "folder away or pass --manifest in another folder")


@contextmanager
def replace_together(targets: list[Path]) -> Iterator[list[Path]]:
    """Temporary paths beside `targets` to write; when the block ends, all replace their targets, or none does.

    If the block raises (or is interrupted), the targets are untouched. If replacing one target fails, those already
    replaced get their old contents back, so readers see the old set or the new set. Only a kill between two renames
    can leave a mix, a window of microseconds.
    Raises IsADirectoryError, before anything is written, when a target is a folder.
    """
    targets = [Path(t) for t in targets]
    _refuse_folders(targets)
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    olds: list[Path] = []
    try:
        for target in targets:
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{target.suffix}", dir=target.parent)
            os.close(fd)
            parts.append(Path(name))
        yield parts
        done: list[tuple[Path, Path | None]] = []
        try:
            for target, part in zip(targets, parts):
                old = None
                if target.exists():
                    old = target.with_name(f"{part.name}.old")
                    olds.append(old)
                    # A hard link keeps the old contents without a moment where the target is missing.
                    try:
                        os.link(target, old)
                    except OSError:
                        shutil.copy2(target, old)
                os.chmod(part, 0o644)  # mkstemp creates 0600; outputs are meant to be read by others
                # Listed before the rename, so an interrupt right after it still rolls this target back.
                done.append((target, old))
                os.replace(part, target)
        except BaseException:
            for target, old in reversed(done):
                if old is None:
                    target.unlink(missing_ok=True)
                else:
                    os.replace(old, target)
            raise
    finally:
        for leftover in parts + olds:
            leftover.unlink(missing_ok=True)


def _rel(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def build_manifest(data: str | Path | None, manifest: str | Path = "build/splits.csv", seed: int = 0,
                   cap_per_class: int = 16000, val_fraction: float = 0.15,
                   test_fraction: float = 0.15, faces: str = "none", synthetic_fakes: str = "none",
                   sbi_ratio: float = 0.25) -> BuildReport:
    """Build the split manifest from every dataset under `data` and write it with report.json/report.txt beside it.

    `data=None` generates the synthetic demo dataset under `<manifest folder>/demo-data/demo` and uses it (the report
    says so). Conversions go to `<manifest folder>/converted/`. `cap_per_class=0` disables the cap. `faces`: "none"
    uses every image whole; "crop" replaces each row's image by its largest face cropped like the training crops
    (under `<manifest folder>/faces/`, cached by content) and skips images without a face; "auto" does that only
    for sources that are not already face crops (`datasets.cropping.AUTO_RULE`). The same files, seed and arguments
    give the same manifest, byte for byte. `synthetic_fakes="sbi"` adds self-blended fakes made from a seeded
    `sbi_ratio` of the real *training* images (`datasets.self_blend`, under `<manifest folder>/sbi/`, cached by
    content) as training rows of source `<source>+sbi` in their source's group; validation and test never hold one.
    Raises `datasets.layouts.DataLayoutError` for a missing/empty folder or an unknown layout, ValueError for bad
    fractions or face mode, `datasets.faces.DetectorUnavailableError` when cropping needs the missing `mtcnn`, and
    `datasets.audit.LeakageError` if the result leaks (which would be a bug here).

    >>> report = build_manifest("/data", "build/splits.csv", seed=0)  # doctest: +SKIP
    >>> report.counts["deepfake-faces"]["test"]  # doctest: +SKIP
    {'real': 2229, 'fake': 2229}
    """
    started = time.perf_counter()
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"val_fraction {val_fraction} and test_fraction {test_fraction} must each be in [0, 1) "
                         "and sum below 1: e.g. --val-fraction 0.15 --test-fraction 0.15")
    if int(seed) < 0 or int(cap_per_class) < 0:
        raise ValueError(f"seed {seed} and cap_per_class {cap_per_class} must be non-negative: e.g. --seed 0 "
                         "--cap-per-class 16000 (0 = no cap)")
    if faces not in FACE_MODES:
        raise ValueError(f"unknown face mode {faces!r}: use one of {', '.join(FACE_MODES)} (e.g. --faces crop)")
    if synthetic_fakes not in SYNTHETIC_FAKES or not 0 < sbi_ratio <= 1:
        raise ValueError(f"synthetic fakes {synthetic_fakes!r} with ratio {sbi_ratio}: use one of "
                         f"{', '.join(SYNTHETIC_FAKES)} and a ratio in (0, 1], e.g. --synthetic-fakes sbi --sbi-ratio 0.25")
    manifest = Path(manifest).absolute()
    out_dir = manifest.parent
    outputs = [manifest, out_dir / "report.json", out_dir / "report.txt"]
    _refuse_folders(outputs)  # checked again when writing; here it saves screening every file first
    synthetic = data is None
    if synthetic:
        data = make_demo_dataset(out_dir / "demo-data" / "demo", seed=seed)
    data = Path(data).absolute()
    sources = discover(data)
    synthetic = synthetic or any((folder / SYNTHETIC_MARKER).exists() for _, folder, _ in sources)

    skips: list[tuple[str, str, str]] = []
    listings = [read_source(name, folder, kind) for name, folder, kind in sources]
    candidates = []
    for listing in listings:
        skips += [(listing.source, reason, path) for reason, path in listing.skipped]
        candidates += listing.candidates
    candidates.sort(key=lambda c: (c.source, str(c.path)))
    screened = _screen_all([c.path for c in candidates], out_dir / "converted")

    records, converted = [], {}
    for cand, result in zip(candidates, screened):
        if result.skip:
            skips.append((cand.source, result.skip, str(cand.path)))
            continue
        if result.conversion:
            per = converted.setdefault(cand.source, {})
            per[result.conversion] = per.get(result.conversion, 0) + 1
        records.append({"path": str(result.path.absolute()), "label": cand.label, "source": cand.source,
                        "group": cand.group, "given_split": cand.split, "sha256": result.sha256,
                        "width": result.width, "height": result.height, "source_path": str(cand.path)})
    df = pd.DataFrame(records, columns=list(records[0]) if records else
                      ["path", "label", "source", "group", "given_split", "sha256", "width", "height", "source_path"])

    labels_per_hash = df.groupby("sha256")["label"].nunique()
    conflicting = df["sha256"].isin(labels_per_hash[labels_per_hash > 1].index)
    df = _drop(df, conflicting, "conflicting_labels", skips)
    df = _resolve_given_splits(df, skips)
    df, capped = _cap(df.reset_index(drop=True), cap_per_class, seed)
    df, face_summary = crop_sources(df, faces, out_dir / FACES_DIR, seed, skips)
    if df.empty:
        raise ValueError(f"no usable image left in {data} after screening (skips: "
                         f"{pd.Series([s[1] for s in skips]).value_counts().to_dict()}): check the files")
    df = _assign_splits(df, seed, val_fraction, test_fraction, skips)
    out = df[COLUMNS].sort_values(["source", "path"], kind="stable").reset_index(drop=True)
    out["label"] = out["label"].astype(int)
    out["width"] = out["width"].astype(int)
    out["height"] = out["height"].astype(int)
    blended = {}
    if synthetic_fakes == "sbi":
        made = make_self_blended(out, out_dir / SBI_DIR, ratio=sbi_ratio, seed=seed)
        blended = {"made": len(made.rows), **{reason: n for reason, n in made.skips.items()}}
        out = pd.concat([out, made.rows[COLUMNS]], ignore_index=True)
        out = out.sort_values(["source", "path"], kind="stable").reset_index(drop=True)
    duplicates = audit_leakage(out)

    report = BuildReport(manifest=str(manifest), data=str(data), data_is_synthetic=synthetic, seed=seed,
                         cap_per_class=cap_per_class, val_fraction=val_fraction, test_fraction=test_fraction)
    report.rows = len(out)
    report.sources = [name for name, _, _ in sources] + sorted(set(out["source"]) - {n for n, _, _ in sources})
    report.layouts = {name: kind for name, _, kind in sources}
    for source in report.sources:
        rows = out[out["source"] == source]
        report.counts[source] = {split: {word: int(((rows["split"] == split) & (rows["label"] == label)).sum())
                                         for label, word in LABEL_WORDS.items()} for split in SPLITS}
    for source, reason, path in sorted(skips):
        per = report.skipped.setdefault(source, {})
        per[reason] = per.get(reason, 0) + 1
        shown = report.examples.setdefault(reason, [])
        if len(shown) < MAX_EXAMPLES:
            shown.append(_rel(path, data))
    report.converted = converted
    report.faces = faces
    report.synthetic_fakes = synthetic_fakes
    report.self_blended = blended
    report.faces_rule = AUTO_RULE if faces == "auto" else ""
    report.face_sources = {source: asdict(info) for source, info in face_summary.items()}
    report.capped = capped
    prefix = str(data) + os.sep
    report.duplicates = [line.replace(prefix, "") for line in duplicates]
    report.duplicate_sets = len(duplicates)
    report.duplicate_files = int(out["sha256"].duplicated(keep=False).sum())

    # The three outputs describe one build, so they are written beside and swapped in together: a build that fails
    # or is interrupted at any point leaves the previous manifest and reports exactly as they were.
    with replace_together(outputs) as (csv, json_, txt):
        out.to_csv(csv, index=False, lineterminator="\n")
        report.manifest_sha256 = manifest_sha256(csv)
        report.seconds = time.perf_counter() - started
        json_.write_text(report.to_json(), encoding="utf-8")
        txt.write_text(report.to_text(), encoding="utf-8")
    return report


def load_manifest(path: str | Path = "build/splits.csv") -> pd.DataFrame:
    """Read a manifest written by `build_manifest`, with `label`, `width`, `height` as ints and the rest as str.

    Raises FileNotFoundError (telling you to run `make data`) when it is missing, ValueError when columns are missing.

    >>> df = load_manifest("build/splits.csv")  # doctest: +SKIP
    >>> df[df.split == "train"].label.mean()  # doctest: +SKIP
    0.5
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} not found: run `make data` (or `deepfake-zoo data --manifest {path}`)"
                                " first")
    df = pd.read_csv(path, dtype={"path": str, "source": str, "group": str, "split": str, "sha256": str},
                     keep_default_na=False)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"manifest {path} lacks the column(s) {missing}: rebuild it with `make data`")
    for column in ("label", "width", "height"):
        df[column] = df[column].astype(int)
    return df


def manifest_sha256(path: str | Path = "build/splits.csv") -> str:
    """SHA-256 of the manifest file's bytes: the fingerprint runs record to say which data they were trained on."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
