"""Learned absolute position embeddings (as BERT's, https://arxiv.org/abs/1810.04805)."""

import keras

from zoo import _validation


@keras.saving.register_keras_serializable(package="zoo")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position to a sequence of embeddings.

    Position `t` gets `embeddings[t]`; shorter sequences use the first rows.
    The mask passes through.

    Args:
        sequence_length: int. Most positions a sequence may have.
        initializer: str or initializer. Of the position vectors
            (`keras.layers.Embedding`'s default).
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> layer = PositionEmbedding(sequence_length=6)
    >>> tuple(layer(keras.ops.zeros((2, 4, 3))).shape), tuple(layer.embeddings.shape)
    ((2, 4, 3), (6, 3))
    """

    def __init__(self, sequence_length, initializer="uniform", **kwargs):
        super().__init__(**_validation.layer_kwargs(kwargs))
        self.sequence_length = _validation.positive_int("sequence_length", sequence_length)
        self.initializer = _validation.initializer("initializer", initializer)
        self.supports_masking = True
        self.input_spec = keras.InputSpec(ndim=3)
        self.embeddings = None

    def build(self, input_shape):
        width = input_shape[-1]
        if width is None:
            raise ValueError(f"{self.name} needs a known input width, received "
                             f"input_shape={tuple(input_shape)}")
        self.input_spec = keras.InputSpec(ndim=3, axes={-1: width})
        self.embeddings = self.add_weight(
            shape=(self.sequence_length, width), initializer=self.initializer,
            name="embeddings")

    def call(self, inputs):
        if isinstance(inputs.shape[1], int) and inputs.shape[1] > self.sequence_length:
            raise ValueError(
                f"{self.name} has sequence_length={self.sequence_length} positions, "
                f"received inputs with shape={tuple(inputs.shape)}")
        time = keras.ops.shape(inputs)[1]
        positions = keras.ops.cast(self.embeddings[:time], inputs.dtype)
        return inputs + positions[None]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(), "sequence_length": self.sequence_length,
            "initializer": keras.initializers.serialize(self.initializer)
        }
