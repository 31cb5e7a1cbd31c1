"""Where the model looked: Grad-CAM on the last convolutional block, overlaid on each scored face crop.

Grad-CAM (Selvaraju et al., 2017) weights the last 4-D feature map by the gradient of P(fake) averaged over space:
it needs no retraining, works for every model in the zoo (each backbone ends in a convolutional block), and its
coarse map is honest about how coarse the model's view is. The zoo's backbones sit nested inside the saved model
(and also feed pooled mid-level maps to the head); "the last block" is the deepest 4-D layer found inside them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

OVERLAY_SIDE = 224
HEAT_WEIGHT = 0.6


class ExplainUnavailableError(RuntimeError):
    """The model has no 4-D feature map to take Grad-CAM from."""


def _all_layers(model) -> list:
    """Every layer in the model, nested models opened in place, in the order the model runs them."""
    import keras

    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        found.append(layer)
        if isinstance(layer, keras.Model):
            found.extend(_all_layers(layer))
    return found


def _output_rank(layer) -> int | None:
    try:
        output = layer.output
    except (AttributeError, ValueError, RuntimeError):
        return None  # a layer used more than once has no single output
    if isinstance(output, (list, tuple)):
        return None
    return len(output.shape)


def last_feature_layer(model):
    """The last layer (searching inside nested models) whose output is a 4-D feature map: the last conv block."""
    import keras

    maps = [layer for layer in _all_layers(model) if _output_rank(layer) == 4 and not isinstance(layer, keras.Model)]
    if not maps:
        raise ExplainUnavailableError(f"model {model.name!r} has no 4-D feature map to explain")
    return maps[-1]


def gradcam(model, inputs: np.ndarray) -> np.ndarray:
    """Heatmaps in [0, 1], shape (N, h, w) at the feature map's resolution, for float32 (N, size, size, 3) inputs.

    The last feature layer's call is wrapped for one forward pass so its output is watched by the gradient tape
    where it is made: this works however deeply the layer is nested and whatever joins the model's branches, and
    frozen backbones (whose weights the tape would not watch) are covered too.
    """
    import tensorflow as tf

    target = last_feature_layer(model)
    x = tf.convert_to_tensor(np.asarray(inputs, dtype=np.float32))
    captured = []
    own = "call" in vars(target)
    original = target.call

    with tf.GradientTape() as tape:
        def watched(*args, **kwargs):
            output = original(*args, **kwargs)
            tape.watch(output)
            captured.append(output)
            return output

        target.call = watched
        try:
            output = model(x, training=False)
        finally:
            if own:
                target.call = original
            else:
                del target.call
        score = tf.reshape(output, (len(inputs), -1))[:, 0]
    if not captured:
        raise ExplainUnavailableError(f"model {model.name!r} did not run its layer {target.name!r}; no heatmap")
    features = captured[-1]
    grads = tape.gradient(score, features)
    if grads is None:
        raise ExplainUnavailableError(f"P(fake) of model {model.name!r} does not depend on {target.name!r}")
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy()
    peaks = cams.reshape(len(cams), -1).max(axis=1).reshape(-1, 1, 1)
    # A map that is zero everywhere (no region raised P(fake)) stays zero rather than being stretched into noise.
    return np.where(peaks > 0, cams / np.maximum(peaks, 1e-12), 0.0).astype(np.float32)


def overlay(crop: np.ndarray, heatmap: np.ndarray, side: int = OVERLAY_SIDE) -> np.ndarray:
    """The crop (uint8 RGB) resized to `side` with the heatmap in a jet colour map blended on top, as uint8 RGB."""
    import cv2

    face = cv2.resize(np.asarray(crop, dtype=np.uint8), (side, side), interpolation=cv2.INTER_AREA)
    heat = cv2.resize(heatmap.astype(np.float32), (side, side), interpolation=cv2.INTER_CUBIC)
    coloured = cv2.applyColorMap(np.uint8(np.clip(heat, 0, 1) * 255), cv2.COLORMAP_JET)
    coloured = cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB)
    # Tint in proportion to the heat, so cold regions show the face as it is rather than a blue wash.
    alpha = HEAT_WEIGHT * np.clip(heat, 0, 1)[..., None]
    return np.uint8(np.clip((1 - alpha) * face + alpha * coloured, 0, 255))


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 RGB array -> PNG file bytes."""
    import cv2

    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("could not encode a heatmap as PNG")
    return encoded.tobytes()


def verdict_overlays(model, verdict) -> list[bytes]:
    """PNG bytes of one heatmap overlay per scored face (or whole image) of a verdict kept with its inputs."""
    if not verdict.inputs:
        return []
    heatmaps = gradcam(model, np.stack(verdict.inputs))
    return [png_bytes(overlay(crop, heat)) for crop, heat in zip(verdict.crops, heatmaps)]


def write_explanations(predictor, verdicts, out_dir: str | Path) -> Path:
    """Write `<out_dir>/<n>-face-<k>.png` heatmaps and `<out_dir>/index.html` summing them up; returns the page.

    File names come from each input's position, never from its path, so nothing a path holds can steer a write.
    """
    from deepfake_zoo import atomic
    from deepfake_zoo.predict.templates import render_explain

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for number, verdict in enumerate(verdicts, start=1):
        images, problem = [], None
        try:
            for k, data in enumerate(verdict_overlays(predictor.model, verdict), start=1):
                name = f"{number:03d}-face-{k}.png"
                with atomic.atomic_path(out / name) as partial:
                    Path(partial).write_bytes(data)
                images.append(name)
        except ExplainUnavailableError as exc:
            problem = str(exc)
        entries.append({"verdict": verdict, "images": images, "problem": problem})
    page = out / "index.html"
    html = render_explain(entries, predictor.run)
    with atomic.atomic_path(page) as partial:
        Path(partial).write_text(html, encoding="utf-8")
    return page
