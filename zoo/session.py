"""Start each model from a clean TensorFlow session, so building many models in one process keeps memory flat.

`keras.backend.clear_session()` and `gc.collect()` are not enough with TensorFlow 2.21: every traced training step
(Keras `fit`'s own, or any `tf.function` with an optimizer) calls the default strategy's all-reduce, whose
`tf.custom_gradient` registers a gradient function in TensorFlow's global gradient registry and never removes it.
That closure holds the traced graph, so each trained model leaves its graph behind: measured here, 7-12 MB per
search trial, for good (TensorFlow issues #27492 and #97697). `reset_session` drops those registrations too.

>>> from deepfake_zoo.zoo.session import reset_session
>>> reset_session(seed=0)  # doctest: +SKIP
"""
from __future__ import annotations

import gc

import keras

CUSTOM_GRADIENT_PREFIX = "CustomGradient-"
# Registrations that existed before our first reset belong to whoever made them; only later ones are dropped.
_kept: frozenset[str] | None = None


def _gradient_registry() -> dict | None:
    """TensorFlow's name -> gradient-function table, or None if this TensorFlow no longer keeps one there."""
    try:
        from tensorflow.python.framework import ops
        return ops._gradient_registry._registry  # private: no public API removes a registration
    except (ImportError, AttributeError):
        return None


def reset_session(seed: int | None = None) -> int:
    """Free every model and traced graph made since the last reset, then reseed Python, NumPy and TensorFlow.

    Call it between models, as the search does between trials: a function traced before the reset must not be
    differentiated again after it (its custom gradients are gone), while calling it still works. Registrations made
    before the first reset in this process are kept. Processes, not threads, run trials in parallel, so no other
    trace is under way. Returns the number of custom-gradient registrations dropped.
    """
    global _kept
    registry = _gradient_registry()
    keras.backend.clear_session()
    dropped = 0
    if registry is not None:
        if _kept is None:
            _kept = frozenset(registry)
        for name in [n for n in registry if n.startswith(CUSTOM_GRADIENT_PREFIX) and n not in _kept]:
            del registry[name]
            dropped += 1
    gc.collect()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    return dropped
