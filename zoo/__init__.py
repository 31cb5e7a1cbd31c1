"""The model zoo: registered backbones (name -> keras.Model with preprocessing, head and search space).

Importing `zoo` registers every module in zoo/models/ and the custom Keras objects, so saved models reload with
`keras.saving.load_model` and no custom_objects.

>>> from deepfake_zoo import zoo
>>> zoo.resolve_models("inception")
['inception_v3_finetune', 'inception_v3_frozen']
>>> model = zoo.get_model("cnn").build(image_size=64)

The catalogue (register, list, resolve) is zoo.registry; building a model from an entry is zoo.assembly.
"""
from __future__ import annotations

import importlib
import pkgutil

from deepfake_zoo.zoo import layers, search_space  # noqa: F401  (layers registers saved-model layers)
from deepfake_zoo.zoo.preprocessing import BackbonePreprocess
from deepfake_zoo.zoo.registry import (ModelEntry, Registry, UnknownModelError, families, get_model, list_models,
                                       register_model, resolve_models, unregister_model)
from deepfake_zoo.zoo.session import reset_session
from deepfake_zoo.zoo.training import BackboneScaledAdam, compile_model
from deepfake_zoo.zoo.weights import WeightsUnavailableError

__all__ = [
    "BackbonePreprocess", "BackboneScaledAdam", "ModelEntry", "Registry", "UnknownModelError", "WeightsUnavailableError",
    "compile_model", "discover_models", "families", "get_model", "list_models", "register_model", "reset_session",
    "resolve_models", "search_space", "unregister_model",
]


def discover_models() -> list[str]:
    """Import every module in zoo/models/ so its decorators register; adding a file there is the only step."""
    from deepfake_zoo.zoo import models

    imported = []
    for info in pkgutil.iter_modules(models.__path__, prefix=f"{models.__name__}."):
        importlib.import_module(info.name)
        imported.append(info.name)
    return imported


discover_models()
