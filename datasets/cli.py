"""Build the shared leakage-free split manifest (build/splits.csv) and its report from a folder of datasets.

--data may be one dataset or a folder holding several (faces_224/ + metadata.csv, or Dataset/{Train,Validation,Test}/
{Real,Fake}/, or a plain {Real,Fake}/ folder). Without --data a small synthetic demo dataset is generated under
build/demo-data/ and used, and the report says so. --kaggle first downloads both Kaggle datasets into --data.
--faces crop replaces every image by its largest face cropped like the training crops (build/faces/, cached by
content; images without a face are counted skips); --faces auto does that only for sources that are not already
face crops; --faces none (default) uses every image whole.
"""
from __future__ import annotations

import argparse
import sys

DEFAULT_KAGGLE_DIR = "data"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", default=None, metavar="PATH",
                        help="folder holding one or more datasets (default: generate the synthetic demo)")
    parser.add_argument("--manifest", default="build/splits.csv", metavar="PATH",
                        help="manifest to write; report.json and report.txt go beside it (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the cap, the split and the demo (default: 0)")
    parser.add_argument("--cap-per-class", type=int, default=16000, metavar="N",
                        help="keep at most N random images per class and source; 0 = no cap (default: %(default)s)")
    parser.add_argument("--val-fraction", type=float, default=0.15,
                        help="validation share for sources without their own split (default: %(default)s)")
    parser.add_argument("--test-fraction", type=float, default=0.15,
                        help="test share for sources without their own split (default: %(default)s)")
    parser.add_argument("--faces", choices=("none", "crop", "auto"), default="none",
                        help="crop: train on the largest face of every image, cropped like the training crops "
                             "(images without a face are skipped); auto: only for sources that are not already face "
                             "crops; none: every image whole (default: %(default)s)")
    parser.add_argument("--synthetic-fakes", choices=("none", "sbi"), default="none",
                        help="sbi: add self-blended fakes made from real training faces to the training split only "
                             "(default: %(default)s)")
    parser.add_argument("--sbi-ratio", type=float, default=0.25,
                        help="share of the real training images to blend, in (0, 1] (default: %(default)s)")
    parser.add_argument("--kaggle", action="store_true",
                        help=f"download dagnelies/deepfake-faces and manjilkarki/deepfake-and-real-images into "
                             f"--data (default {DEFAULT_KAGGLE_DIR}/) with kagglehub first")


def run(args: argparse.Namespace) -> int:
    """Download (with --kaggle), build the manifest, print the report; 1 with one sentence on stderr on failure."""
    from deepfake_zoo.datasets.audit import LeakageError
    from deepfake_zoo.datasets.faces import DetectorUnavailableError
    from deepfake_zoo.datasets.kaggle import KaggleDownloadError, download_kaggle
    from deepfake_zoo.datasets.layouts import DataLayoutError
    from deepfake_zoo.datasets.manifest import build_manifest

    data = args.data
    try:
        if args.kaggle:
            data = data or DEFAULT_KAGGLE_DIR
            for folder in download_kaggle(data):
                print(f"kaggle: {folder} ready")
        report = build_manifest(data, args.manifest, seed=args.seed, cap_per_class=args.cap_per_class,
                                val_fraction=args.val_fraction, test_fraction=args.test_fraction, faces=args.faces,
                                synthetic_fakes=args.synthetic_fakes, sbi_ratio=args.sbi_ratio)
    except DetectorUnavailableError as exc:
        print(f"deepfake-zoo data: {exc} (or pass --faces none)", file=sys.stderr)
        return 1
    except LeakageError as exc:  # a ValueError too, so it is caught first: a leak is a bug, exit 2
        print(f"deepfake-zoo data: {exc}", file=sys.stderr)
        return 2
    except (DataLayoutError, KaggleDownloadError, FileExistsError, ValueError) as exc:
        print(f"deepfake-zoo data: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # build_manifest swaps its outputs in only at the very end, all together, so an interrupt before that
        # replaced nothing; images converted or cropped so far are content-addressed and reused by the next build.
        print(f"deepfake-zoo data: interrupted; {args.manifest} and its reports were not replaced (any previous ones "
              "are kept as they were, and images converted or cropped so far are reused); run the same command again "
              "to build", file=sys.stderr)
        return 130
    try:
        print(report.to_text(), end="")
    except KeyboardInterrupt:
        print(f"deepfake-zoo data: interrupted; {args.manifest} and its reports were already written in full",
              file=sys.stderr)
        return 130
    return 0
