"""Spectral cues: the azimuthally averaged log power spectrum of a face crop, as a Keras layer a model can carry.

Generated and blended faces leave traces in the high frequencies (upsampling checkerboards, blurred blend seams) that
ImageNet features barely see; Durall et al. (CVPR 2020) found the 1-D radial profile of the power spectrum separates
them with a linear classifier. The layer runs in Keras ops (an FFT and one matrix product), so it trains and serves
inside the model, on a GPU too, and a saved `model.keras` still takes raw RGB.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import ops

# ITU-R BT.601 luma: the weights every JPEG codec uses, so the profile sees the same gray the compressor did.
LUMA = (0.299, 0.587, 0.114)
EPSILON = 1e-10


def radial_bins(height: int, width: int, bins: int) -> np.ndarray:
    """(height * width, bins) weights averaging the 2-D power spectrum over rings of equal frequency radius.

    Ring k holds the frequencies whose radius (cycles per pixel, from 0 at DC to sqrt(0.5) at the corner) falls in the
    k-th of `bins` equal steps. A ring no frequency falls in (fine bins on a small image) takes the mean of its
    nearest non-empty neighbours, so every output is defined and the profile stays smooth.
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    radius = np.sqrt(fy ** 2 + fx ** 2).reshape(-1)
    index = np.minimum((radius / np.sqrt(0.5) * bins).astype(int), bins - 1)
    weights = np.zeros((height * width, bins), dtype=np.float64)
    weights[np.arange(height * width), index] = 1.0
    counts = weights.sum(axis=0)
    filled = np.flatnonzero(counts)
    weights[:, filled] /= counts[filled]
    for k in np.flatnonzero(counts == 0):
        below, above = filled[filled < k], filled[filled > k]
        near = [side[i] for side, i in ((below, -1), (above, 0)) if side.size]
        weights[:, k] = weights[:, near].mean(axis=1)
    return weights.astype(np.float32)


@keras.saving.register_keras_serializable(package="zoo")
class SpectralProfile(keras.layers.Layer):
    """Raw RGB (batch, h, w, 3) in [0, 255] -> (batch, bins): the standardised log radial power spectrum of its gray.

    Each ring's mean power is divided by the image's total power (so contrast and exposure do not move the profile),
    logged, and standardised over the bins of that image (zero mean, unit spread: a well-scaled input for a head).
    Bin 0 holds the lowest frequencies (DC), the last bin the highest (the corners of the spectrum).

    >>> SpectralProfile(16)(np.zeros((2, 32, 32, 3))).shape
    (2, 16)
    """

    def __init__(self, bins: int = 32, **kwargs):
        kwargs.setdefault("dtype", "float32")  # an FFT under mixed precision would lose the faint high frequencies
        super().__init__(**kwargs)
        if int(bins) < 2:
            raise ValueError(f"SpectralProfile needs at least 2 bins, got {bins}; pass bins=32 or so")
        self.bins = int(bins)
        self._rings = None
        self._pixels = None

    def build(self, input_shape):
        height, width = input_shape[-3], input_shape[-2]
        if height is None or width is None or input_shape[-1] != 3:
            raise ValueError(f"SpectralProfile needs RGB images of a fixed size, got shape {tuple(input_shape)}; "
                             "resize the input to (size, size, 3) first")
        self._pixels = int(height) * int(width)
        self._rings = ops.convert_to_tensor(radial_bins(int(height), int(width), self.bins))
        super().build(input_shape)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        gray = ops.sum(x * ops.convert_to_tensor(np.array(LUMA, dtype=np.float32)), axis=-1)
        real, imag = ops.fft2((gray, ops.zeros_like(gray)))
        power = real * real + imag * imag
        flat = ops.reshape(power, (-1, self._pixels))
        flat = flat / (ops.sum(flat, axis=-1, keepdims=True) + EPSILON)
        profile = ops.log(ops.matmul(flat, self._rings) + EPSILON)
        mean = ops.mean(profile, axis=-1, keepdims=True)
        spread = ops.std(profile, axis=-1, keepdims=True)
        return (profile - mean) / (spread + 1e-6)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.bins)

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}
