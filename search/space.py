"""Turn a zoo entry's declared search space (pure data) into Optuna suggestions or Keras Tuner hyperparameters."""
from __future__ import annotations

from typing import Any, Mapping

from deepfake_zoo.zoo.search_space import Categorical, Float, Int


def fixed_space(space: Mapping[str, Any], fix: Mapping[str, Any] | None) -> dict[str, Any]:
    """`space` with each `fix` name pinned to its value (a one-choice Categorical), checked against the declared
    range; raises ValueError naming the parameters there are, or the range a value is outside of."""
    out = dict(space)
    for name, value in (fix or {}).items():
        param = space.get(name)
        if param is None:
            raise ValueError(f"--fix {name}=...: no hyperparameter {name!r} in this model's search space; it has "
                             f"{', '.join(sorted(space))}")
        if isinstance(param, Categorical):
            matches = [c for c in param.choices if c == value and type(c) is type(value)]
            if not matches:
                raise ValueError(f"--fix {name}={value!r}: choose one of {list(param.choices)}")
        elif isinstance(param, (Float, Int)):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not number or not param.low <= value <= param.high or (isinstance(param, Int) and value != int(value)):
                kind = "a whole number" if isinstance(param, Int) else "a number"
                raise ValueError(f"--fix {name}={value!r}: give {kind} from {param.low} to {param.high}")
            value = int(value) if isinstance(param, Int) else float(value)
        out[name] = Categorical((value,))
    return out


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
        elif isinstance(p, Categorical) and len(p.choices) == 1:
            params[name] = hp.Fixed(name, p.choices[0])
        elif isinstance(p, Categorical) and all(isinstance(c, bool) for c in p.choices):
            # Keras Tuner's Choice turns booleans into 0/1; Boolean keeps them what the space and metrics.json say.
            params[name] = hp.Boolean(name, default=bool(p.default_value()))
        elif isinstance(p, Categorical):
            params[name] = hp.Choice(name, list(p.choices))
        else:
            raise TypeError(f"search space entry {name!r} has unsupported type {type(p).__name__}")
    return params
