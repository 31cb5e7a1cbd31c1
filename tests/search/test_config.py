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


def write(tmp_path, text: str):
    cfg = tmp_path / "search.yaml"
    cfg.write_text(text)
    return cfg


def test_yaml_syntax_error_is_one_sentence_naming_the_file_and_line(tmp_path):
    cfg = write(tmp_path, "trials: 3\nepochs: [1, 2\nmodel: cnn\n")
    with pytest.raises(ConfigError, match=r"search.yaml is not valid YAML at line \d+") as caught:
        make_config({}, cfg)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("line, key, value", [
    ("image_size: big", "image_size", "'big'"),
    ("trials: [1, 2]", "trials", "[1, 2]"),
    ('augment_views: "2"', "augment_views", "'2'"),
    ("model: 7", "model", "7"),
    ('epochs: "3"', "epochs", "'3'"),
    ("trials: abc", "trials", "'abc'"),
    ("limit: -5", "limit", "-5"),
    ("mixed_precision: maybe", "mixed_precision", "'maybe'"),
])
def test_wrong_types_name_the_key_the_value_and_what_is_allowed(tmp_path, line, key, value):
    with pytest.raises(ConfigError) as caught:
        make_config({}, write(tmp_path, line + "\n"))
    message = str(caught.value)
    assert f"{key}: {value} is not allowed; expected " in message
    assert "\n" not in message


def test_every_bad_key_is_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as caught:
        make_config({}, write(tmp_path, "image_size: big\nepochs: '3'\ntrails: 4\n"))
    message = str(caught.value)
    assert "image_size: 'big'" in message and "epochs: '3'" in message
    assert "unknown key 'trails': did you mean 'trials'?" in message


def test_a_single_train_source_is_one_source_not_its_letters(tmp_path):
    config = make_config({}, write(tmp_path, "train_sources: demo\n"))
    assert config.train_sources == ["demo"]
    assert make_config({"train_sources": "a, b"}).train_sources == ["a", "b"]


def test_limit_zero_is_refused_not_read_as_no_limit():
    with pytest.raises(ConfigError, match=r"limit: 0 is not allowed; expected a whole number .* at least 1"):
        make_config({"limit": 0})
    assert make_config({}).limit is None


def test_speed_switches_are_off_by_default_and_settable(tmp_path):
    config = make_config({})
    assert (config.mixed_precision, config.xla) == (False, False)
    config = make_config({"xla": True}, write(tmp_path, "mixed_precision: true\n"))
    assert (config.mixed_precision, config.xla) == (True, True)
