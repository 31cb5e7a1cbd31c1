"""Building a model from a registry entry: weights, backbone, preprocessing layer, pooling, head and freezing.

Every function takes a `zoo.registry.ModelEntry` and reads only its declared fields; the entry's methods
(`build`, `build_feature_extractor`, ...) call these, so callers keep using the entry.
"""
from __future__ import annotations

import re
from typing import Any

from deepfake_zoo.zoo.preprocessing import BackbonePreprocess
from deepfake_zoo.zoo.weights import ensure_weights_file, find_weights_file

WEIGHT_CHOICES = ("imagenet", "none")


def resolve_weights(entry, weights: str | None = None, image_size: int | None = None,
                    allow_download: bool | None = None) -> str:
    """Which weights a build of `entry` would really get: "imagenet" or "none" (see ModelEntry.resolve_weights)."""
    entry.check_size(image_size)
    choice = entry.default_weights if weights is None else str(weights).lower()
    if choice not in WEIGHT_CHOICES:
        raise ValueError(f"unknown weights {weights!r} for {entry.name}: use one of {', '.join(WEIGHT_CHOICES)}")
    if choice == "imagenet":
        if entry.weights_file is None:
            raise ValueError(f"{entry.name} has no ImageNet weights: pass weights='none'")
        ensure_weights_file(entry.name, entry.weights_file, entry.weights_url, allow_download)
    return choice


def build_backbone(entry, image_size: int | None, weights: str | None):
    """(backbone named "backbone", size, resolved weights): the builder's network, multi-level when declared."""
    size = entry.check_size(image_size)
    resolved = resolve_weights(entry, weights, size)
    # resolve_weights has made sure the file is cached (or raised), so this only locates it.
    path = find_weights_file(entry.weights_file) if resolved == "imagenet" else None
    backbone = entry.builder(size, path)
    if entry.feature_layers:
        import keras

        names = {layer.name for layer in backbone.layers}
        missing = [name for name in entry.feature_layers if name not in names]
        if missing:
            raise ValueError(f"feature_layers {missing} of {entry.name} are not layers of its backbone: "
                             "register it with names from the built backbone's summary()")
        # Manipulation traces are low-level: pooled mid-level maps beside the last one lift a frozen ImageNet
        # backbone's validation AUC on the DFDC crops from about 0.68 to 0.76 (measured, MobileNetV2 at 128px).
        outputs = [backbone.get_layer(name).output for name in entry.feature_layers] + [backbone.output]
        backbone = keras.Model(backbone.inputs, outputs)
    # One fixed name lets compile_model and the tests find the backbone inside any saved model.
    backbone.name = "backbone"
    return backbone, size, resolved


def build_extractor(entry, image_size: int | None, weights: str | None, trainable_blocks: int | None):
    """Raw RGB -> preprocessing -> backbone -> pooled vector; the backbone's last `trainable_blocks` blocks train."""
    backbone, size, resolved = build_backbone(entry, image_size, weights)
    return extractor_on(entry, backbone, size, resolved, trainable_blocks)


def extractor_on(entry, backbone, size: int, resolved: str, trainable_blocks: int | None):
    """build_extractor around an already built `backbone` (the cached-trunk export reuses a trained one)."""
    import keras

    set_trainable_blocks(backbone, entry.block_pattern, trainable_blocks)
    inputs = keras.Input((size, size, 3), name="image")
    x = BackbonePreprocess(entry.preprocessing, name="preprocess")(inputs)
    # A pretrained backbone always runs in inference mode: its BatchNorm statistics stay ImageNet's even when
    # its last blocks fine-tune; a from-scratch backbone (trainable_blocks=None, not frozen) trains its BatchNorm.
    pretrained_mode = entry.frozen or entry.block_pattern is not None or trainable_blocks == 0
    x = backbone(x, training=False) if pretrained_mode else backbone(x)
    if isinstance(x, (list, tuple)):
        pooled = [pool_map(entry, t, f"pool_{i}") for i, t in enumerate(x)]
        x = keras.layers.Concatenate(name="pool")(pooled)
    elif len(x.shape) == 4:
        x = pool_map(entry, x, "pool")
    if entry.spectral_bins:
        from deepfake_zoo.zoo.spectral import SpectralProfile

        # Computed on the raw face, not the backbone's input scaling: its profile is scale-free anyway, and blending
        # and resampling traces live in the high frequencies the backbone's strides discard.
        spectrum = SpectralProfile(entry.spectral_bins, name="spectrum")(inputs)
        x = keras.layers.Concatenate(name="with_spectrum")([x, spectrum])
    extractor = keras.Model(inputs, x, name="features")
    extractor.zoo_weights = resolved
    return extractor


def pool_map(entry, tensor, name: str):
    """A feature map (batch, h, w, c) -> one vector per image, as the entry's `pooling` says: the channel means
    ("mean"), or the means then the standard deviations ("mean_std")."""
    import keras

    if entry.pooling == "mean_std":
        from deepfake_zoo.zoo.layers import MeanStdPooling

        return MeanStdPooling(name=name)(tensor)
    return keras.layers.GlobalAveragePooling2D(name=name)(tensor)


def pooled_width(entry, channels: int) -> int:
    """How many values `pool_map` makes of a map with `channels` channels."""
    return 2 * channels if entry.pooling == "mean_std" else channels


def build_head(entry, feature_dim: int, hp: dict[str, Any] | None = None):
    """Feature vector -> BatchNorm -> Dense(head_units, relu) -> Dropout(dropout) -> one sigmoid unit, P(fake)."""
    import keras

    hp = entry.hparams(hp)
    inputs = keras.Input((int(feature_dim),), name="features_in")
    x = inputs
    if entry.spectral_bins and not hp.get("spectral", True):
        from deepfake_zoo.zoo.layers import LeadingFeatures

        # The spectrum is the last `spectral_bins` features (see extractor_on); without it the head sees the rest.
        x = LeadingFeatures(int(feature_dim) - entry.spectral_bins, name="without_spectrum")(x)
    # Pooled channels from different depths differ in scale by orders of magnitude; normalising them lets one
    # learning rate suit all (measured: frozen MobileNetV2 val AUC on DFDC crops rises with it).
    x = keras.layers.BatchNormalization(name="head_norm")(x)
    if int(hp.get("head_units", 0)) > 0:
        x = keras.layers.Dense(int(hp["head_units"]), activation="relu", name="head_dense")(x)
    x = keras.layers.Dropout(float(hp.get("dropout", 0.0)), name="head_dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="prob_fake")(x)
    return keras.Model(inputs, outputs, name="head")


def assemble(entry, extractor, head):
    """Raw RGB -> P(fake): `extractor` followed by `head`, named after the entry."""
    import keras

    inputs = keras.Input(extractor.input_shape[1:], name="image")
    model = keras.Model(inputs, head(extractor(inputs)), name=entry.name)
    model.zoo_weights = getattr(extractor, "zoo_weights", "none")
    return model


def build_model(entry, hp: dict[str, Any] | None = None, image_size: int | None = None, weights: str | None = None):
    """The full model, trainable as the entry says (see ModelEntry.build)."""
    hp = entry.hparams(hp)
    if entry.frozen:
        blocks = 0
    elif entry.block_pattern is not None:
        blocks = int(hp.get("unfreeze_blocks", 1))
    else:
        blocks = None
    extractor = build_extractor(entry, image_size, weights, trainable_blocks=blocks)
    return assemble(entry, extractor, build_head(entry, extractor.output_shape[-1], hp))


def count_params(entry) -> tuple[int, int]:
    """(total, trainable) parameters of the default build (weights="none", default size)."""
    model = build_model(entry, weights="none")
    return int(model.count_params()), int(sum(int(v.numpy().size) for v in model.trainable_variables))


def backbone_blocks(backbone, block_pattern: str) -> list[list]:
    """Group a backbone's layers into consecutive blocks using `block_pattern` (see register_model)."""
    import keras

    regex = re.compile(block_pattern)
    blocks: list[tuple[str, list]] = []
    pending: list = []
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        match = regex.match(layer.name)
        if match is None:
            pending.append(layer)
            continue
        block_id = match.group(1) if regex.groups else match.group(0)
        if blocks and blocks[-1][0] == block_id:
            blocks[-1][1].extend(pending + [layer])
        else:
            blocks.append((block_id, pending + [layer]))
        pending = []
    if pending:
        blocks.append(("top", pending))
    return [layers for _, layers in blocks]


def set_trainable_blocks(backbone, block_pattern: str | None, blocks: int | None) -> None:
    """Make the backbone frozen (`blocks=0`), fully trainable (`None`), or train its last `blocks` blocks.

    BatchNormalization layers stay frozen whenever only some blocks train, so fine-tuning keeps ImageNet statistics.
    """
    import keras

    if blocks is None:
        backbone.trainable = True
        return
    backbone.trainable = False
    if blocks <= 0:
        return
    if block_pattern is None:
        raise ValueError("this backbone declares no block_pattern, so it cannot unfreeze some blocks: "
                         "pass unfreeze_blocks=0 or register it with block_pattern=")
    groups = backbone_blocks(backbone, block_pattern)
    backbone.trainable = True
    chosen = {id(layer) for group in groups[-blocks:] for layer in group}
    for layer in backbone.layers:
        layer.trainable = id(layer) in chosen and not isinstance(layer, keras.layers.BatchNormalization)


class TrunkSplit:
    """A backbone cut at a block boundary: `lower` (frozen, cached) feeds `upper` (the last `k` blocks, trained).

    `lower` maps the preprocessed image to [cut map, *multi-level outputs below the cut]; `upper` maps the cut map
    to the multi-level outputs at or above the cut. `order` lists, for each backbone output in its own order, which
    part makes it: ("lower", i) or ("upper", i), so pooled features concatenate exactly as the unsplit extractor's.
    Both parts share their layers with `backbone`, so weights trained through `upper` are the backbone's.
    """

    def __init__(self, backbone, lower, upper, order: list[tuple[str, int]], cut_layer: str, k: int):
        self.backbone, self.lower, self.upper = backbone, lower, upper
        self.order, self.cut_layer, self.k = order, cut_layer, k


def split_backbone(entry, backbone, k: int) -> TrunkSplit:
    """Cut `backbone` before its last `k` blocks (block_pattern's groups), for every entry that declares blocks.

    The cut is the one tensor that feeds the upper part, at the start of the k-th last block or just past layers
    there that finish the block below (a residual add). Raises ValueError when no single tensor does (a skip
    connection spans the whole block), which no single cached map could feed.
    """
    import keras

    if entry.block_pattern is None:
        raise ValueError(f"{entry.name} declares no block_pattern, so it has no trunk to cut: register it with "
                         "block_pattern= and blocks=")
    groups = backbone_blocks(backbone, entry.block_pattern)
    if not 1 <= k < len(groups):
        raise ValueError(f"{entry.name} cannot train its last {k} of {len(groups)} blocks from a cached trunk: "
                         f"declare trunk_cuts between 1 and {len(groups) - 1}")
    upper_layers = [layer for group in groups[-k:] for layer in group]
    # block_pattern attaches unmatched layers to the next block, so a residual add or a shortcut that finishes the
    # block below the cut (Xception, MobileNetV3) may lead the upper part: the cut moves past such leading layers,
    # to the first point of the k-th last block where one tensor feeds everything above it.
    cut = None
    for start in range(len(groups[-k])):
        candidate = upper_layers[start:]
        external = _external_inputs(candidate)
        if len(external) == 1:
            upper_layers, cut = candidate, external[0]
            break
    if cut is None:
        raise ValueError(f"no single tensor feeds the last {k} blocks of {entry.name} (a skip connection crosses "
                         "every point of that block): choose another trunk_cuts value")
    upper_ids = {id(layer) for layer in upper_layers}
    first = upper_layers[0]
    outputs = list(backbone.outputs)
    order, lower_outs, upper_outs = [], [], []
    for tensor in outputs:
        if id(tensor._keras_history.operation) in upper_ids:
            order.append(("upper", len(upper_outs)))
            upper_outs.append(tensor)
        else:
            order.append(("lower", len(lower_outs)))
            lower_outs.append(tensor)
    lower = keras.Model(backbone.inputs[0], [cut] + lower_outs, name="lower")
    # Named as the backbone it is part of: compile_model finds it to scale its learning rate.
    upper = keras.Model(cut, upper_outs, name="backbone")
    return TrunkSplit(backbone, lower, upper, order, first.name, k)


def _external_inputs(layers: list) -> list:
    """The distinct tensors `layers` read that none of them produces."""
    import keras

    inside = {id(layer) for layer in layers}
    found: dict[int, object] = {}
    for layer in layers:
        for tensor in keras.tree.flatten(layer.input):
            if id(tensor._keras_history.operation) not in inside:
                found.setdefault(id(tensor), tensor)
    return list(found.values())


def build_trunk(entry, image_size: int | None, weights: str | None, k: int):
    """(raw RGB -> [flattened cut map, pooled lower outputs] as one vector, its TrunkSplit): the cached part.

    The vector is what a cache stores per image; `trunk_head_input` undoes the flattening for the trained part.
    """
    import keras

    backbone, size, resolved = build_backbone(entry, image_size, weights)
    set_trainable_blocks(backbone, entry.block_pattern, 0)
    split = split_backbone(entry, backbone, k)
    inputs = keras.Input((size, size, 3), name="image")
    x = BackbonePreprocess(entry.preprocessing, name="preprocess")(inputs)
    parts = split.lower(x, training=False)
    parts = parts if isinstance(parts, (list, tuple)) else [parts]
    pieces = [keras.layers.Flatten(name="cut_map")(parts[0])]
    pieces += [pool_map(entry, t, f"lower_pool_{i}") for i, t in enumerate(parts[1:])]
    vector = keras.layers.Concatenate(name="trunk")(pieces) if len(pieces) > 1 else pieces[0]
    trunk = keras.Model(inputs, vector, name="trunk")
    trunk.zoo_weights = resolved
    return trunk, split


def build_upper_model(entry, split: TrunkSplit, hp: dict[str, Any] | None = None):
    """Cached trunk vector -> upper blocks (BatchNorm in inference mode, as fine-tuning) -> pooled features -> head.

    Sets the upper blocks trainable (BatchNorm excluded) exactly as `build` with unfreeze_blocks=k would; the upper
    part is named "backbone" inside, so compile_model gives it `backbone_lr_ratio` as on images. The head is the
    layer named "head".
    """
    import keras

    set_trainable_blocks(split.backbone, entry.block_pattern, split.k)
    cut_shape = tuple(split.upper.inputs[0].shape[1:])
    cut_width = 1
    for dim in cut_shape:
        cut_width *= int(dim)
    lower_widths = [pooled_width(entry, int(t.shape[-1])) for t in split.lower.outputs[1:]]
    inputs = keras.Input((cut_width + sum(lower_widths),), name="trunk_in")
    x = keras.layers.Reshape(cut_shape, name="cut_map")(inputs[:, :cut_width])
    upper_outs = split.upper(x, training=False)
    upper_outs = upper_outs if isinstance(upper_outs, (list, tuple)) else [upper_outs]
    lower_vectors, start = [], cut_width
    for width in lower_widths:
        lower_vectors.append(inputs[:, start:start + width])
        start += width
    pooled = []
    for i, (part, index) in enumerate(split.order):
        if part == "lower":
            pooled.append(lower_vectors[index])
        else:
            pooled.append(pool_map(entry, upper_outs[index], f"upper_pool_{i}"))
    features = keras.layers.Concatenate(name="pool")(pooled) if len(pooled) > 1 else pooled[0]
    head = build_head(entry, features.shape[-1], hp)
    # The name carries k, so a trial model reloaded from a checkpoint still says which cached maps it reads.
    return keras.Model(inputs, head(features), name=f"{entry.name}_trunk{split.k}")


def export_trunk_model(entry, split: TrunkSplit, head, size: int, resolved: str):
    """Raw RGB -> preprocessing -> backbone (lower frozen, upper as trained) -> pooled features -> head."""
    extractor = extractor_on(entry, split.backbone, size, resolved, split.k)
    return assemble(entry, extractor, head)
