"""Search settings: YAML keys equal the CLI flags, the command line wins, unknown keys are errors."""
from __future__ import annotations

import pytest

from deepfake_zoo.search.config import ConfigError, make_config


def test_yaml_then_cli_precedence(tmp_path):
    cfg = tmp_path / "search.yaml"
    cfg.write_text("model: inception\ntrials: 7\nimage-size: 96\nepochs: 3\n")
    config = make_config({"trials": 11, "epochs": None}, cfg)
    assert (config.model, config.trials, config.image_size, config.epochs) == ("inception", 11, 96, 3)


def test_unknown_yaml_key_is_an_error_naming_it(tmp_path):
    cfg = tmp_path / "search.yaml"
    cfg.write_text("trials: 3\nlearning_rte: 0.1\n")
    with pytest.raises(ConfigError, match="learning_rte"):
        make_config({}, cfg)


@pytest.mark.parametrize("values", [{"trials": 0}, {"engine": "grid"}, {"pruner": "sometimes"}, {"image_size": 4}])
def test_out_of_range_values_are_rejected(values):
    with pytest.raises(ConfigError):
        make_config(values)


def test_default_storage_is_embedded_sqlite_under_runs(tmp_path):
    config = make_config({"runs": str(tmp_path / "runs")})
    assert config.storage_url() == f"sqlite:///{(tmp_path / 'runs' / 'optuna.db').resolve()}"
