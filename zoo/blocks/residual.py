"""Residual blocks of ResNet (He et al. 2015, https://arxiv.org/abs/1512.03385)."""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.blocks.conv import BatchNormBlock


class _ResidualBlock(BatchNormBlock):
    """Shared wiring: `relu(branch(x) + shortcut(x))`; subclasses create `self.branch`.

    The projection shortcut is made in `build`, once the input width is known.
    """

    expansion = 1

    def __init__(self, filters, strides=1, zero_init_residual=False, **kwargs):
        super().__init__(**kwargs)
        self.filters = _validation.positive_int("filters", filters)
        self.strides = _validation.positive_int("strides", strides)
        self.zero_init_residual = _validation.boolean("zero_init_residual",
                                                      zero_init_residual)
        self.output_channels = self.filters * self.expansion
        self.shortcut = None
        self.add = keras.layers.Add(name="add", dtype=self.dtype_policy)
        self.out_act = keras.layers.Activation("relu", name="out_act", dtype=self.dtype_policy)

    def _conv_bn(self, filters, kernel_size, strides, name, activation="relu",
                 last=False):
        return self._unit(
            filters, kernel_size, name, strides=strides, activation=activation,
            gamma_initializer="zeros" if last and self.zero_init_residual else "ones")

    def build(self, input_shape):
        in_channels = _layout.fix_channels(self, input_shape)
        # Projection ("option B") only where the identity cannot be added.
        if self.strides != 1 or in_channels != self.output_channels:
            self.shortcut = self._conv_bn(
                self.output_channels, 1, self.strides, name="shortcut",
                activation=None,
            )
        shape = _layout.shape_to_compute(input_shape, self.data_format, self.compute_format)
        if self.shortcut is not None:
            self.shortcut.build(shape)
        shape = build_chain(self.branch, shape)
        self.add.build([shape, shape])
        self.out_act.build(shape)

    def call(self, inputs, training=None):
        inputs = _layout.to_compute(inputs, self.data_format, self.compute_format)
        x = inputs
        for unit in self.branch:
            x = unit(x, training=training)
        shortcut = inputs if self.shortcut is None else self.shortcut(inputs, training=training)
        outputs = self.out_act(self.add([x, shortcut]))
        return _layout.from_compute(outputs, self.data_format, self.compute_format)

    def compute_output_shape(self, input_shape):
        shape = _layout.shape_to_compute(input_shape, self.data_format, self.compute_format)
        shape = build_chain(self.branch, shape, build=False)
        return _layout.shape_from_compute(shape, self.data_format, self.compute_format)

    def get_config(self):
        return {
            **super().get_config(), "filters": self.filters, "strides": self.strides,
            "zero_init_residual": self.zero_init_residual
        }


@keras.saving.register_keras_serializable(package="zoo")
class BasicBlock(_ResidualBlock):
    """Two 3x3 ConvBN units with an identity or projection shortcut (ResNet-18/34, CIFAR).

    Args:
        filters: int. Width of both convolutions and of the output.
        strides: int. Stride of the first convolution (and the shortcut).
        data_format: `"channels_last"`, `"channels_first"` or None (Keras').
        zero_init_residual: bool. Initialize the last BN gamma to zero.
        bn_momentum, bn_epsilon, bn_synchronized: as for `ConvBN`.
        **kwargs: base `keras.layers.Layer` arguments.

    Example:
    >>> tuple(BasicBlock(8, strides=2)(keras.ops.ones((2, 8, 8, 4))).shape)
    (2, 4, 4, 8)
    """

    expansion = 1

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(filters, strides=strides, **kwargs)
        self.branch = [
            self._conv_bn(filters, 3, self.strides, name="conv1"),
            self._conv_bn(filters, 3, 1, name="conv2", activation=None, last=True),
        ]


@keras.saving.register_keras_serializable(package="zoo")
class Bottleneck(_ResidualBlock):
    """1x1 reduce -> 3x3 -> 1x1 expand (x4) ConvBN units, plus shortcut (ResNet-50+).

    Args:
        filters: int. Width of the 1x1 reduce and 3x3 convolutions; the
            output has `4 * filters` channels.
        strides: int. Spatial stride of the block.
        stride_in_1x1: bool. The stride on the first 1x1 (True: v1,
            `keras.applications`) or on the 3x3 (False: v1.5, torchvision).
        data_format, zero_init_residual, bn_momentum, bn_epsilon,
            bn_synchronized, **kwargs: as for `BasicBlock`.

    Example:
    >>> tuple(Bottleneck(4, strides=2)(keras.ops.ones((2, 8, 8, 16))).shape)
    (2, 4, 4, 16)
    """

    expansion = 4

    def __init__(self, filters, strides=1, stride_in_1x1=False, **kwargs):
        super().__init__(filters, strides=strides, **kwargs)
        self.stride_in_1x1 = _validation.boolean("stride_in_1x1", stride_in_1x1)
        stride_1x1, stride_3x3 = (
            (self.strides, 1) if self.stride_in_1x1 else (1, self.strides)
        )
        self.branch = [
            self._conv_bn(filters, 1, stride_1x1, name="conv1"),
            self._conv_bn(filters, 3, stride_3x3, name="conv2"),
            self._conv_bn(
                self.output_channels, 1, 1, name="conv3", activation=None, last=True
            ),
        ]

    def get_config(self):
        return {**super().get_config(), "stride_in_1x1": self.stride_in_1x1}
