"""Turn a zoo entry's declared search space (pure data) into Optuna suggestions or Keras Tuner hyperparameters."""
from __future__ import annotations

from typing import Any, Mapping

from deepfake_zoo.zoo.search_space import Categorical, Float, Int


def suggest(trial, space: Mapping[str, Any]) -> dict[str, Any]:
    """Sample one configuration from an Optuna trial."""
    params: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, Float):
            params[name] = trial.suggest_float(name, p.low, p.high, log=p.log)
        elif isinstance(p, Int):
            params[name] = trial.suggest_int(name, p.low, p.high, step=p.step)
        elif isinstance(p, Categorical):
            params[name] = trial.suggest_categorical(name, list(p.choices))
        else:
            raise TypeError(f"search space entry {name!r} has unsupported type {type(p).__name__}")
    return params


def kerastuner_values(hp, space: Mapping[str, Any]) -> dict[str, Any]:
    """Declare the same space on a Keras Tuner `HyperParameters` object and return its current values."""
    params: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, Float):
            params[name] = hp.Float(name, p.low, p.high, sampling="log" if p.log else "linear")
        elif isinstance(p, Int):
            params[name] = hp.Int(name, p.low, p.high, step=p.step)
        elif isinstance(p, Categorical) and all(isinstance(c, bool) for c in p.choices):
            # Keras Tuner's Choice turns booleans into 0/1; Boolean keeps them what the space and metrics.json say.
            params[name] = hp.Boolean(name, default=bool(p.default_value()))
        elif isinstance(p, Categorical):
            params[name] = hp.Choice(name, list(p.choices))
        else:
            raise TypeError(f"search space entry {name!r} has unsupported type {type(p).__name__}")
    return params
