"""LayerScale (Touvron et al. 2021, https://arxiv.org/abs/2103.17239)."""

import keras

from zoo import _validation


@keras.saving.register_keras_serializable(package="zoo")
class LayerScale(keras.layers.Layer):
    """Multiplies each channel by a learned scale, initialized to `init_value`.

    A small `init_value` (1e-6 in ConvNeXt) starts a residual branch near zero.

    Args:
        init_value: float. Initial value of every scale (finite).
        axis: int. The channel axis (-1 for channels_last, 1 for channels_first).
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Input shape: any, with a known size along `axis`. Output shape: the input's.

    Example:
    >>> scale = LayerScale(0.5)
    >>> keras.ops.convert_to_numpy(scale(keras.ops.ones((1, 2, 3)))).tolist()
    [[[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]]
    >>> tuple(scale.gamma.shape)
    (3,)
    """

    def __init__(self, init_value=1e-6, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.init_value = _validation.finite_float("init_value", init_value)
        if not _validation.is_int(axis):
            raise _validation.ArgumentTypeError(f"axis must be an int, received axis={axis!r}")
        self.axis = axis
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank or self.axis % rank == 0:
            raise ValueError(f"{self.name}: axis must be a non-batch axis of inputs of rank "
                             f"{rank}, received axis={self.axis}")
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(f"{self.name} needs a known size along axis={self.axis}, "
                             f"received input_shape={tuple(input_shape)}")
        self.input_spec = keras.InputSpec(ndim=rank, axes={self.axis: channels})
        self.gamma = self.add_weight(shape=(channels,), name="gamma",
                                     initializer=keras.initializers.Constant(self.init_value))
        # The scales along `axis`, broadcast over the other axes.
        self._broadcast = [1] * (rank - 1)
        self._broadcast[self.axis % rank - 1] = channels

    def call(self, inputs):
        gamma = keras.ops.cast(self.gamma, inputs.dtype)
        return inputs * keras.ops.reshape(gamma, self._broadcast)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "init_value": self.init_value, "axis": self.axis}
