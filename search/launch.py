"""Start a configured search: check the storage, make sure a manifest exists, run the chosen engine.

The one path both the `search` command and the Python API (`deepfake_zoo.search(...)`) take, so they cannot drift.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from deepfake_zoo.search.config import SearchConfig

Log = Callable[[str], None]


def launch(config: SearchConfig, log: Log = print) -> dict[str, dict | None]:
    """Run the search `config` describes; returns {model name: its metrics, or None when it was skipped}."""
    if config.engine == "optuna" and not config.dry_run:
        from deepfake_zoo.search.storage import open_storage

        # Before the manifest is (re)built: a wrong URL or a silent database is one line, at once, not after it.
        open_storage(config.storage_url(), config.heartbeat)
    ensure_manifest(config, log)
    if config.engine == "kerastuner":
        from deepfake_zoo.search.kerastuner_engine import run_search
    else:
        from deepfake_zoo.search.study import run_search
    return run_search(config, log=log)


def ensure_manifest(config: SearchConfig, log: Log = print) -> None:
    """Build the manifest when data is given or none exists yet (then from the embedded synthetic demo)."""
    from deepfake_zoo.datasets.manifest import build_manifest

    if config.data or not Path(config.manifest).is_file():
        if not config.data:
            log(f"no manifest at {config.manifest} and no --data: using the synthetic demo dataset "
                "(it only shows the pipeline working; pass DATA=folder for real data)")
        build_manifest(config.data, config.manifest, seed=config.seed)
