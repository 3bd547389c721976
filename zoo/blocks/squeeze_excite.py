"""Squeeze-and-excitation (Hu et al. 2017, https://arxiv.org/abs/1709.01507)."""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks.conv2d import Conv2D


def squeeze_width(channels, ratio, divisor=None):
    """The reduced width of a squeeze-excite: `ratio` of `channels`, at least 1.

    Truncated (EfficientNet's, of a block's input channels), or with `divisor`
    rounded to the nearest multiple of it, never 10% lower (MobileNetV3's
    `_depth`, of a block's hidden channels).

    Example:
    >>> squeeze_width(10, 0.25), squeeze_width(72, 0.25, divisor=8), squeeze_width(120, 0.25, 8)
    (2, 24, 32)
    """
    if divisor is None:
        return max(1, int(channels * ratio))
    value = channels * ratio
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@keras.saving.register_keras_serializable(package="zoo")
class SqueezeExcite(keras.layers.Layer):
    """Channel gates from the global average: mean -> 1x1 reduce -> 1x1 expand -> gate.

    The two 1x1 convolutions have biases, as keras.applications'
    EfficientNet (`se_reduce`, `se_expand`) and MobileNetV3. The output is
    the input scaled per example and channel, so its shape is the input's.

    Args:
        squeeze_filters: int. Channels of the reduced descriptor.
        activation: str. After the reduce convolution (EfficientNet: swish).
        gate_activation: str. Of the gates (sigmoid; MobileNetV3: hard_sigmoid).
        data_format: `"channels_last"`, `"channels_first"` or None (Keras').
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Input shape: 4D `(batch, height, width, channels)` (channels_last).
    Output shape: the input's.

    Example:
    >>> se = SqueezeExcite(2)
    >>> tuple(se(keras.ops.ones((2, 5, 5, 8))).shape)
    (2, 5, 5, 8)
    >>> [(layer.name, tuple(layer.kernel.shape)) for layer in (se.reduce, se.expand)]
    [('reduce', (1, 1, 8, 2)), ('expand', (1, 1, 2, 8))]
    """

    def __init__(self, squeeze_filters, activation="swish", gate_activation="sigmoid",
                 data_format=None, **kwargs):
        super().__init__(**_validation.layer_kwargs(kwargs))
        self.squeeze_filters = _validation.positive_int("squeeze_filters", squeeze_filters)
        self.activation = _validation.activation(activation)
        self.gate_activation = _validation.activation(gate_activation, "gate_activation")
        self.data_format = _validation.data_format(data_format)
        self.compute_format = _layout.compute_format(self.data_format)
        self.input_spec = keras.InputSpec(ndim=4)
        self.reduce = self.expand = None

    def build(self, input_shape):
        channels = _layout.fix_channels(self, input_shape)
        args = {"data_format": self.compute_format, "dtype": self.dtype_policy}
        self.reduce = Conv2D(self.squeeze_filters, 1, activation=self.activation,
                             name="reduce", **args)
        self.expand = Conv2D(channels, 1, activation=self.gate_activation, name="expand",
                             **args)
        pooled = [1, 1, 1, 1]
        pooled[0] = input_shape[0]
        pooled[_validation.channel_axis(self.compute_format) % 4] = channels
        self.reduce.build(tuple(pooled))
        self.expand.build(self.reduce.compute_output_shape(tuple(pooled)))

    def call(self, inputs, training=None):
        x = _layout.to_compute(inputs, self.data_format, self.compute_format)
        spatial = (1, 2) if self.compute_format == "channels_last" else (2, 3)
        gates = self.expand(self.reduce(keras.ops.mean(x, axis=spatial, keepdims=True)))
        return _layout.from_compute(x * gates, self.data_format, self.compute_format)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "squeeze_filters": self.squeeze_filters,
                "activation": self.activation, "gate_activation": self.gate_activation,
                "data_format": self.data_format}
