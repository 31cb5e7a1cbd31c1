"""A declared space samples the same types in both engines: a yes/no switch (the spectral branch) stays a bool."""
from __future__ import annotations

import keras_tuner as kt
import pandas as pd
import pytest
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


def test_fix_pins_a_parameter_to_one_value_checked_against_its_range():
    from deepfake_zoo.search.space import fixed_space

    pinned = fixed_space(SPACE, {"spectral": True, "units": 64, "learning_rate": 0.001})
    assert pinned["spectral"] == Categorical((True,)) and pinned["units"] == Categorical((64,))
    assert pinned["augment"] == SPACE["augment"]  # the rest is searched as before
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))  # seeded
    assert all(suggest(study.ask(), pinned)["spectral"] is True for _ in range(6))
    values = kerastuner_values(kt.HyperParameters(), pinned)
    assert values["spectral"] is True and values["units"] == 64 and values["learning_rate"] == 0.001
    for fix, message in (({"colour": 1}, "no hyperparameter 'colour'.*augment, learning_rate, spectral, units"),
                         ({"spectral": 1}, r"choose one of \[True, False\]"),
                         ({"units": 48.5}, "a whole number from 32 to 64"),
                         ({"learning_rate": 1.0}, "a number from 0.0001 to 0.01")):
        with pytest.raises(ValueError, match=message):
            fixed_space(SPACE, fix)


def test_fix_comes_from_the_cli_as_name_value_pairs_and_splits_studies(config_for):
    from deepfake_zoo.search.config import ConfigError, make_config
    from deepfake_zoo.search.study import StudyMismatchError, run_model_search

    assert make_config({"fix": ["spectral=true", "augment=flip", "dropout=0.25"]}).fix == {
        "spectral": True, "augment": "flip", "dropout": 0.25}
    with pytest.raises(ConfigError, match="name=value"):
        make_config({"fix": ["spectral"]})
    config = config_for(model="tiny_search_frozen", trials=2, epochs=1, fix=["augment=flip", "head_units=8"])
    metrics = run_model_search("tiny_search_frozen", config, log=lambda _: None)
    trials = pd.read_csv(config.runs_dir / "tiny_search_frozen" / "trials.csv")
    assert set(trials["params_augment"]) == {"flip"} and set(trials["params_head_units"]) == {8}
    assert metrics["best_params"]["augment"] == "flip"
    # The same study name with other pinned values would mix incomparable trials: refused.
    with pytest.raises(StudyMismatchError, match="fix"):
        run_model_search("tiny_search_frozen", config_for(model="tiny_search_frozen", trials=3, epochs=1,
                                                          fix=["augment=none"]), log=lambda _: None)
    with pytest.raises(ValueError, match="no hyperparameter 'colour'"):
        run_model_search("tiny_search_frozen", config_for(model="tiny_search_frozen", trials=1, epochs=1,
                                                          fix=["colour=1"], study="other"), log=lambda _: None)
