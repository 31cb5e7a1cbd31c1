"""Search settings: one schema whose keys are the CLI flags, the Makefile knobs and the YAML keys alike.

The whole configuration is validated once, up front, before any data is read: a bad key answers with its name, the
value given and what is allowed, one line per bad key, instead of a TypeError deep in the estimate.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError
from pydantic import field_validator, model_validator

ENGINES = ("optuna", "kerastuner")
PRUNERS = ("median", "hyperband", "none", "always")


class ConfigError(ValueError):
    """A search setting is unknown or out of range."""


class SearchConfig(BaseModel):
    """Everything a search needs; `--image-size` on the CLI is `image_size` here and `IMAGE_SIZE` in the Makefile."""

    # Strict types: a quoted "3" in YAML is a mistake worth naming, not a number to guess at.
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)

    model: StrictStr = "cnn"
    manifest: StrictStr = "build/splits.csv"
    data: Optional[StrictStr] = None
    runs: StrictStr = "runs"
    cache_dir: StrictStr = "build/features"
    trials: StrictInt = Field(20, ge=1)
    timeout: Optional[StrictFloat] = Field(None, gt=0)
    epochs: StrictInt = Field(8, ge=1)
    image_size: Optional[StrictInt] = Field(None, ge=16)
    # One study per size, each in runs/<model>-<size>px/, then a table of them; the size is chosen on validation.
    compare_sizes: Optional[list[StrictInt]] = None
    # Appended to each run folder's (and default study's) name, so variants of one model sit side by side.
    # A word, not a flag: it starts with a letter or digit, so `--run-suffix 224px` reads on any command line.
    run_suffix: Optional[StrictStr] = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    batch_size: StrictInt = Field(32, ge=1)
    storage: Optional[StrictStr] = None
    seed: StrictInt = Field(0, ge=0)
    engine: Literal[ENGINES] = "optuna"
    pruner: Literal[PRUNERS] = "median"
    weights: Optional[Literal["imagenet", "none"]] = None
    augment_views: StrictInt = Field(2, ge=1)
    patience: StrictInt = Field(3, ge=1)
    train_sources: Optional[list[StrictStr]] = None
    # Cross-source protocol (DeepfakeBench): these sources never enter train or val and are scored whole at the end.
    holdout_sources: Optional[list[StrictStr]] = None
    leave_one_source_out: StrictBool = False
    # None: robustness.json for every run whose backbone has real (ImageNet) weights; true/false force it on/off.
    robustness: Optional[StrictBool] = None
    robustness_limit: Optional[StrictInt] = Field(500, ge=2)
    # 0 used to mean "no limit" silently; leaving the key out is how to ask for every image.
    limit: Optional[StrictInt] = Field(None, ge=1)
    study: Optional[StrictStr] = None
    heartbeat: StrictInt = Field(30, ge=1)
    mixed_precision: StrictBool = False
    xla: StrictBool = False
    # Fine-tune entries train their upper blocks from cached trunk activations instead of images (one-time cost).
    trunk_cache: StrictBool = False
    # The final val/test (and held-out) scores average each image with its mirror; trials are not affected.
    tta_flip: StrictBool = False
    # Hyperparameters pinned to one value for every trial ({"spectral": True}): the rest is searched as usual.
    fix: Optional[dict[StrictStr, Any]] = None
    dry_run: StrictBool = False
    keep_going: StrictBool = False

    @field_validator("train_sources", "holdout_sources", mode="before")
    @classmethod
    def _comma_list(cls, value):
        # The CLI's `--train-sources a,b` and YAML's `train_sources: a,b` mean a list, never the letters of a string.
        if isinstance(value, str):
            return [s.strip() for s in value.split(",") if s.strip()]
        return value

    @field_validator("compare_sizes", mode="before")
    @classmethod
    def _size_list(cls, value):
        # `--compare-sizes 128,224` and YAML's `compare_sizes: 128,224` mean a list of whole numbers.
        if isinstance(value, str) and all(s.strip().isdigit() for s in value.split(",")):
            return [int(s) for s in value.split(",")]
        return value  # anything else fails the list-of-whole-numbers check, with the one-line message of ALLOWED

    @field_validator("compare_sizes")
    @classmethod
    def _sizes_to_compare(cls, value):
        if value is None:
            return value
        if len(set(value)) < 2 or any(size < 16 for size in value):
            raise ValueError("compare_sizes needs two different sizes of 16px or more")
        return sorted(set(value))

    @field_validator("fix", mode="before")
    @classmethod
    def _fix_pairs(cls, value):
        # The CLI's repeated `--fix name=value` arrives as a list of strings; YAML reads each value's type.
        if isinstance(value, (list, tuple)):
            pairs = {}
            for item in value:
                name, sep, text = str(item).partition("=")
                if not sep or not name.strip():
                    raise ValueError(f"--fix takes name=value, got {item!r}")
                pairs[name.strip()] = yaml.safe_load(text) if text.strip() else None
            return pairs
        return value

    @field_validator("timeout", mode="before")
    @classmethod
    def _whole_seconds(cls, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    @model_validator(mode="after")
    def _sources_agree(self):
        # Only what can be judged without the manifest; unknown source names are checked against it (select_rows).
        if self.holdout_sources is not None and not self.holdout_sources:
            raise ValueError("holdout_sources is empty; name at least one source, e.g. --holdout-sources SOURCE")
        if self.holdout_sources and self.leave_one_source_out:
            raise ValueError("holdout_sources and leave_one_source_out both choose the held-out sources; pass one")
        if self.leave_one_source_out and self.train_sources:
            raise ValueError("leave_one_source_out trains on every source but the held-out one; drop train_sources")
        if self.compare_sizes and self.image_size is not None:
            raise ValueError("compare_sizes and image_size both set the input size; pass one")
        if self.compare_sizes and self.leave_one_source_out:
            raise ValueError("compare_sizes and leave_one_source_out each run several studies; run the "
                             "leave-one-source-out search once per --image-size instead")
        both = sorted(set(self.holdout_sources or ()) & set(self.train_sources or ()))
        if both:
            raise ValueError(f"source(s) {both} are both in train_sources and holdout_sources; a held-out source "
                             "cannot be trained on")
        return self

    def validate(self) -> "SearchConfig":
        """Kept for callers of the old dataclass: a SearchConfig is valid from the moment it exists."""
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
        return self.model_dump()


KEYS = tuple(SearchConfig.model_fields)

# What each key accepts, in the words the error message uses.
ALLOWED = {
    "model": "a model name, family, glob, comma list or 'all' (text)",
    "trials": "a whole number, at least 1",
    "timeout": "a number of seconds above 0",
    "epochs": "a whole number, at least 1",
    "image_size": "a whole number of pixels, at least 16 (leave it out for the model's own)",
    "compare_sizes": "two or more whole numbers of pixels, at least 16 each (CLI: --compare-sizes 128,224)",
    "run_suffix": "a letter or digit, then letters, digits, '.', '_' or '-' (e.g. 224px, for runs/<model>-224px/)",
    "batch_size": "a whole number, at least 1",
    "seed": "a whole number, at least 0",
    "engine": f"one of {', '.join(ENGINES)}",
    "pruner": f"one of {', '.join(PRUNERS)}",
    "weights": "imagenet or none",
    "augment_views": "a whole number, at least 1",
    "patience": "a whole number, at least 1",
    "train_sources": "a list of source names, or one comma-separated text",
    "holdout_sources": "a list of source names, or one comma-separated text",
    "leave_one_source_out": "true or false",
    "robustness": "true or false (leave it out: on for backbones with ImageNet weights)",
    "robustness_limit": "a whole number of test images, at least 2 (null for the whole test split)",
    "limit": "a whole number of images per split, at least 1 (leave it out for every image)",
    "heartbeat": "a whole number of seconds, at least 1",
    "mixed_precision": "true or false",
    "xla": "true or false",
    "trunk_cache": "true or false",
    "tta_flip": "true or false",
    "fix": "a mapping of hyperparameter names to values (CLI: --fix name=value, repeatable)",
    "dry_run": "true or false",
    "keep_going": "true or false",
}


def _problems(error: ValidationError, origin: str) -> ConfigError:
    lines = []
    seen = set()
    for item in error.errors():
        if not item["loc"]:
            # A check across keys (model_validator): its own sentence already names the keys and the fix.
            lines.append(str(item.get("ctx", {}).get("error", item["msg"])))
            continue
        key = str(item["loc"][0])
        if key in seen:
            continue
        seen.add(key)
        if item["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(KEYS)}"
            lines.append(f"unknown key {key!r}: {hint}")
            continue
        allowed = ALLOWED.get(key, "text")
        lines.append(f"{key}: {item['input']!r} is not allowed; expected {allowed}")
    return ConfigError(f"invalid search settings{origin}: " + "; ".join(lines))


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file as a mapping; a syntax error names the file and the line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"config file {path} is not valid YAML{where}: {problem}; fix the file and retry") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys to values, e.g. `trials: 20`")
    return {str(k).replace("-", "_"): v for k, v in values.items()}


EXPLICIT_FALSE = {"robustness"}


def make_config(cli_values: dict[str, Any], config_file: str | Path | None = None) -> SearchConfig:
    """Merge defaults < YAML file < command line (values given as None on the command line are 'not given').

    >>> make_config({"trials": 3}).trials
    3
    """
    merged: dict[str, Any] = {}
    if config_file:
        merged.update(load_yaml(config_file))
    # A store_true flag left off is False, which must not override the file; `--no-robustness` is a real False.
    merged.update({k: v for k, v in cli_values.items() if v is not None and (v is not False or k in EXPLICIT_FALSE)})
    origin = f" (defaults < {config_file} < command line)" if config_file else ""
    return build(merged, origin)


def build(values: dict[str, Any], origin: str = "") -> SearchConfig:
    try:
        return SearchConfig(**values)
    except ValidationError as err:
        raise _problems(err, origin) from None


def replace(config: SearchConfig, **changes: Any) -> SearchConfig:
    return build({**config.to_dict(), **changes})
