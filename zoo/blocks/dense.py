"""Dense blocks and transitions of DenseNet (Huang et al. 2017, https://arxiv.org/abs/1608.06993).

Every unit is pre-activation (BatchNorm -> ReLU -> convolution): the
BatchNorm before a unit's first convolution normalizes the unit's input,
so it is a plain `BatchNorm` with no convolution to fold into; a
convolution directly followed by its BatchNorm is a `ConvBN` (folds for
inference).
"""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.blocks.batch_norm import BatchNorm
from zoo.blocks.conv import BatchNormBlock
from zoo.blocks.conv2d import Conv2D


class _PreActivationBlock(BatchNormBlock):
    """A block whose first units are BatchNorm -> ReLU on its input (`norm`, `act`)."""

    def __init__(self, data_format=None, bn_momentum=0.99, bn_epsilon=1.001e-5,
                 bn_synchronized=False, **kwargs):
        super().__init__(data_format, bn_momentum, bn_epsilon, bn_synchronized, **kwargs)
        self.channel_axis = _validation.channel_axis(self.compute_format)
        self.norm = BatchNorm(axis=self.channel_axis, momentum=self.bn_momentum,
                              epsilon=self.bn_epsilon, synchronized=self.bn_synchronized,
                              name="norm", dtype=self.dtype_policy)
        self.act = keras.layers.Activation("relu", name="act", dtype=self.dtype_policy)

    def _conv(self, filters, kernel_size, name):
        return Conv2D(filters, kernel_size, padding="same", use_bias=False,
                      kernel_initializer="he_normal", data_format=self.compute_format,
                      name=name, dtype=self.dtype_policy)

    def _compute_shape(self, shape):
        return _layout.shape_to_compute(shape, self.data_format, self.compute_format)


@keras.saving.register_keras_serializable(package="zoo")
class DenseLayer(_PreActivationBlock):
    """BN -> ReLU -> 1x1 ConvBN -> ReLU -> 3x3 conv, concatenated to the input.

    The output has the input's channels plus `growth_rate` new ones.

    Args:
        growth_rate: int. Channels each layer adds (the paper's k).
        bottleneck_width: int. Width of the 1x1 bottleneck, in growth rates.
        data_format: `"channels_last"`, `"channels_first"` or None (Keras').
        bn_momentum, bn_epsilon, bn_synchronized: as for `ConvBN` (by default
            keras.applications' DenseNet BatchNorm: 0.99, 1.001e-5).
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> layer = DenseLayer(growth_rate=8)
    >>> tuple(layer(keras.ops.ones((2, 6, 6, 5))).shape)
    (2, 6, 6, 13)
    >>> [sub.name for sub in layer._layers]
    ['norm', 'act', 'bottleneck', 'conv', 'concat']
    """

    def __init__(self, growth_rate=32, bottleneck_width=4, **kwargs):
        super().__init__(**kwargs)
        self.growth_rate = _validation.positive_int("growth_rate", growth_rate)
        self.bottleneck_width = _validation.positive_int("bottleneck_width", bottleneck_width)
        self.bottleneck = self._unit(self.bottleneck_width * self.growth_rate, 1, "bottleneck")
        self.conv = self._conv(self.growth_rate, 3, "conv")
        self.concat = keras.layers.Concatenate(axis=self.channel_axis, name="concat",
                                               dtype=self.dtype_policy)

    def build(self, input_shape):
        _layout.fix_channels(self, input_shape)
        shape = self._compute_shape(input_shape)
        new = build_chain([self.norm, self.act, self.bottleneck, self.conv], shape)
        self.concat.build([shape, new])

    def call(self, inputs, training=None):
        inputs = _layout.to_compute(inputs, self.data_format, self.compute_format)
        x = self.act(self.norm(inputs, training=training))
        x = self.conv(self.bottleneck(x, training=training), training=training)
        outputs = self.concat([inputs, x])
        return _layout.from_compute(outputs, self.data_format, self.compute_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axis = _validation.channel_axis(self.data_format)
        shape[axis] = None if shape[axis] is None else shape[axis] + self.growth_rate
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "growth_rate": self.growth_rate,
                "bottleneck_width": self.bottleneck_width}


@keras.saving.register_keras_serializable(package="zoo")
class DenseBlock(BatchNormBlock):
    """`num_layers` `DenseLayer`s in a row (`layer1`, `layer2`, ...): each sees every earlier map.

    Args:
        num_layers: int. Number of dense layers.
        growth_rate, bottleneck_width: as for `DenseLayer`.
        data_format, bn_momentum, bn_epsilon, bn_synchronized, **kwargs: as
            for `DenseLayer`.

    Example:
    >>> block = DenseBlock(3, growth_rate=4)
    >>> tuple(block(keras.ops.ones((2, 6, 6, 8))).shape)
    (2, 6, 6, 20)
    """

    def __init__(self, num_layers, growth_rate=32, bottleneck_width=4, data_format=None,
                 bn_momentum=0.99, bn_epsilon=1.001e-5, bn_synchronized=False, **kwargs):
        super().__init__(data_format, bn_momentum, bn_epsilon, bn_synchronized, **kwargs)
        self.num_layers = _validation.positive_int("num_layers", num_layers)
        self.growth_rate = _validation.positive_int("growth_rate", growth_rate)
        self.bottleneck_width = _validation.positive_int("bottleneck_width", bottleneck_width)
        # Nested layers compute in this block's format: the block transposes once.
        self.dense_layers = [
            DenseLayer(self.growth_rate, self.bottleneck_width, data_format=self.compute_format,
                       bn_momentum=self.bn_momentum, bn_epsilon=self.bn_epsilon,
                       bn_synchronized=self.bn_synchronized, name=f"layer{index}",
                       dtype=self.dtype_policy)
            for index in range(1, self.num_layers + 1)]

    def build(self, input_shape):
        _layout.fix_channels(self, input_shape)
        build_chain(self.dense_layers,
                    _layout.shape_to_compute(input_shape, self.data_format, self.compute_format))

    def call(self, inputs, training=None):
        x = _layout.to_compute(inputs, self.data_format, self.compute_format)
        for layer in self.dense_layers:
            x = layer(x, training=training)
        return _layout.from_compute(x, self.data_format, self.compute_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axis = _validation.channel_axis(self.data_format)
        if shape[axis] is not None:
            shape[axis] += self.num_layers * self.growth_rate
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers,
                "growth_rate": self.growth_rate, "bottleneck_width": self.bottleneck_width}


@keras.saving.register_keras_serializable(package="zoo")
class Transition(_PreActivationBlock):
    """BN -> ReLU -> 1x1 conv (`compression` of the channels) -> 2x2/2 average pool.

    The width is `int(channels * compression)`, as keras.applications; the
    pooling is "valid" (an odd size is floored).

    Args:
        compression: float in (0, 1]. Output channels per input channel (the paper's theta).
        data_format, bn_momentum, bn_epsilon, bn_synchronized, **kwargs: as
            for `DenseLayer`.

    Example:
    >>> tuple(Transition()(keras.ops.ones((2, 8, 7, 6))).shape)
    (2, 4, 3, 3)
    """

    def __init__(self, compression=0.5, **kwargs):
        super().__init__(**kwargs)
        self.compression = _validation.finite_float("compression", compression, 0.0, 1.0,
                                                    low_open=True)
        self.conv = None
        self.pool = keras.layers.AveragePooling2D(2, strides=2, data_format=self.compute_format,
                                                  name="pool", dtype=self.dtype_policy)

    def _filters(self, channels):
        filters = int(channels * self.compression)
        if filters < 1:
            raise ValueError(f"{self.name}: compression={self.compression} of {channels} "
                             "input channels leaves no channel; received compression="
                             f"{self.compression} for inputs with {channels} channels")
        return filters

    def build(self, input_shape):
        channels = _layout.fix_channels(self, input_shape)
        # Made here, from the input width; created before `pool`'s build, in call order.
        self.conv = self._conv(self._filters(channels), 1, "conv")
        build_chain([self.norm, self.act, self.conv, self.pool], self._compute_shape(input_shape))

    def call(self, inputs, training=None):
        x = _layout.to_compute(inputs, self.data_format, self.compute_format)
        x = self.conv(self.act(self.norm(x, training=training)), training=training)
        return _layout.from_compute(self.pool(x), self.data_format, self.compute_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axis = _validation.channel_axis(self.data_format) % 4
        for index in range(1, 4):
            if index == axis:
                shape[index] = None if shape[index] is None else self._filters(shape[index])
            elif shape[index] is not None:
                shape[index] //= 2
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "compression": self.compression}
