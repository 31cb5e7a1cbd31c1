"""Hyperparameter search spaces as plain data: each zoo entry declares one, the search maps it to Optuna/Keras Tuner.

Names are the same project-wide: `learning_rate`, `head_units`, `dropout`, `augment`, and for fine-tuned entries
`unfreeze_blocks` and `backbone_lr_ratio`.

>>> space = standard_space(frozen=True)
>>> space["learning_rate"]
Float(low=0.0001, high=0.01, log=True, default=0.001)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

# The augmentation policies are defined once, by the pipeline that applies them; re-exported for zoo entries.
from deepfake_zoo.datasets.pipeline import AUGMENTATIONS, FROZEN_AUGMENTATIONS, SEARCHED_AUGMENTATIONS


@dataclass(frozen=True)
class Float:
    """A real number in [low, high], sampled log-uniformly when `log`; `default` is the value used without a search."""

    low: float
    high: float
    log: bool = False
    default: float | None = None

    def __post_init__(self):
        if not self.low <= self.high:
            raise ValueError(f"Float range [{self.low}, {self.high}] is empty: pass low <= high")
        if self.log and self.low <= 0:
            raise ValueError(f"Float(log=True) needs low > 0, got {self.low}: use a positive lower bound")

    def default_value(self) -> float:
        if self.default is not None:
            return self.default
        return (self.low * self.high) ** 0.5 if self.log else (self.low + self.high) / 2


@dataclass(frozen=True)
class Int:
    """An integer in [low, high] on a grid of `step`; `default` is the value used without a search."""

    low: int
    high: int
    step: int = 1
    default: int | None = None

    def __post_init__(self):
        if not self.low <= self.high:
            raise ValueError(f"Int range [{self.low}, {self.high}] is empty: pass low <= high")
        if self.step < 1:
            raise ValueError(f"Int step must be >= 1, got {self.step}")

    def default_value(self) -> int:
        return self.default if self.default is not None else self.low


@dataclass(frozen=True)
class Categorical:
    """One of `choices` (a tuple of str/int/float/bool); `default` is the value used without a search (else the first)."""

    choices: tuple
    default: Any = None

    def __post_init__(self):
        if not isinstance(self.choices, tuple) or not self.choices:
            raise ValueError(f"Categorical choices must be a non-empty tuple, got {self.choices!r}")
        if self.default is not None and self.default not in self.choices:
            raise ValueError(f"Categorical default {self.default!r} is not one of {self.choices}")

    def default_value(self) -> Any:
        return self.default if self.default is not None else self.choices[0]


Param = Union[Float, Int, Categorical]


def standard_space(frozen: bool, unfreeze_max: int | None = None, spectral: bool = False) -> dict[str, Param]:
    """The project's usual search space: learning rate, head, dropout, augmentation, and fine-tuning knobs.

    `frozen=True` gives the head-only space with the few augmentations a feature cache can afford; pass
    `unfreeze_max` (the most backbone blocks worth unfreezing) for fine-tuned entries to add `unfreeze_blocks` and
    `backbone_lr_ratio`; `spectral=True` (entries with a frequency branch) lets the search switch that branch on or
    off (`spectral`). Entries may copy and edit the returned dict.
    """
    space: dict[str, Param] = {
        # A head on cached features trains in few steps from normalised inputs: below 1e-4 it barely moves in the
        # epochs a search affords (measured on the real crops); whole networks keep the wider range.
        "learning_rate": (Float(1e-4, 1e-2, log=True, default=1e-3) if frozen
                          else Float(1e-5, 1e-2, log=True, default=1e-3)),
        "head_units": Int(32, 512, step=32, default=128),
        "dropout": Float(0.0, 0.5, default=0.2),
        "augment": (Categorical(FROZEN_AUGMENTATIONS, default="none") if frozen
                    else Categorical(SEARCHED_AUGMENTATIONS, default="flip")),
    }
    if unfreeze_max is not None:
        space["unfreeze_blocks"] = Int(1, unfreeze_max, default=min(2, unfreeze_max))
        space["backbone_lr_ratio"] = Float(0.01, 1.0, log=True, default=0.1)
    if spectral:
        space["spectral"] = Categorical((True, False), default=True)
    return space
