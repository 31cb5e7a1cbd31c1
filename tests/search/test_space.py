"""A declared space samples the same types in both engines: a yes/no switch (the spectral branch) stays a bool."""
from __future__ import annotations

import keras_tuner as kt
import optuna

from deepfake_zoo.search.space import kerastuner_values, suggest
from deepfake_zoo.zoo.search_space import Categorical, Float, Int

SPACE = {"learning_rate": Float(1e-4, 1e-2, log=True), "units": Int(32, 64, step=32),
         "augment": Categorical(("none", "flip")), "spectral": Categorical((True, False), default=True)}


def test_optuna_samples_every_value_of_a_switch_as_a_bool():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))  # seeded
    seen = set()
    for _ in range(12):
        params = suggest(study.ask(), SPACE)
        assert isinstance(params["spectral"], bool) and params["augment"] in ("none", "flip")
        seen.add(params["spectral"])
    assert seen == {True, False}


def test_keras_tuner_declares_a_switch_as_a_boolean_with_its_default():
    hp = kt.HyperParameters()
    values = kerastuner_values(hp, SPACE)
    assert values["spectral"] is True and type({p.name: p for p in hp.space}["spectral"]).__name__ == "Boolean"
    assert values["augment"] == "none" and 32 <= values["units"] <= 64
    flipped = kt.HyperParameters()
    flipped.values["spectral"] = False
    assert kerastuner_values(flipped, SPACE)["spectral"] is False
