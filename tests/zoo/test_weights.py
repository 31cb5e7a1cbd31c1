"""ImageNet weights: found offline in Keras' cache, loaded at any input size, and a clear error when missing."""
from __future__ import annotations

import re
import tempfile

import h5py
import keras
import numpy as np
import pytest

from deepfake_zoo import zoo
from deepfake_zoo.datasets.images import load_for_model
from deepfake_zoo.zoo.weights import ensure_weights_file, keras_cache_dirs

MOBILENET_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"


@pytest.fixture
def empty_keras_home(tmp_path, monkeypatch):
    """A Keras home (and temp fallback) holding no weights at all."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return tmp_path / "keras" / "models"


def test_missing_weights_name_the_file_and_folder(empty_keras_home):
    entry = zoo.get_model("resnet50_frozen")
    with pytest.raises(zoo.WeightsUnavailableError) as error:
        entry.resolve_weights("imagenet", allow_download=False)
    message = str(error.value)
    assert entry.weights_file in message and str(empty_keras_home) in message and "weights='none'" in message
    assert keras_cache_dirs()[0] == empty_keras_home


def test_default_build_without_cached_weights_fails_before_building(empty_keras_home):
    # The tests run with DEEPFAKE_ZOO_OFFLINE=1, so the default (downloads allowed) must still not try the network.
    with pytest.raises(zoo.WeightsUnavailableError, match="downloads are off"):
        zoo.get_model("mobilenet_v2_frozen").build(image_size=32)
    assert zoo.get_model("mobilenet_v2_frozen").build(image_size=32, weights="none").zoo_weights == "none"


@pytest.mark.parametrize("name", [name for name in zoo.list_models() if zoo.get_model(name).weights_file])
def test_every_imagenet_entry_without_its_file_names_it_and_builds_without_it(empty_keras_home, name):
    entry = zoo.get_model(name)
    size = min(entry.sizes)
    with pytest.raises(zoo.WeightsUnavailableError, match=re.escape(f"{entry.weights_file} in {empty_keras_home}")):
        entry.build(image_size=size, weights="imagenet")
    assert entry.resolve_weights("none", size) == "none"


def test_weights_choice_is_validated():
    with pytest.raises(ValueError, match="use one of imagenet, none"):
        zoo.get_model("cnn").resolve_weights("random")
    with pytest.raises(ValueError, match="no ImageNet weights"):
        zoo.get_model("cnn").resolve_weights("imagenet")
    assert zoo.get_model("cnn").resolve_weights(None) == "none"


def test_ensure_weights_file_finds_a_cached_file(empty_keras_home):
    empty_keras_home.mkdir(parents=True)
    (empty_keras_home / "some_weights.h5").write_bytes(b"not empty")
    assert ensure_weights_file("x", "some_weights.h5", None, allow_download=False) == empty_keras_home / "some_weights.h5"


def _file_kernels(path) -> dict[str, np.ndarray]:
    """Every weight array in a Keras legacy .h5 weights file, keyed by 'layer/weight'."""
    arrays = {}
    with h5py.File(path, "r") as f:
        for layer in f.attrs["layer_names"]:
            group = f[layer.decode() if isinstance(layer, bytes) else layer]
            for name in group.attrs["weight_names"]:
                name = name.decode() if isinstance(name, bytes) else name
                arrays[name.rsplit(":", 1)[0]] = group[name][()]
    return arrays


@pytest.fixture(scope="module")
def imagenet_extractors(keras_weights_available):
    """MobileNetV2 feature extractors with ImageNet weights at 224 and 128, and one with random weights at 128."""
    entry = zoo.get_model("mobilenet_v2_frozen")
    keras.utils.set_random_seed(0)
    return {224: entry.build_feature_extractor(224, "imagenet"), 128: entry.build_feature_extractor(128, "imagenet"),
            "random": entry.build_feature_extractor(128, "none")}


@pytest.mark.parametrize("size", [224, 128])
def test_mobilenet_loads_the_cached_imagenet_file_at_any_size(imagenet_extractors, keras_weights_available, size):
    extractor = imagenet_extractors[size]
    assert extractor.zoo_weights == "imagenet"
    assert zoo.get_model("mobilenet_v2_frozen").resolve_weights(None, size) == "imagenet"
    backbone = extractor.get_layer("backbone")
    expected = _file_kernels(keras_weights_available / MOBILENET_FILE)
    assert len(expected) == len(backbone.weights) > 200
    for variable in backbone.weights:
        np.testing.assert_array_equal(variable.numpy(), expected[variable.path], err_msg=variable.path)


def _cosine(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.realdata
def test_imagenet_features_tell_photos_apart_where_random_ones_cannot(imagenet_extractors, real_data_root):
    photos = sorted((real_data_root / "real-and-fake-face" / "Dataset" / "Test" / "Real").glob("*.jpg"))[:4]
    assert len(photos) == 4
    images = [load_for_model(path, 256) for path in photos]

    def crops(image):  # two overlapping crops of one photo, shifted by 16 px
        return [keras.ops.convert_to_numpy(keras.ops.image.resize(image[None, a:a + 224, a:a + 224], (128, 128)))[0]
                for a in (8, 24)]

    pairs = [crops(image) for image in images]
    gaps = {}
    for key in (128, "random"):
        extractor = imagenet_extractors[key]
        # The last 1280 channels are the final block's pooled output: the semantic features ImageNet training shapes
        # (the multi-level low-level channels before them tell photos apart even with random weights).
        feats = [extractor.predict(np.stack(pair), verbose=0)[:, -1280:] for pair in pairs]
        same = np.mean([_cosine(f[0], f[1]) for f in feats])
        different = np.mean([_cosine(feats[i][0], feats[i + 1][0]) for i in range(len(feats) - 1)])
        gaps[key] = same - different
    # Measured: ImageNet gap about 0.3; random-init features are nearly identical for every photo (gap about 0).
    assert gaps[128] > 0.1 and gaps[128] > 5 * abs(gaps["random"]), gaps
