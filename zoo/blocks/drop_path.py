"""Stochastic depth (https://arxiv.org/abs/1603.09382): drops whole residual branches."""

import keras

from zoo import _validation


@keras.saving.register_keras_serializable(package="zoo")
class DropPath(keras.layers.Layer):
    """Zeroes each example's input with probability `rate` in training, else scales it.

    The kept examples are divided by `1 - rate`, so the expected output is the
    input; in inference the layer is the identity. Applied to a residual
    branch, it drops the whole branch of an example (keras.applications'
    ConvNeXt `StochasticDepth`, timm's `DropPath`).

    Args:
        rate: float in [0, 1). Probability of dropping an example's input.
        seed: int or None. Seed of the drops.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Input shape: any, batch first. Output shape: the input's.

    Example:
    >>> x = keras.ops.ones((4, 2, 2, 3))
    >>> bool(keras.ops.all(DropPath(0.5)(x, training=False) == x))
    True
    >>> sorted({float(v) for v in keras.ops.convert_to_numpy(
    ...     DropPath(0.5, seed=1)(x, training=True)).ravel()})
    [0.0, 2.0]
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _validation.fraction("rate", rate)
        if seed is not None:
            _validation.non_negative_int("seed", seed)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        keep = 1.0 - self.rate
        shape = (keras.ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        # floor(keep + U[0, 1)) is 1 with probability `keep`: keras' StochasticDepth.
        mask = keras.ops.floor(keep + keras.random.uniform(shape, seed=self.seed_generator,
                                                           dtype=inputs.dtype))
        return inputs / keep * mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
