"""Fused-MBConv, EfficientNetV2's early-stage block (Tan & Le 2021,
https://arxiv.org/abs/2104.00298)."""

import keras

from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.blocks.mbconv import MBConv


@keras.saving.register_keras_serializable(package="zoo")
class FusedMBConv(MBConv):
    """kxk expand (strided) -> squeeze-excite -> 1x1 linear projection, plus identity.

    MBConv with its 1x1 expansion and kxk depthwise convolution fused into
    one full kxk convolution, as keras.applications' `FusedMBConvBlock`.
    With `expansion == 1` the block is a single kxk convolution ("project",
    strided, with BatchNorm and the activation). Squeeze-excite (of
    `se_ratio` times the block's input channels), drop-connect and the
    identity are MBConv's; there is no "depthwise" unit.

    Args:
        filters: int. Output channels (of the projection).
        kernel_size: int. Of the fused convolution.
        strides: int. Of the fused convolution.
        expansion: int. Hidden width as a multiple of the input channels.
        se_ratio: float in [0, 1]. 0: no squeeze-excite.
        drop_rate: float in [0, 1). Drop-connect rate of the residual branch.
        data_format, bn_momentum, bn_epsilon, bn_synchronized: as for `ConvBN`.
        activation: str. After the fused convolution and the squeeze (swish).
        padding: str. Of the strided kxk convolution (see `ConvBN`).
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> block = FusedMBConv(8, expansion=4, drop_rate=0.2)
    >>> tuple(block(keras.ops.ones((2, 8, 8, 8))).shape)
    (2, 8, 8, 8)
    >>> [layer.name for layer in block._layers]
    ['expand', 'project', 'drop', 'add']
    >>> single = FusedMBConv(16, strides=2, expansion=1, se_ratio=0.0)
    >>> single.build((None, 8, 8, 8))
    >>> single.project.kernel_size, single.project.strides, single.project.activation
    (3, 2, 'silu')
    """

    def __init__(self, filters, kernel_size=3, strides=1, expansion=4, se_ratio=0.0,
                 drop_rate=0.0, data_format=None, bn_momentum=0.99, bn_epsilon=1e-3,
                 bn_synchronized=False, activation="swish", padding="same", **kwargs):
        super().__init__(filters, kernel_size, strides, expansion, se_ratio, drop_rate,
                         data_format, bn_momentum, bn_epsilon, bn_synchronized, activation,
                         padding, **kwargs)

    def build(self, input_shape):
        in_channels = _layout.fix_channels(self, input_shape)
        hidden = self.expanded_filters or self.expansion * in_channels
        fused = {"strides": self.strides, "activation": self.activation,
                 "padding": self.padding}
        if hidden != in_channels:
            self.expand = self._unit(hidden, self.kernel_size, "expand", **fused)
        if self.se_ratio > 0:
            self.se = self._squeeze_excite(in_channels, hidden)
        # Without expansion the projection is the block's only (kxk, strided) convolution.
        self.project = (self._unit(self.filters, 1, "project", activation=None)
                        if self.expand is not None else
                        self._unit(self.filters, self.kernel_size, "project", **fused))
        if self.strides == 1 and in_channels == self.filters:
            self._make_identity()
        shape = _layout.shape_to_compute(input_shape, self.data_format, self.compute_format)
        output_shape = build_chain(self._units(), shape)
        if self.add is not None:
            self.add.build([shape, output_shape])
