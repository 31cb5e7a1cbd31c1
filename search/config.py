"""Search settings: one dataclass whose keys are the CLI flags, the Makefile knobs and the YAML keys alike."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

ENGINES = ("optuna", "kerastuner")
PRUNERS = ("median", "hyperband", "none", "always")


class ConfigError(ValueError):
    """A search setting is unknown or out of range."""


@dataclass
class SearchConfig:
    """Everything a search needs; `--image-size` on the CLI is `image_size` here and `IMAGE_SIZE` in the Makefile."""

    model: str = "cnn"
    manifest: str = "build/splits.csv"
    data: str | None = None
    runs: str = "runs"
    cache_dir: str = "build/features"
    trials: int = 20
    timeout: float | None = None
    epochs: int = 8
    image_size: int | None = None
    batch_size: int = 32
    storage: str | None = None
    seed: int = 0
    engine: str = "optuna"
    pruner: str = "median"
    weights: str | None = None
    augment_views: int = 2
    patience: int = 3
    train_sources: list[str] | None = None
    limit: int | None = None
    study: str | None = None
    heartbeat: int = 30
    dry_run: bool = False
    keep_going: bool = False

    def validate(self) -> "SearchConfig":
        if self.engine not in ENGINES:
            raise ConfigError(f"unknown engine {self.engine!r}: choose one of {', '.join(ENGINES)}")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"unknown pruner {self.pruner!r}: choose one of {', '.join(PRUNERS)}")
        for name in ("trials", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.image_size is not None and self.image_size < 16:
            raise ConfigError(f"image_size must be at least 16 pixels, got {self.image_size}")
        if self.augment_views < 1:
            raise ConfigError(f"augment_views must be at least 1, got {self.augment_views}")
        return self

    @property
    def runs_dir(self) -> Path:
        return Path(self.runs)

    def storage_url(self) -> str:
        """The Optuna storage: the given RDB URL, else an embedded SQLite file under the runs folder."""
        if self.storage:
            return self.storage
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.runs_dir / 'optuna.db').resolve()}"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


KEYS = tuple(f.name for f in fields(SearchConfig))


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file; an unknown key is an error naming it and the keys allowed."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys to values, e.g. `trials: 20`")
    values = {str(k).replace("-", "_"): v for k, v in values.items()}
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) in {path}: {', '.join(unknown)}; allowed: {', '.join(KEYS)}")
    return values


def make_config(cli_values: dict[str, Any], config_file: str | Path | None = None) -> SearchConfig:
    """Merge defaults < YAML file < command line (values given as None on the command line are 'not given')."""
    merged: dict[str, Any] = {}
    if config_file:
        merged.update(load_yaml(config_file))
    unknown = sorted(set(cli_values) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    merged.update({k: v for k, v in cli_values.items() if v is not None and v is not False})
    config = SearchConfig(**merged)
    return config.validate()


def replace(config: SearchConfig, **changes: Any) -> SearchConfig:
    return dataclasses.replace(config, **changes).validate()
