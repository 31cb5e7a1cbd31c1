"""The Python API: the same four steps as the CLI, with the same names and defaults, for notebooks.

>>> import deepfake_zoo as dz
>>> report = dz.build_split()                                  # the synthetic demo; data="/kaggle/input" for real data
>>> results = dz.search("cnn", image_size=32, trials=2)        # {model name: its metrics.json contents}
>>> page = dz.render_leaderboard()                             # leaderboard/index.html
>>> verdicts = dz.predict(["face.jpg"])                        # one Verdict per input (label, prob_fake, ...)

Each function imports its room only when called, so `import deepfake_zoo` stays light. Every function raises the same
one-sentence errors (OSError, ValueError, LookupError, RuntimeError) the CLI prints.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from deepfake_zoo.quiet import import_tensorflow_quietly

DEFAULT_MANIFEST = "build/splits.csv"
DEFAULT_RUNS = "runs"
DEFAULT_PAGE = "leaderboard/index.html"


def build_split(data: str | Path | None = None, manifest: str | Path = DEFAULT_MANIFEST, *, seed: int = 0,
                cap_per_class: int = 16000, val_fraction: float = 0.15, test_fraction: float = 0.15,
                kaggle: bool = False, faces: str = "none", synthetic_fakes: str = "none", sbi_ratio: float = 0.25):
    """Build the shared leakage-free split (`deepfake-zoo data`); returns the build report.

    `data` is a folder holding datasets in the Kaggle layouts (None: generate the synthetic demo); with `kaggle`, the
    two datasets are first downloaded into it with kagglehub. `faces` ("none", "crop", "auto") is `--faces`: train
    on each image's largest face cropped like the training crops instead of the whole image. `synthetic_fakes="sbi"`
    adds self-blended fakes from a `sbi_ratio` share of the real training faces to the training split only. The
    report's `to_text()` is what the CLI prints.

    >>> build_split("/kaggle/input", "build/splits.csv").to_text()   # doctest: +SKIP
    """
    from deepfake_zoo.datasets.manifest import build_manifest

    if kaggle:
        from deepfake_zoo.datasets.kaggle import download_kaggle

        data = data or "data"
        download_kaggle(data)
    return build_manifest(data, manifest, seed=seed, cap_per_class=cap_per_class, val_fraction=val_fraction,
                          test_fraction=test_fraction, faces=faces, synthetic_fakes=synthetic_fakes,
                          sbi_ratio=sbi_ratio)


def search(model: str = "cnn", *, config: str | Path | None = None, data: str | Path | None = None,
           manifest: str | Path = DEFAULT_MANIFEST, leaderboard: bool = True, log=print,
           **settings: Any) -> dict[str, dict | None]:
    """Run the hyperparameter search of every model `model` names (`deepfake-zoo search`); returns their metrics.

    `settings` are the CLI's flags as keywords (`trials=20`, `image_size=128`, `storage="sqlite:///..."`, ...), over
    the YAML `config` file, over the defaults. Without a manifest (or with `data`), the split is built first, from the
    synthetic demo when there is no data. With `leaderboard`, the page is refreshed afterwards.

    >>> search("mobilenet_v2_frozen", image_size=128, trials=30)["mobilenet_v2_frozen"]["roc_auc"]   # doctest: +SKIP
    """
    import_tensorflow_quietly()
    from deepfake_zoo.search.config import make_config
    from deepfake_zoo.search.launch import launch

    # Paths are welcome in Python; the configuration holds their text.
    values = {k: str(v) if isinstance(v, Path) else v
              for k, v in {"model": model, "data": data, "manifest": manifest, **settings}.items()}
    cfg = make_config(values, config)
    results = launch(cfg, log=log)
    if leaderboard and not cfg.dry_run:
        log(f"leaderboard: {render_leaderboard(cfg.runs)}")
    return results


def ensemble(top_k: int = 3, *, runs: str | Path = DEFAULT_RUNS, name: str | None = None,
             models: str | None = None) -> dict:
    """Average the calibrated P(fake) of the `top_k` runs best on validation into a run (`deepfake-zoo ensemble`).

    >>> ensemble(3)["members"]   # doctest: +SKIP
    ['mobilenet_v2_frozen', 'mobilenet_v2_spectral_frozen', 'cnn']
    """
    import_tensorflow_quietly()
    from deepfake_zoo.search.ensemble import build_ensemble

    return build_ensemble(runs, top_k=top_k, name=name, models=models)


def render_leaderboard(runs: str | Path = DEFAULT_RUNS, out: str | Path = DEFAULT_PAGE,
                       rank_by: str | None = None) -> Path:
    """Write the self-contained leaderboard page from the results under `runs` (`deepfake-zoo leaderboard`).

    >>> render_leaderboard("runs", "leaderboard/index.html", rank_by="accuracy")   # doctest: +SKIP
    PosixPath('leaderboard/index.html')
    """
    from deepfake_zoo.leaderboard.render import build_leaderboard

    return Path(build_leaderboard(runs, rank_by).write(out))


def predict(paths: str | Path | Iterable[str | Path], *, model: str | None = None, runs: str | Path = DEFAULT_RUNS,
            rank_by: str | None = None, batch_size: int = 32, faces: str = "auto", tta_flip: bool = False,
            frames: int = 16) -> list:
    """Say whether images, folders and videos are deepfaked (`deepfake-zoo predict`); one Verdict per input.

    The model is the best run under `runs` by `rank_by` (None: validation ROC AUC, as the page ranks), or `model`.
    `faces` ("auto", "crop", "none") is how faces are found and cropped; `tta_flip` averages each image with its
    mirror; `frames` are sampled per video.

    >>> [(v.path, v.label, v.prob_fake) for v in predict("face.jpg")]   # doctest: +SKIP
    """
    import_tensorflow_quietly()
    from deepfake_zoo.predict.models import choose_run
    from deepfake_zoo.predict.scoring import Predictor

    if isinstance(paths, (str, Path)):
        paths = [paths]
    chosen = choose_run(runs, model=model, rank_by=rank_by)
    predictor = Predictor(chosen, batch_size=batch_size, faces=faces, flip=tta_flip)
    return predictor.predict_paths([str(p) for p in paths], frames=frames)
