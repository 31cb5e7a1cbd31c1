"""Run a hyperparameter search per model on the shared split and write runs/<model>/ (metrics, predictions, model).

MODEL may be a registered name (mobilenet_v2_frozen), a family (inception), a glob (resnet50_*), a comma list or
`all`. Without a manifest, `--data` builds one first; with neither, the synthetic demo dataset is generated so the
pipeline can be seen working. Settings come from the defaults, then `--config FILE.yaml`, then these flags.
Several workers may run the same command against one `--storage` (e.g. postgresql://...) to share a study.
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--model", help="model name, family, glob, comma list or 'all' (default: cnn)")
    add("--config", help="YAML file with the same keys as these flags (image_size, trials, ...); flags win")
    add("--data", help="folder holding the datasets; (re)builds the manifest from it before searching")
    add("--manifest", help="split manifest to read (default: build/splits.csv)")
    add("--runs", help="results folder (default: runs)")
    add("--cache-dir", help="frozen-backbone feature cache (default: build/features)")
    add("--trials", type=int, help="finished trials wanted in the study (default: 20)")
    add("--timeout", type=float, help="stop starting new trials after this many seconds")
    add("--epochs", type=int, help="maximum epochs per trial (default: 8)")
    add("--image-size", type=int, help="input size in pixels (default: the model's own)")
    add("--compare-sizes", help="comma list of input sizes (e.g. 128,224): one study per size, each in "
        "runs/<model>-<size>px/, then a table of validation and test ROC AUC per size; the size is chosen on "
        "validation")
    add("--run-suffix", help="appended with a '-' to each run folder and default study name (e.g. 224px: "
        "runs/<model>-224px/), so variants of one model sit side by side")
    add("--batch-size", type=int, help="batch size (default: 32)")
    add("--storage", help="Optuna storage URL (default: sqlite under the runs folder); share it to add workers")
    add("--study", help="study name (default: the model name)")
    add("--seed", type=int, help="seed for the sampler, splits of work and weights (default: 0)")
    add("--engine", choices=("optuna", "kerastuner"), help="search engine (default: optuna)")
    add("--pruner", choices=("median", "hyperband", "none"), help="Optuna pruner (default: median)")
    add("--weights", choices=("imagenet", "none"), help="backbone weights (default: the model's own, imagenet)")
    add("--augment-views", type=int, help="cached views per training image for frozen backbones, the first one "
        "clean, used in turn by epoch (default: 2; 1 turns augmentation off)")
    add("--patience", type=int, help="epochs without validation gain before a trial stops (default: 3)")
    add("--train-sources", help="comma list of sources to train on (test still covers every source)")
    add("--holdout-sources", help="comma list of sources never trained or validated on, scored whole after "
        "selection; results go to runs/<model>-holdout-<sources>/ beside the in-domain run")
    add("--leave-one-source-out", action="store_true", help="hold out each source of the manifest in turn (one "
        "study and run folder each) and print in-domain beside held-out ROC AUC")
    add("--robustness", action=argparse.BooleanOptionalAction, default=None, help="after each model's search, "
        "write robustness.json (ROC AUC under JPEG, blur, downscale and noise on test images); default: on for "
        "backbones with ImageNet weights, off otherwise")
    add("--robustness-limit", type=int, help="test images scored for --robustness (default: 500)")
    add("--limit", type=int, help="at most this many images per split, seeded and stratified (quick runs)")
    add("--mixed-precision", action="store_true", help="train in mixed float16 on a GPU (ignored with a warning "
        "on a CPU, where it is slower); recorded in metrics.json")
    add("--xla", action="store_true", help="compile training steps with XLA (off by default); recorded in metrics.json")
    add("--trunk-cache", action="store_true", help="fine-tune entries: cache the frozen lower blocks' activations "
        "once and train only the upper blocks and head from them (several times faster a trial on a CPU)")
    add("--tta-flip", action="store_true", help="score the final validation, test and held-out images as the mean "
        "over each image and its mirror (threshold and temperature chosen on those scores); recorded in "
        "metrics.json, and predict, serve and evaluate then do the same with this run")
    add("--fix", action="append", metavar="NAME=VALUE", help="pin one hyperparameter of the search space for every "
        "trial (repeatable; e.g. --fix spectral=true --fix augment=flip); the others are searched")
    add("--dry-run", action="store_true", help="only print the estimated duration")
    add("--keep-going", action="store_true", help="with several models, skip one whose weights are unavailable")


def run(args: argparse.Namespace) -> int:
    from deepfake_zoo.search.config import make_config
    from deepfake_zoo.search.launch import launch

    values = {k: v for k, v in vars(args).items() if not k.startswith("_") and k not in ("command", "config")}
    config = make_config(values, args.config)
    # The command refreshes the leaderboard afterwards from the folder the search really wrote (YAML may name it).
    args.runs, args.dry_run = config.runs, config.dry_run
    try:
        launch(config)
    except KeyboardInterrupt as interrupt:
        # Ctrl-C is a normal way to stop a long search: one line saying what survives, and the shell's code 130.
        message = str(interrupt) or (f"interrupted; finished trials stay in their study and finished results in "
                                     f"{config.runs}/; run the same command again to resume")
        print(f"deepfake-zoo search: {message}", file=sys.stderr)
        return 130
    return 0
