"""The pre-activation bottleneck of ResNet v2 (He et al. 2016, https://arxiv.org/abs/1603.05027)."""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.blocks.batch_norm import BatchNorm
from zoo.blocks.conv import BatchNormBlock
from zoo.blocks.conv2d import Conv2D


@keras.saving.register_keras_serializable(package="zoo")
class PreActBottleneck(BatchNormBlock):
    """BN-ReLU first, then 1x1 -> 3x3 (strided) -> 1x1 (x4, with bias); plus a shortcut.

    As `keras.applications`' `residual_block_v2`: `preact_bn` and
    `preact_act` normalize the input; `conv1` and `conv2` are `ConvBN`
    units (their BatchNorm folds for inference), `conv3` a plain
    convolution with bias; nothing follows the addition. Where the input
    width differs from `4 * filters`, the shortcut is a 1x1 convolution
    with bias (`shortcut`) of the pre-activated input; otherwise the input
    itself, subsampled by a 1x1 max-pool (`shortcut_pool`) when strided.
    `preact_bn` stays a plain BatchNorm: it follows an addition, so no
    convolution can take it in and `fold_batchnorm()` leaves it as it is.

    Args:
        filters: int. Width of the 1x1 and 3x3 convolutions; the output
            has `4 * filters` channels.
        strides: int. Stride of the 3x3 convolution (padded 1 on each side,
            as keras.applications) and of the shortcut.
        data_format: `"channels_last"`, `"channels_first"` or None (Keras').
        bn_momentum, bn_epsilon, bn_synchronized: as for `ConvBN`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Input shape: 4D `(batch, rows, cols, channels)` (channels_last).
    Output shape: `(batch, ceil(rows / strides), ceil(cols / strides), 4 * filters)`.

    Example:
    >>> block = PreActBottleneck(4, strides=2)
    >>> tuple(block(keras.ops.ones((2, 7, 7, 8))).shape)
    (2, 4, 4, 16)
    >>> [layer.name for layer in block._layers]
    ['preact_bn', 'preact_act', 'conv1', 'conv2', 'conv3', 'add', 'shortcut']
    """

    expansion = 4

    def __init__(self, filters, strides=1, data_format=None, bn_momentum=0.9,
                 bn_epsilon=1.001e-5, bn_synchronized=False, **kwargs):
        super().__init__(data_format, bn_momentum, bn_epsilon, bn_synchronized, **kwargs)
        self.filters = _validation.positive_int("filters", filters)
        self.strides = _validation.positive_int("strides", strides)
        self.output_channels = self.expansion * self.filters
        args = {"dtype": self.dtype_policy}
        self.preact_bn = BatchNorm(
            axis=_validation.channel_axis(self.compute_format), momentum=self.bn_momentum,
            epsilon=self.bn_epsilon, synchronized=self.bn_synchronized, name="preact_bn", **args)
        self.preact_act = keras.layers.Activation("relu", name="preact_act", **args)
        self.conv1 = self._unit(self.filters, 1, "conv1")
        # "symmetric": ZeroPadding 1 + valid when strided, keras.applications' padding.
        self.conv2 = self._unit(self.filters, 3, "conv2", strides=self.strides)
        self.conv3 = self._conv(self.output_channels, "conv3")
        self.add = keras.layers.Add(name="add", **args)
        self.shortcut = None  # made in build, from the input width

    def _conv(self, filters, name, strides=1):
        return Conv2D(filters, 1, strides=strides, data_format=self.compute_format,
                      kernel_initializer="he_normal", name=name, dtype=self.dtype_policy)

    @property
    def projection(self):
        """Whether the shortcut is a convolution (known once built)."""
        return isinstance(self.shortcut, keras.layers.Conv2D)

    def build(self, input_shape):
        in_channels = _layout.fix_channels(self, input_shape)
        if in_channels != self.output_channels:
            self.shortcut = self._conv(self.output_channels, "shortcut", self.strides)
        elif self.strides > 1:
            self.shortcut = keras.layers.MaxPooling2D(
                1, strides=self.strides, data_format=self.compute_format,
                name="shortcut_pool", dtype=self.dtype_policy)
        shape = _layout.shape_to_compute(input_shape, self.data_format, self.compute_format)
        preact = build_chain([self.preact_bn, self.preact_act], shape)
        output = build_chain([self.conv1, self.conv2, self.conv3], preact)
        if self.shortcut is not None:
            self.shortcut.build(shape)
        self.add.build([output, output])

    def call(self, inputs, training=None):
        inputs = _layout.to_compute(inputs, self.data_format, self.compute_format)
        preact = self.preact_act(self.preact_bn(inputs, training=training))
        x = preact
        for unit in (self.conv1, self.conv2, self.conv3):
            x = unit(x, training=training)
        shortcut = inputs
        if self.projection:
            shortcut = self.shortcut(preact, training=training)
        elif self.shortcut is not None:
            shortcut = self.shortcut(inputs)
        outputs = self.add([shortcut, x])
        return _layout.from_compute(outputs, self.data_format, self.compute_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        channel_axis = _validation.channel_axis(self.data_format) % 4
        for axis in range(1, 4):
            if axis == channel_axis:
                shape[axis] = self.output_channels
            elif shape[axis] is not None:
                # The padded 3x3 and the 1x1 max-pool both give ceil(size / strides).
                shape[axis] = -(-shape[axis] // self.strides)
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}
