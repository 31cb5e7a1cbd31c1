"""MobileNetV2 (frozen, ImageNet) with a frequency branch: its pooled features beside the face's power spectrum.

The spectrum (32 radial bins of the azimuthally averaged log power, `zoo.spectral.SpectralProfile`) is computed inside
the model on the raw face, cached with the backbone's features, and joins them before the head. Alone it is a weak
cue on the DFDC crops (a logistic regression on it: ROC AUC 0.60 at 128px); this entry measures what it adds.
"""
from __future__ import annotations

from deepfake_zoo.zoo.models.mobilenet import MOBILENET_V2, mobilenet_v2
from deepfake_zoo.zoo.registry import register_model

register_model("mobilenet_v2_spectral_frozen", frozen=True, spectral_bins=32,
               doc="MobileNetV2 (alpha 1.0) without its top, with a 32-bin power-spectrum branch",
               **MOBILENET_V2)(mobilenet_v2)
