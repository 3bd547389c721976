"""Losses of the zoo (keras only): what `zoo.train` compiles models with."""

import keras

@keras.saving.register_keras_serializable(package="zoo")
class SparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of integer labels and logits, with label smoothing.

    Keras' sparse cross-entropy has no `label_smoothing`. Registered here so
    that a `.keras` file compiled with it loads wherever zoo is installed.

    Args:
        num_classes: int. Width of the logits.
        label_smoothing: float in [0, 1).
        reduction: a Keras reduction; None gives one loss per example.

    Example:

    >>> import numpy as np
    >>> loss = SparseCrossentropy(3, label_smoothing=0.0)
    >>> reference = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    >>> y, logits = np.array([0, 2]), np.array([[2.0, 0.0, 1.0], [0.5, 0.1, 3.0]])
    >>> bool(np.isclose(float(loss(y, logits)), float(reference(y, logits))))
    True
    """

    def __init__(self, num_classes, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name="sparse_crossentropy"):
        super().__init__(reduction=reduction, name=name)
        self.num_classes = int(num_classes)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = keras.ops.one_hot(keras.ops.cast(y_true, "int32"), self.num_classes)
        return keras.losses.categorical_crossentropy(
            labels, y_pred, from_logits=True, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "label_smoothing": self.label_smoothing}
