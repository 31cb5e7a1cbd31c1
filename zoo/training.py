"""Compile a zoo model the project's one way: Adam, binary cross-entropy, ROC AUC and accuracy.

Fine-tuned models train their unfrozen backbone blocks with a smaller learning rate than the head. Keras 3 has no
per-variable learning rate, so `BackboneScaledAdam` scales the step of the backbone's variables, named by their
position in `model.trainable_variables`: the order Keras itself relies on to restore optimizer state, and unlike
variable paths it survives renaming and reloading. It is a registered Keras object, so a saved model reloads with it.
"""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="zoo")
class BackboneScaledAdam(keras.optimizers.Adam):
    """Adam whose step for the variables at `backbone_indices` uses learning_rate * backbone_lr_ratio.

    `backbone_indices` are positions in the variable list the optimizer is built with (the model's
    `trainable_variables`); compile_model fills them in.
    """

    def __init__(self, learning_rate=0.001, backbone_lr_ratio: float = 0.1,
                 backbone_indices: list[int] | tuple[int, ...] = (), **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.backbone_lr_ratio = float(backbone_lr_ratio)
        self.backbone_indices = sorted(int(i) for i in backbone_indices)
        self._backbone_set = frozenset(self.backbone_indices)

    def build(self, variables):
        if self.backbone_indices and self.backbone_indices[-1] >= len(variables):
            raise ValueError(f"BackboneScaledAdam got {len(variables)} variables but backbone index "
                             f"{self.backbone_indices[-1]}: compile it with zoo.compile_model on the same model")
        super().build(variables)

    def update_step(self, gradient, variable, learning_rate):
        # update_step receives backend variables; the optimizer's own index maps them back to build()'s positions.
        if self._get_variable_index(variable) in self._backbone_set:
            learning_rate = learning_rate * self.backbone_lr_ratio
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "backbone_lr_ratio": self.backbone_lr_ratio,
                "backbone_indices": list(self.backbone_indices)}


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
    in_backbone = {id(v) for v in backbone.trainable_variables} if backbone is not None else set()
    indices = [i for i, v in enumerate(model.trainable_variables) if id(v) in in_backbone]
    if hp.get("backbone_lr_ratio") is not None and indices:
        optimizer = BackboneScaledAdam(learning_rate, backbone_lr_ratio=float(hp["backbone_lr_ratio"]),
                                       backbone_indices=indices)
    else:
        optimizer = keras.optimizers.Adam(learning_rate)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.AUC(name="roc_auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
    )
