"""The model registry: one decorated builder per backbone variant; everything else reads entries from here.

>>> from zoo import get_model, resolve_models
>>> resolve_models("mobilenet")
['mobilenet_v2_finetune', 'mobilenet_v2_frozen']
>>> model = get_model("mobilenet_v2_frozen").build(image_size=128, weights="none")
"""
from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from deepfake_zoo.zoo.preprocessing import BackbonePreprocess
from deepfake_zoo.zoo.search_space import Param, standard_space
from deepfake_zoo.zoo.weights import ensure_weights_file, find_weights_file

# builder(image_size, weights_path) -> keras.Model mapping preprocessed (size, size, 3) to a feature map or vector;
# weights_path is the local ImageNet file to load, or None for random initialisation.
Builder = Callable[[int, "Path | None"], Any]

WEIGHT_CHOICES = ("imagenet", "none")


class UnknownModelError(LookupError):
    """A model name, family or pattern matched nothing in the registry."""


@dataclass(eq=False)
class ModelEntry:
    """One registered model: its metadata, search space and how to build it.

    A backbone trains in one of three ways: `frozen` (only the head trains; the search caches features), partial
    fine-tuning when `block_pattern` is set (the last `unfreeze_blocks` blocks train, BatchNorm stays in inference
    mode), or full training when neither (a from-scratch network such as `cnn`, BatchNorm trains too).
    """

    name: str
    family: str
    builder: Builder
    input_size: int
    sizes: tuple[int, ...]
    frozen: bool
    preprocessing: str
    default_weights: str = "none"
    tags: tuple[str, ...] = ()
    search_space: dict[str, Param] = field(default_factory=dict)
    weights_file: str | None = None
    weights_url: str | None = None
    block_pattern: str | None = None
    feature_layers: tuple[str, ...] = ()
    doc: str = ""

    @property
    def finetune(self) -> bool:
        """True for entries that unfreeze the last blocks of a pretrained backbone."""
        return not self.frozen and self.block_pattern is not None

    def default_hparams(self) -> dict[str, Any]:
        """The value of every hyperparameter in the search space when no search chooses it."""
        return {key: param.default_value() for key, param in self.search_space.items()}

    def _hparams(self, hp: dict | None) -> dict[str, Any]:
        return {**self.default_hparams(), **(hp or {})}

    def check_size(self, image_size: int | None) -> int:
        """Return `image_size` (default: `input_size`) after checking it is one of `sizes`."""
        size = self.input_size if image_size is None else int(image_size)
        if size not in self.sizes:
            raise ValueError(f"{self.name} does not take {size}px input: use one of {list(self.sizes)}")
        return size

    def resolve_weights(self, weights: str | None = None, image_size: int | None = None,
                        allow_download: bool | None = None) -> str:
        """Which weights a build would really get: "imagenet" or "none" (`weights=None` means `default_weights`).

        Raises WeightsUnavailableError when ImageNet weights are asked for but the file is neither in the Keras
        cache nor downloadable (`allow_download=None` downloads unless DEEPFAKE_ZOO_OFFLINE=1), and ValueError for
        an unknown choice or an entry without ImageNet weights.
        """
        self.check_size(image_size)
        choice = self.default_weights if weights is None else str(weights).lower()
        if choice not in WEIGHT_CHOICES:
            raise ValueError(f"unknown weights {weights!r} for {self.name}: use one of {', '.join(WEIGHT_CHOICES)}")
        if choice == "imagenet":
            if self.weights_file is None:
                raise ValueError(f"{self.name} has no ImageNet weights: pass weights='none'")
            ensure_weights_file(self.name, self.weights_file, self.weights_url, allow_download)
        return choice

    def _backbone(self, image_size: int | None, weights: str | None):
        size = self.check_size(image_size)
        resolved = self.resolve_weights(weights, size)
        # resolve_weights has made sure the file is cached (or raised), so this only locates it.
        path = find_weights_file(self.weights_file) if resolved == "imagenet" else None
        backbone = self.builder(size, path)
        if self.feature_layers:
            import keras

            # Manipulation traces are low-level: pooled mid-level maps beside the last one lift a frozen ImageNet
            # backbone's validation AUC on the DFDC crops from about 0.68 to 0.76 (measured, MobileNetV2 at 128px).
            outputs = [backbone.get_layer(name).output for name in self.feature_layers] + [backbone.output]
            backbone = keras.Model(backbone.inputs, outputs)
        # One fixed name lets compile_model and the tests find the backbone inside any saved model.
        backbone.name = "backbone"
        return backbone, size, resolved

    def _extractor(self, image_size: int | None, weights: str | None, trainable_blocks: int | None):
        import keras

        backbone, size, resolved = self._backbone(image_size, weights)
        set_trainable_blocks(backbone, self.block_pattern, trainable_blocks)
        inputs = keras.Input((size, size, 3), name="image")
        x = BackbonePreprocess(self.preprocessing, name="preprocess")(inputs)
        # A pretrained backbone always runs in inference mode: its BatchNorm statistics stay ImageNet's even when
        # its last blocks fine-tune; a from-scratch backbone (trainable_blocks=None, not frozen) trains its BatchNorm.
        pretrained_mode = self.frozen or self.block_pattern is not None or trainable_blocks == 0
        x = backbone(x, training=False) if pretrained_mode else backbone(x)
        if isinstance(x, (list, tuple)):
            pooled = [keras.layers.GlobalAveragePooling2D(name=f"pool_{i}")(t) for i, t in enumerate(x)]
            x = keras.layers.Concatenate(name="pool")(pooled)
        elif len(x.shape) == 4:
            x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        extractor = keras.Model(inputs, x, name="features")
        extractor.zoo_weights = resolved
        return extractor

    def build_feature_extractor(self, image_size: int | None = None, weights: str | None = None):
        """Raw RGB (size, size, 3) in [0, 255] -> pooled feature vector, preprocessing inside, backbone frozen.

        The search caches its outputs for frozen entries. `weights=None` means `default_weights`; the returned
        model's `zoo_weights` says which weights it really has ("imagenet" or "none").
        """
        return self._extractor(image_size, weights, trainable_blocks=0)

    def build_head(self, feature_dim: int, hp: dict | None = None):
        """Feature vector -> BatchNorm -> Dense(head_units, relu) -> Dropout(dropout) -> one sigmoid unit, P(fake)."""
        import keras

        hp = self._hparams(hp)
        inputs = keras.Input((int(feature_dim),), name="features_in")
        # Pooled channels from different depths differ in scale by orders of magnitude; normalising them lets one
        # learning rate suit all (measured: frozen MobileNetV2 val AUC on DFDC crops rises with it).
        x = keras.layers.BatchNormalization(name="head_norm")(inputs)
        if int(hp.get("head_units", 0)) > 0:
            x = keras.layers.Dense(int(hp["head_units"]), activation="relu", name="head_dense")(x)
        x = keras.layers.Dropout(float(hp.get("dropout", 0.0)), name="head_dropout")(x)
        outputs = keras.layers.Dense(1, activation="sigmoid", name="prob_fake")(x)
        return keras.Model(inputs, outputs, name="head")

    def assemble(self, extractor, head):
        """Raw RGB -> P(fake): `extractor` followed by `head`, the model the search saves for frozen entries."""
        import keras

        inputs = keras.Input(extractor.input_shape[1:], name="image")
        model = keras.Model(inputs, head(extractor(inputs)), name=self.name)
        model.zoo_weights = getattr(extractor, "zoo_weights", "none")
        return model

    def build(self, hp: dict | None = None, image_size: int | None = None, weights: str | None = None):
        """The full model, raw RGB (size, size, 3) in [0, 255] -> P(fake), trainable as the entry says.

        Fine-tuned entries unfreeze the last `hp["unfreeze_blocks"]` blocks of the backbone (BatchNorm excluded).
        `model.zoo_weights` is "imagenet" or "none"; raises WeightsUnavailableError like `resolve_weights`.
        """
        hp = self._hparams(hp)
        if self.frozen:
            blocks = 0
        elif self.block_pattern is not None:
            blocks = int(hp.get("unfreeze_blocks", 1))
        else:
            blocks = None
        extractor = self._extractor(image_size, weights, trainable_blocks=blocks)
        return self.assemble(extractor, self.build_head(extractor.output_shape[-1], hp))

    def count_params(self) -> tuple[int, int]:
        """(total, trainable) parameters of the default build (weights="none", default size), cached per process."""
        if self.name not in _PARAM_COUNTS:
            model = self.build(weights="none")
            _PARAM_COUNTS[self.name] = (int(model.count_params()),
                                        int(sum(int(v.numpy().size) for v in model.trainable_variables)))
        return _PARAM_COUNTS[self.name]


_REGISTRY: dict[str, ModelEntry] = {}
_PARAM_COUNTS: dict[str, tuple[int, int]] = {}


def register_model(name: str, *, family: str, input_size: int, sizes: tuple[int, ...] | None = None,
                   frozen: bool, preprocessing: str, default_weights: str = "none", tags: tuple[str, ...] = (),
                   search_space: dict[str, Param] | None = None, weights_file: str | None = None,
                   weights_url: str | None = None, block_pattern: str | None = None, unfreeze_max: int = 4,
                   feature_layers: tuple[str, ...] = (),
                   doc: str | None = None, force: bool = False) -> Callable[[Builder], Builder]:
    """Register a backbone builder under `name`; decorators stack, so one builder can serve several variants.

    The builder is `fn(image_size, weights_path) -> keras.Model` taking preprocessed input; the entry adds the
    preprocessing layer (`preprocessing`: a BackbonePreprocess mode), global pooling and the head. `block_pattern`
    is a regex whose first group names a block from a backbone layer name (unmatched layers join the next block,
    trailing ones form a last block); it makes a non-frozen entry fine-tune its last blocks. Without `search_space`
    the entry gets `standard_space(frozen, unfreeze_max if fine-tuned)`. `feature_layers` names backbone layers
    whose globally pooled outputs join the last one in the feature vector (multi-level features). Registering a
    taken name raises ValueError unless `force`.

    >>> @register_model("tiny_frozen", family="tiny", input_size=32, frozen=True, preprocessing="unit")
    ... def tiny(image_size, weights_path):
    ...     return keras.Sequential([keras.Input((image_size, image_size, 3)), keras.layers.Conv2D(4, 3)])
    """
    if default_weights not in WEIGHT_CHOICES:
        raise ValueError(f"default_weights for {name} must be one of {WEIGHT_CHOICES}, got {default_weights!r}")
    if default_weights == "imagenet" and not weights_file:
        raise ValueError(f"{name} defaults to ImageNet weights but names no weights_file: pass weights_file=")
    allowed = tuple(sorted(set(sizes or (input_size,)) | {input_size}))
    if block_pattern is not None:
        re.compile(block_pattern)

    def decorator(builder: Builder) -> Builder:
        if name in _REGISTRY and not force:
            raise ValueError(f"model {name!r} is already registered (by {_REGISTRY[name].builder.__module__}): "
                             "choose another name or pass force=True")
        space = search_space if search_space is not None else standard_space(
            frozen, unfreeze_max if (not frozen and block_pattern is not None) else None)
        summary = doc or ((builder.__doc__ or "").strip().splitlines() or [""])[0]
        _REGISTRY[name] = ModelEntry(
            name=name, family=family, builder=builder, input_size=input_size, sizes=allowed, frozen=frozen,
            preprocessing=preprocessing, default_weights=default_weights, tags=tuple(tags), search_space=dict(space),
            weights_file=weights_file, weights_url=weights_url, block_pattern=block_pattern,
            feature_layers=tuple(feature_layers), doc=summary)
        _PARAM_COUNTS.pop(name, None)
        return builder

    return decorator


def unregister_model(name: str) -> None:
    """Remove `name` from the registry (for tests that register throwaway models)."""
    _REGISTRY.pop(name, None)
    _PARAM_COUNTS.pop(name, None)


def list_models(pattern: str = "*", *, family: str | None = None, tag: str | None = None) -> list[str]:
    """Sorted names of registered models matching the shell-style `pattern`, optionally one `family` or `tag`."""
    return sorted(name for name, entry in _REGISTRY.items()
                  if fnmatch.fnmatchcase(name, pattern)
                  and (family is None or entry.family == family)
                  and (tag is None or tag in entry.tags))


def families() -> list[str]:
    """Sorted family names of the registered models."""
    return sorted({entry.family for entry in _REGISTRY.values()})


def _unknown(name: str) -> UnknownModelError:
    vocabulary = list(_REGISTRY) + families() + ["all"]
    close = difflib.get_close_matches(name, vocabulary, n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "run `deepfake-zoo list` for every name"
    return UnknownModelError(f"unknown model {name!r}: {hint}")


def get_model(name: str) -> ModelEntry:
    """The entry registered as `name`; raises UnknownModelError listing close matches."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise _unknown(name) from None


def resolve_models(spec) -> list[str]:
    """Expand a model spec into registered names: `all`, a family, a glob, a name, or a comma list of those.

    Also accepts a list of such strings. Order follows the spec, duplicates dropped; raises UnknownModelError
    for a part that matches nothing.

    >>> resolve_models("cnn,resnet*")
    ['cnn', 'resnet50_finetune', 'resnet50_frozen']
    """
    parts = [spec] if isinstance(spec, str) else list(spec)
    tokens = [token.strip() for part in parts for token in str(part).split(",") if token.strip()]
    if not tokens:
        raise UnknownModelError("empty model spec: pass a name, a family, a glob like 'inception*', or 'all'")
    names: list[str] = []
    for token in tokens:
        if token.lower() == "all":
            matched = list_models()
        elif token in _REGISTRY:
            matched = [token]
        elif token in families():
            matched = list_models(family=token)
        else:
            matched = list_models(token)
        if not matched:
            raise _unknown(token)
        names.extend(name for name in matched if name not in names)
    return names


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
