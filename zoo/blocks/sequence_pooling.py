"""Pooling of a masked sequence into one vector per example."""

import keras

from zoo import _validation
from zoo.blocks._masked_softmax import masked_softmax

MODES = ("avg", "max", "attention")


@keras.saving.register_keras_serializable(package="zoo")
class SequencePooling(keras.layers.Layer):
    """Reduces `(batch, time, features)` to `(batch, features)`, honouring the mask.

    Padded steps never contribute; `"attention"` is a learned score per
    step, softmax over the real steps (Yang et al. 2016). A fully padded
    row pools to zeros. (Keras' `GlobalMaxPooling1D` ignores masks.)

    Args:
        mode: str. `"avg"`, `"max"` or `"attention"`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> x = keras.ops.convert_to_tensor([[[1.0], [3.0], [100.0]]])
    >>> mask = keras.ops.convert_to_tensor([[True, True, False]])
    >>> keras.ops.convert_to_numpy(SequencePooling("avg")(x, mask=mask)).tolist()
    [[2.0]]
    """

    def __init__(self, mode="avg", **kwargs):
        super().__init__(**_validation.layer_kwargs(kwargs))
        self.mode = _validation.one_of("mode", mode, MODES)
        self.input_spec = keras.InputSpec(ndim=3)
        # The output has no time axis, so no mask goes further.
        self.supports_masking = True
        # No bias: softmax is shift-invariant, so a bias would get no gradient.
        self.score = (
            keras.layers.Dense(1, use_bias=False, name="score", dtype=self.dtype_policy)
            if self.mode == "attention"
            else None
        )

    def build(self, input_shape):
        if self.score is not None:
            self.score.build(input_shape)

    def call(self, inputs, mask=None):
        if mask is None:
            mask = keras.ops.ones(keras.ops.shape(inputs)[:2], dtype="bool")
        mask = keras.ops.cast(mask, "bool")
        weights_mask = keras.ops.expand_dims(keras.ops.cast(mask, inputs.dtype), -1)
        if self.mode == "avg":
            total = keras.ops.sum(inputs * weights_mask, axis=1)
            count = keras.ops.maximum(keras.ops.sum(weights_mask, axis=1), 1)
            return total / count
        if self.mode == "max":
            lowest = keras.ops.min(inputs) - 1
            pooled = keras.ops.max(
                keras.ops.where(keras.ops.expand_dims(mask, -1), inputs, lowest), axis=1)
            has_steps = keras.ops.any(mask, axis=1, keepdims=True)
            return keras.ops.where(has_steps, pooled, keras.ops.zeros_like(pooled))
        attention = masked_softmax(self.score(inputs)[..., 0], mask, axis=1)
        attention = attention * keras.ops.cast(mask, "float32")  # fully padded -> 0
        attention = keras.ops.cast(keras.ops.expand_dims(attention, -1), inputs.dtype)
        return keras.ops.sum(attention * inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
