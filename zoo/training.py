"""Compile a zoo model the project's one way: Adam, binary cross-entropy, ROC AUC and accuracy.

Fine-tuned models train their unfrozen backbone blocks with a smaller learning rate than the head. Keras 3 has no
per-variable learning rate, so `BackboneScaledAdam` scales the step of the named backbone variables; it is a
registered Keras object, so a saved model reloads with its optimizer.
"""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="zoo")
class BackboneScaledAdam(keras.optimizers.Adam):
    """Adam whose step for `backbone_variables` (variable paths) uses learning_rate * backbone_lr_ratio."""

    def __init__(self, learning_rate=0.001, backbone_lr_ratio: float = 0.1,
                 backbone_variables: list[str] | tuple[str, ...] = (), **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.backbone_lr_ratio = float(backbone_lr_ratio)
        self.backbone_variables = list(backbone_variables)

    def build(self, variables):
        super().build(variables)
        paths = set(self.backbone_variables)
        # update_step receives backend variables, so remember the backbone ones by the optimizer's own index.
        self._backbone_indices = {i for i, v in enumerate(variables) if v.path in paths}

    def update_step(self, gradient, variable, learning_rate):
        if self._get_variable_index(variable) in self._backbone_indices:
            learning_rate = learning_rate * self.backbone_lr_ratio
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "backbone_lr_ratio": self.backbone_lr_ratio,
                "backbone_variables": list(self.backbone_variables)}


def find_backbone(model):
    """The layer named "backbone" anywhere inside `model` (zoo builds always name it so), or None."""
    for layer in model.layers:
        if layer.name == "backbone":
            return layer
        if isinstance(layer, keras.Model):
            found = find_backbone(layer)
            if found is not None:
                return found
    return None


def compile_model(model, hp: dict) -> None:
    """Compile `model` with Adam(hp["learning_rate"]), binary cross-entropy, and metrics roc_auc and accuracy.

    When `hp` has `backbone_lr_ratio` and the backbone has trainable variables, those move with
    learning_rate * backbone_lr_ratio (BackboneScaledAdam); everything else uses plain Adam.
    """
    learning_rate = float(hp["learning_rate"])
    backbone = find_backbone(model)
    backbone_paths = [v.path for v in backbone.trainable_variables] if backbone is not None else []
    if hp.get("backbone_lr_ratio") is not None and backbone_paths:
        optimizer = BackboneScaledAdam(learning_rate, backbone_lr_ratio=float(hp["backbone_lr_ratio"]),
                                       backbone_variables=backbone_paths)
    else:
        optimizer = keras.optimizers.Adam(learning_rate)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.AUC(name="roc_auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
    )
