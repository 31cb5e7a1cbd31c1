"""Find datasets under a folder and list their files with labels, groups and (if given) splits.

Two on-disk layouts are read, the two the original notebook used:

- folder layout: `[Dataset/]{Train,Validation,Test}/{Real,Fake}/*` or a plain `[Dataset/]{Real,Fake}/*` with no split
  (folder names are matched case-insensitively; `val`/`valid`/`training`/`testing` are accepted too);
- metadata layout: `faces_224/` (any `faces*` folder) beside `metadata.csv` with columns `videoname, label, original`.

A folder passed as `--data` may itself be one dataset, or hold several dataset folders; the source name is always the
dataset folder's own name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

SPLIT_NAMES = {"train": "train", "training": "train", "validation": "val", "valid": "val", "val": "val",
               "test": "test", "testing": "test"}
LABEL_NAMES = {"real": 0, "fake": 1}
METADATA_LABELS = {"REAL": 0, "FAKE": 1}
EXPECTED = ("faces_224/ with metadata.csv, or Dataset/{Train,Validation,Test}/{Real,Fake}/, "
            "or a plain {Real,Fake}/ folder")


class DataLayoutError(ValueError):
    """The data folder is missing, empty, or holds no layout this package can read."""


@dataclass(frozen=True)
class Candidate:
    """One image file a layout lists: label 0 real / 1 fake, leakage group, and its given split (None = not split)."""

    path: Path
    label: int
    source: str
    group: str
    split: str | None = None


@dataclass
class Listing:
    """Everything a layout found in one source: candidate files and the files it had to skip (reason -> paths)."""

    source: str
    root: Path
    kind: str
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _children(folder: Path) -> dict[str, Path]:
    """Sub-folders keyed by lower-case name (hidden ones ignored); the first in sorted order wins a name clash."""
    out: dict[str, Path] = {}
    for child in sorted(folder.iterdir()):
        if child.is_dir() and not child.name.startswith("."):
            out.setdefault(child.name.lower(), child)
    return out


def _printable(path: str | Path) -> str:
    """`path` as text that can be written anywhere: bytes that are not UTF-8 are shown as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _files(folder: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """The files under `folder`, sorted; entries that cannot be images are added to `skipped` with their reason."""
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        reason = None
        if path.name.startswith("."):
            reason = "hidden_file"
        elif path.is_symlink() and not path.exists():
            reason = "broken_link"
        elif not path.is_file():
            # A FIFO would block the reader forever; sockets and devices are no images either.
            reason = "not_a_file"
        else:
            try:
                str(path).encode("utf-8")
            except UnicodeEncodeError:
                # Python keeps undecodable bytes as lone surrogates, which no UTF-8 file (the manifest) can hold.
                reason = "bad_file_name"
        if reason:
            skipped.append((reason, _printable(path)))
        else:
            files.append(path)
    return files


def _folder_root(folder: Path) -> tuple[Path, dict[str, Path]] | None:
    """Return (root, {split name -> folder}) when `folder` (or its `Dataset/` child) is in the folder layout.

    The split name is None for a plain {Real,Fake} folder.
    """
    children = _children(folder)
    for root in ([children["dataset"]] if "dataset" in children else []) + [folder]:
        sub = _children(root)
        splits = {SPLIT_NAMES[name]: path for name, path in sub.items()
                  if name in SPLIT_NAMES and set(_children(path)) & set(LABEL_NAMES)}
        if splits:
            return root, splits
        if set(sub) & set(LABEL_NAMES):
            return root, {None: root}
    return None


def _metadata_files(folder: Path) -> tuple[Path, Path] | None:
    csv = next((p for p in sorted(folder.iterdir()) if p.is_file() and p.name.lower() == "metadata.csv"), None)
    if csv is None:
        return None
    faces = [path for name, path in _children(folder).items() if name.startswith("faces")]
    return (csv, faces[0]) if faces else None


def detect_layout(folder: Path) -> str | None:
    """Name the layout of `folder` ("metadata" or "folder"), or None when it holds neither."""
    if _metadata_files(folder):
        return "metadata"
    if _folder_root(folder):
        return "folder"
    return None


def discover(data: str | Path) -> list[tuple[str, Path, str]]:
    """List the datasets in `data` as (source name, folder, layout kind), sorted by name.

    Raises DataLayoutError naming the path and the expected layouts when nothing readable is found.
    """
    root = Path(data).expanduser()
    if not root.is_dir():
        raise DataLayoutError(f"data folder {root} does not exist: pass DATA=<folder holding {EXPECTED}> "
                              "or run `make data KAGGLE=1`")
    kind = detect_layout(root)
    if kind:
        _check_utf8_name(root.resolve())
        return [(root.resolve().name, root, kind)]
    found = []
    for child in _children(root).values():
        kind = detect_layout(child)
        if kind:
            _check_utf8_name(child)
            found.append((child.name, child, kind))
    if not found:
        state = "is empty" if not any(root.iterdir()) else "holds no dataset"
        raise DataLayoutError(f"data folder {root} {state}: expected {EXPECTED} (in it or in its sub-folders); "
                              "run `make data KAGGLE=1` or pass DATA=path")
    return sorted(found, key=lambda item: item[0])


def _check_utf8_name(folder: Path) -> None:
    # A bad file name is one skipped file; a bad folder name would make every file of a dataset unwritable in the
    # UTF-8 manifest (its source name and all its paths), so it stops the build instead, naming the folder.
    try:
        str(folder.absolute()).encode("utf-8")
    except UnicodeEncodeError:
        raise DataLayoutError(f"dataset folder {_printable(folder.absolute())} has a name that is not valid UTF-8, "
                              "which the manifest cannot hold: rename it") from None


def read_folder_layout(source: str, folder: Path) -> Listing:
    """List a folder-layout dataset; each file is its own group (identical files are joined later by hash)."""
    found = _folder_root(folder)
    if found is None:
        raise DataLayoutError(f"{folder} is not in the folder layout: expected {EXPECTED}")
    root, splits = found
    listing = Listing(source, folder, "folder")
    for split, split_dir in sorted(splits.items(), key=lambda kv: str(kv[0])):
        for name, label_dir in _children(split_dir).items():
            if name not in LABEL_NAMES:
                continue
            for path in _files(label_dir, listing.skipped):
                rel = path.relative_to(root).as_posix()
                listing.candidates.append(Candidate(path, LABEL_NAMES[name], source, f"{source}/{rel}", split))
    return listing


def read_metadata_csv(csv: Path) -> pd.DataFrame:
    """Read a metadata.csv as text columns; raises DataLayoutError naming the file when it cannot be parsed.

    A bad metadata.csv stops the whole build rather than dropping its dataset: without labels none of its files can be
    counted, and a manifest that silently lost a source would change every model's training and test data.
    """
    fix = (f"fix or replace it (or move its dataset folder {csv.parent.name}/ out of the data folder to build "
           "without it)")
    try:
        table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataLayoutError(f"{csv} is empty: expected a header 'videoname,label,original' and one row per video; "
                              f"{fix}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        # pandas' own words say where (line and field counts); the sentence around them names the file and the fix.
        detail = " ".join(str(exc).split())
        raise DataLayoutError(f"{csv} is not a readable CSV ({detail}); {fix}") from None
    except OSError as exc:
        raise DataLayoutError(f"{csv} could not be read ({exc.strerror or exc}); {fix}") from None
    return table


def read_metadata_layout(source: str, folder: Path) -> Listing:
    """List a metadata-layout dataset: the label comes from metadata.csv, a fake is grouped with its `original`.

    Rows whose image is missing, images without a row, and unknown labels are recorded in `Listing.skipped`.
    """
    found = _metadata_files(folder)
    if found is None:
        raise DataLayoutError(f"{folder} is not in the metadata layout: expected faces_224/ with metadata.csv")
    csv, faces = found
    table = read_metadata_csv(csv)
    missing = {"videoname", "label"} - set(table.columns)
    if missing:
        raise DataLayoutError(f"{csv} lacks the column(s) {sorted(missing)}: expected videoname, label, original")
    if "original" not in table.columns:
        table["original"] = ""
    listing = Listing(source, folder, "metadata")
    table["stem"] = table["videoname"].map(lambda v: Path(v.strip()).stem)
    table["label_id"] = table["label"].str.strip().str.upper().map(METADATA_LABELS)
    # A video listed twice with different labels has no trustworthy label: drop all its rows.
    label_sets = table.groupby("stem")["label_id"].nunique(dropna=False)
    ambiguous = set(label_sets[label_sets > 1].index)
    images: dict[str, list[Path]] = {}
    for path in _files(faces, listing.skipped):
        images.setdefault(path.stem, []).append(path)
    seen: set[str] = set()
    for row in table.itertuples(index=False):
        if row.stem in seen:
            continue
        seen.add(row.stem)
        paths = images.get(row.stem)
        if not paths:
            listing.skipped.append(("missing_file", _printable(faces / f"{row.stem}.jpg")))
            continue
        if row.stem in ambiguous or pd.isna(row.label_id):
            listing.skipped.extend(("bad_label", str(p)) for p in paths)
            continue
        label = int(row.label_id)
        original = Path(row.original.strip()).stem if label == 1 and row.original.strip() else row.stem
        for path in paths:
            listing.candidates.append(Candidate(path, label, source, f"{source}/{original}", None))
    for stem, paths in sorted(images.items()):
        if stem not in seen:
            listing.skipped.extend(("no_metadata_row", str(p)) for p in paths)
    return listing


def read_source(source: str, folder: Path, kind: str) -> Listing:
    """Read one discovered dataset with the reader for its layout kind."""
    return read_metadata_layout(source, folder) if kind == "metadata" else read_folder_layout(source, folder)
