"""The model catalogue: entries that describe themselves, registered by name, listed, resolved, suggested.

An entry is checked when it is registered (its name against its training mode, its weights file, its declared
blocks); how an entry becomes a keras.Model lives in zoo.assembly, which the entry's build methods call.

>>> from deepfake_zoo.zoo import get_model, resolve_models
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

from deepfake_zoo.zoo import assembly
# backbone_blocks and set_trainable_blocks stay importable from here, where they lived before the split.
from deepfake_zoo.zoo.assembly import WEIGHT_CHOICES, backbone_blocks, set_trainable_blocks  # noqa: F401
from deepfake_zoo.zoo.preprocessing import MODES
from deepfake_zoo.zoo.search_space import Param, standard_space

# builder(image_size, weights_path) -> keras.Model mapping preprocessed (size, size, 3) to a feature map or vector;
# weights_path is the local ImageNet file to load, or None for random initialisation.
Builder = Callable[[int, "Path | None"], Any]

# Keras publishes the ImageNet weights of a backbone without its classifier as <...>notop.h5 or <...>no_top<...>.h5;
# the zoo builds every backbone without its top, so only such a file fits it.
# How a feature map becomes a vector: channel means, or the means then the standard deviations (zoo.layers).
POOLINGS = ("mean", "mean_std")

WEIGHTS_FILE_PATTERN = re.compile(r"^[\w.\-]*no_?top[\w.\-]*\.h5$")


class UnknownModelError(LookupError):
    """A model name, family or pattern matched nothing in the registry."""


@dataclass(eq=False)
class ModelEntry:
    """One registered model: what it is, its defaults, its preprocessing, its search space, how to build it.

    A backbone trains in one of three ways: `frozen` (only the head trains; the search caches features), partial
    fine-tuning when `block_pattern` is set (the last `unfreeze_blocks` blocks train, BatchNorm stays in inference
    mode), or full training when neither (a from-scratch network such as `cnn`, BatchNorm trains too).
    `reference_preprocess` (the application's own keras.applications preprocess_input) and `blocks` (how many blocks
    `block_pattern` finds) are what the zoo tests check the entry against. Creating an entry checks what can be
    checked without building it, and raises ValueError naming the field to fix.
    """

    name: str
    family: str
    builder: Builder
    input_size: int
    sizes: tuple[int, ...]
    frozen: bool
    preprocessing: str
    reference_preprocess: Callable | None = None
    default_weights: str = "none"
    tags: tuple[str, ...] = ()
    search_space: dict[str, Param] = field(default_factory=dict)
    weights_file: str | None = None
    weights_url: str | None = None
    block_pattern: str | None = None
    blocks: int | None = None
    feature_layers: tuple[str, ...] = ()
    trunk_cuts: tuple[int, ...] = ()
    spectral_bins: int = 0
    pooling: str = "mean"
    doc: str = ""
    _counts: tuple[int, int] | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self._check_name()
        self._check_preprocessing()
        self._check_weights()
        self._check_blocks()
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling {self.pooling!r} of {self.name} is not one of {', '.join(POOLINGS)}")

    def _check_name(self) -> None:
        # The suffix is how a user picks a training mode (`*_frozen`), so it must say the truth about the entry.
        if self.frozen and not self.name.endswith("_frozen"):
            raise ValueError(f"model {self.name!r} is frozen, so its name must end in _frozen: "
                             "rename it or pass frozen=False")
        if not self.frozen and self.name.endswith("_frozen"):
            raise ValueError(f"model {self.name!r} trains its backbone, so its name must not end in _frozen: "
                             "pass frozen=True or name it <backbone>_finetune")
        if self.finetune and not self.name.endswith("_finetune"):
            raise ValueError(f"model {self.name!r} fine-tunes its last blocks (block_pattern=), so its name must end "
                             "in _finetune: rename it, or drop block_pattern= to train the whole network")

    def _check_preprocessing(self) -> None:
        if self.preprocessing not in MODES:
            raise ValueError(f"unknown preprocessing mode {self.preprocessing!r} for {self.name}: "
                             f"use one of {', '.join(MODES)}")
        if self.reference_preprocess is not None and not callable(self.reference_preprocess):
            raise ValueError(f"reference_preprocess of {self.name} is not a function: pass the application's "
                             "keras.applications.<module>.preprocess_input")
        if self.weights_file and self.reference_preprocess is None:
            raise ValueError(f"{self.name} loads ImageNet weights but declares no reference_preprocess: pass its "
                             "keras.applications.<module>.preprocess_input (the tests compare preprocessing= to it)")

    def _check_weights(self) -> None:
        if self.default_weights not in WEIGHT_CHOICES:
            raise ValueError(f"default_weights for {self.name} must be one of {WEIGHT_CHOICES}, "
                             f"got {self.default_weights!r}")
        if self.default_weights == "imagenet" and not self.weights_file:
            raise ValueError(f"{self.name} defaults to ImageNet weights but names no weights_file: pass weights_file=")
        if self.weights_file and not WEIGHTS_FILE_PATTERN.match(self.weights_file):
            raise ValueError(f"weights_file {self.weights_file!r} of {self.name} is not a Keras no-top weights file "
                             "(<...>notop.h5 or <...>no_top<...>.h5, no folder): the zoo builds backbones without "
                             "their top, so name that file")
        if self.weights_url and not self.weights_file:
            raise ValueError(f"{self.name} has a weights_url but no weights_file: pass the file name Keras caches "
                             "it under as weights_file=")
        if self.weights_url and not self.weights_url.endswith(f"/{self.weights_file}"):
            raise ValueError(f"weights_url of {self.name} must end in /{self.weights_file} (a download is cached "
                             "under its URL's file name, where the offline check looks): fix one of the two")

    def _check_blocks(self) -> None:
        if self.block_pattern is None:
            if self.trunk_cuts:
                raise ValueError(f"{self.name} declares trunk_cuts= without block_pattern=: pass the pattern that "
                                 "finds its blocks or drop trunk_cuts=")
            if self.blocks is not None:
                raise ValueError(f"{self.name} declares blocks= without block_pattern=: pass the pattern that "
                                 "finds them or drop blocks=")
            return
        try:
            re.compile(self.block_pattern)
        except re.error as exc:
            raise ValueError(f"block_pattern of {self.name} is not a regular expression ({exc}): fix it") from None
        if not isinstance(self.blocks, int) or self.blocks < 1:
            raise ValueError(f"{self.name} declares block_pattern= but not blocks=: pass how many blocks the pattern "
                             "finds in the built backbone (the tests build it and check)")
        if len(self.trunk_cuts) > 2 or len(set(self.trunk_cuts)) != len(self.trunk_cuts) or any(
                not isinstance(k, int) or not 1 <= k < self.blocks for k in self.trunk_cuts):
            raise ValueError(f"trunk_cuts {self.trunk_cuts} of {self.name} must be at most two distinct block counts "
                             f"between 1 and {self.blocks - 1} (train the last k blocks from a cached trunk)")
        unfreeze = self.search_space.get("unfreeze_blocks")
        if unfreeze is not None and getattr(unfreeze, "high", 0) > self.blocks:
            raise ValueError(f"{self.name} may unfreeze up to {unfreeze.high} blocks but declares {self.blocks}: "
                             "lower unfreeze_max (or the search space's unfreeze_blocks)")

    @property
    def cut_choices(self) -> tuple[int, ...]:
        """How many last blocks a cached-trunk fine-tune may train: the declared `trunk_cuts`, else (1, 2).

        Every entry with `block_pattern` can fine-tune from a cached trunk; the cut is "all blocks but the last k".
        """
        if self.block_pattern is None:
            return ()
        return self.trunk_cuts or tuple(k for k in (1, 2) if k < (self.blocks or 0))

    @property
    def finetune(self) -> bool:
        """True for entries that unfreeze the last blocks of a pretrained backbone."""
        return not self.frozen and self.block_pattern is not None

    def default_hparams(self) -> dict[str, Any]:
        """The value of every hyperparameter in the search space when no search chooses it."""
        return {key: param.default_value() for key, param in self.search_space.items()}

    def hparams(self, hp: dict | None = None) -> dict[str, Any]:
        """`hp` over the defaults: every hyperparameter a build reads, chosen or default."""
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
        return assembly.resolve_weights(self, weights, image_size, allow_download)

    def build_feature_extractor(self, image_size: int | None = None, weights: str | None = None):
        """Raw RGB (size, size, 3) in [0, 255] -> pooled feature vector, preprocessing inside, backbone frozen.

        The search caches its outputs for frozen entries. `weights=None` means `default_weights`; the returned
        model's `zoo_weights` says which weights it really has ("imagenet" or "none").
        """
        return assembly.build_extractor(self, image_size, weights, trainable_blocks=0)

    def build_head(self, feature_dim: int, hp: dict | None = None):
        """Feature vector -> BatchNorm -> Dense(head_units, relu) -> Dropout(dropout) -> one sigmoid unit, P(fake)."""
        return assembly.build_head(self, feature_dim, hp)

    def assemble(self, extractor, head):
        """Raw RGB -> P(fake): `extractor` followed by `head`, the model the search saves for frozen entries."""
        return assembly.assemble(self, extractor, head)

    def build_trunk(self, k: int, image_size: int | None = None, weights: str | None = None):
        """(raw RGB -> cached trunk vector, TrunkSplit): everything below the last `k` blocks, frozen; see assembly."""
        return assembly.build_trunk(self, image_size, weights, k)

    def build(self, hp: dict | None = None, image_size: int | None = None, weights: str | None = None):
        """The full model, raw RGB (size, size, 3) in [0, 255] -> P(fake), trainable as the entry says.

        Fine-tuned entries unfreeze the last `hp["unfreeze_blocks"]` blocks of the backbone (BatchNorm excluded).
        `model.zoo_weights` is "imagenet" or "none"; raises WeightsUnavailableError like `resolve_weights`.
        """
        return assembly.build_model(self, hp, image_size, weights)

    def count_params(self) -> tuple[int, int]:
        """(total, trainable) parameters of the default build (weights="none", default size), counted once."""
        if self._counts is None:
            self._counts = assembly.count_params(self)
        return self._counts


class Registry:
    """Entries by name. The zoo has one (`REGISTRY`, behind the module functions); tests may make throwaway ones."""

    def __init__(self):
        self._entries: dict[str, ModelEntry] = {}

    def register_model(self, name: str, *, family: str, input_size: int, sizes: tuple[int, ...] | None = None,
                       frozen: bool, preprocessing: str, reference_preprocess: Callable | None = None,
                       default_weights: str = "none", tags: tuple[str, ...] = (),
                       search_space: dict[str, Param] | None = None, weights_file: str | None = None,
                       weights_url: str | None = None, block_pattern: str | None = None, blocks: int | None = None,
                       unfreeze_max: int = 4, feature_layers: tuple[str, ...] = (),
                       trunk_cuts: tuple[int, ...] = (), spectral_bins: int = 0, pooling: str = "mean",
                       doc: str | None = None,
                       force: bool = False) -> Callable[[Builder], Builder]:
        """Register a backbone builder under `name`; decorators stack, so one builder can serve several variants.

        The builder is `fn(image_size, weights_path) -> keras.Model` taking preprocessed input; the entry adds the
        preprocessing layer (`preprocessing`: a BackbonePreprocess mode), global pooling and the head.
        `reference_preprocess` is the function `preprocessing` must agree with (required with ImageNet weights).
        `block_pattern` is a regex whose first group names a block from a backbone layer name (unmatched layers join
        the next block, trailing ones form a last block), and `blocks` how many it finds; it makes a non-frozen entry
        fine-tune its last blocks. Without `search_space` the entry gets `standard_space(frozen, unfreeze_max if
        fine-tuned)`. `feature_layers` names backbone layers whose globally pooled outputs join the last one in the
        feature vector (multi-level features). `trunk_cuts` (at most two) are the numbers k of last blocks a
        cached-trunk fine-tune may train (default (1, 2)). `pooling` is how each map becomes a vector: "mean" (global
        average) or "mean_std" (the channel means, then their standard deviations over the map). `spectral_bins` > 0 joins a frequency branch to the features:
        the azimuthally averaged log power spectrum of the raw face (`zoo.spectral.SpectralProfile`). Names end in `_frozen` exactly for frozen entries and in
        `_finetune` for fine-tuned ones. Raises ValueError for a declaration that breaks these rules, and for a taken
        name unless `force`.

        >>> @register_model("tiny_frozen", family="tiny", input_size=32, frozen=True, preprocessing="unit")
        ... def tiny(image_size, weights_path):
        ...     return keras.Sequential([keras.Input((image_size, image_size, 3)), keras.layers.Conv2D(4, 3)])
        """
        allowed = tuple(sorted(set(sizes or (input_size,)) | {input_size}))
        space = search_space if search_space is not None else standard_space(
            frozen, unfreeze_max if (not frozen and block_pattern is not None) else None,
            spectral=bool(spectral_bins))

        def decorator(builder: Builder) -> Builder:
            if name in self._entries and not force:
                raise ValueError(f"model {name!r} is already registered (by {self._entries[name].builder.__module__}): "
                                 "choose another name or pass force=True")
            summary = doc or ((builder.__doc__ or "").strip().splitlines() or [""])[0]
            self._entries[name] = ModelEntry(
                name=name, family=family, builder=builder, input_size=input_size, sizes=allowed, frozen=frozen,
                preprocessing=preprocessing, reference_preprocess=reference_preprocess,
                default_weights=default_weights, tags=tuple(tags), search_space=dict(space),
                weights_file=weights_file, weights_url=weights_url, block_pattern=block_pattern, blocks=blocks,
                feature_layers=tuple(feature_layers), trunk_cuts=tuple(trunk_cuts), spectral_bins=int(spectral_bins),
                pooling=pooling, doc=summary)
            return builder

        return decorator

    def unregister_model(self, name: str) -> None:
        """Remove `name` from the registry (for tests that register throwaway models)."""
        self._entries.pop(name, None)

    def list_models(self, pattern: str = "*", *, family: str | None = None, tag: str | None = None) -> list[str]:
        """Sorted names of registered models matching the shell-style `pattern`, optionally one `family` or `tag`."""
        return sorted(name for name, entry in self._entries.items()
                      if fnmatch.fnmatchcase(name, pattern)
                      and (family is None or entry.family == family)
                      and (tag is None or tag in entry.tags))

    def families(self) -> list[str]:
        """Sorted family names of the registered models."""
        return sorted({entry.family for entry in self._entries.values()})

    def _unknown(self, name: str) -> UnknownModelError:
        vocabulary = list(self._entries) + self.families() + ["all"]
        close = difflib.get_close_matches(name, vocabulary, n=5, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "run `deepfake-zoo list` for every name"
        return UnknownModelError(f"unknown model {name!r}: {hint}")

    def get_model(self, name: str) -> ModelEntry:
        """The entry registered as `name`; raises UnknownModelError listing close matches."""
        try:
            return self._entries[name]
        except KeyError:
            raise self._unknown(name) from None

    def resolve_models(self, spec) -> list[str]:
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
                matched = self.list_models()
            elif token in self._entries:
                matched = [token]
            elif token in self.families():
                matched = self.list_models(family=token)
            else:
                matched = self.list_models(token)
            if not matched:
                raise self._unknown(token)
            names.extend(name for name in matched if name not in names)
        return names


REGISTRY = Registry()
register_model = REGISTRY.register_model
unregister_model = REGISTRY.unregister_model
list_models = REGISTRY.list_models
families = REGISTRY.families
get_model = REGISTRY.get_model
resolve_models = REGISTRY.resolve_models
