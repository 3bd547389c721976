"""MBConv, EfficientNet's block (Tan & Le 2019, https://arxiv.org/abs/1905.11946)."""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.blocks.inverted_residual import InvertedResidual
from zoo.blocks.squeeze_excite import SqueezeExcite


@keras.saving.register_keras_serializable(package="zoo")
class MBConv(InvertedResidual):
    """1x1 expand -> kxk depthwise -> squeeze-excite -> 1x1 linear projection, plus identity.

    MobileNetV2's inverted residual (its `call` and units) with a kernel
    size, a `SqueezeExcite` of `se_ratio` times the block's *input* channels
    (as keras.applications' EfficientNet), and drop-connect: in training,
    the residual branch of each example is dropped with probability
    `drop_rate` (the kept ones scaled by `1 / (1 - drop_rate)`), as Keras'
    `Dropout(noise_shape=(None, 1, 1, 1))`. A block without identity ignores
    `drop_rate`, as keras.applications does.

    Args:
        filters: int. Output channels (of the projection).
        kernel_size: int. Of the depthwise convolution.
        strides: int. Of the depthwise convolution.
        expansion: int. Hidden width as a multiple of the input channels.
        se_ratio: float in [0, 1]. 0: no squeeze-excite.
        drop_rate: float in [0, 1). Drop-connect rate of the residual branch.
        data_format, bn_momentum, bn_epsilon, bn_synchronized: as for `ConvBN`.
        activation: str. After expand, depthwise and the squeeze (swish).
        padding: str. Of the strided depthwise convolution (see `ConvBN`).
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> block = MBConv(8, kernel_size=5, strides=1, expansion=6, drop_rate=0.2)
    >>> tuple(block(keras.ops.ones((2, 8, 8, 8))).shape)
    (2, 8, 8, 8)
    >>> [layer.name for layer in block._layers]
    ['expand', 'depthwise', 'se', 'project', 'drop', 'add']
    """

    def __init__(self, filters, kernel_size=3, strides=1, expansion=6, se_ratio=0.25,
                 drop_rate=0.0, data_format=None, bn_momentum=0.99, bn_epsilon=1e-3,
                 bn_synchronized=False, activation="swish", padding="same", **kwargs):
        super().__init__(filters, strides, expansion, data_format, bn_momentum, bn_epsilon,
                         bn_synchronized, activation, padding, **kwargs)
        self.kernel_size = _validation.positive_int("kernel_size", kernel_size)
        self.se_ratio = _validation.finite_float("se_ratio", se_ratio, 0, 1)
        self.drop_rate = _validation.fraction("drop_rate", drop_rate)
        self.se = self.drop = None

    def _units(self):
        return [self.expand, self.depthwise, self.se, self.project, self.drop]

    def build(self, input_shape):
        in_channels = _layout.fix_channels(self, input_shape)
        if self.expansion != 1:
            self.expand = self._unit(self.expansion * in_channels, 1, "expand",
                                     activation=self.activation)
        self.depthwise = self._unit(None, self.kernel_size, "depthwise", strides=self.strides,
                                    activation=self.activation, depthwise=True,
                                    padding=self.padding)
        if self.se_ratio > 0:
            self.se = SqueezeExcite(max(1, int(in_channels * self.se_ratio)),
                                    activation=self.activation, name="se",
                                    data_format=self.compute_format, dtype=self.dtype_policy)
        self.project = self._unit(self.filters, 1, "project", activation=None)
        if self.strides == 1 and in_channels == self.filters:
            if self.drop_rate > 0:
                self.drop = keras.layers.Dropout(self.drop_rate, noise_shape=(None, 1, 1, 1),
                                                 name="drop", dtype=self.dtype_policy)
            self.add = keras.layers.Add(name="add", dtype=self.dtype_policy)
        shape = _layout.shape_to_compute(input_shape, self.data_format, self.compute_format)
        output_shape = build_chain(self._units(), shape)
        if self.add is not None:
            self.add.build([shape, output_shape])

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size,
                "se_ratio": self.se_ratio, "drop_rate": self.drop_rate}
