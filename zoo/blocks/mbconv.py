"""MBConv, EfficientNet's block (Tan & Le 2019, https://arxiv.org/abs/1905.11946)."""

import keras

from zoo import _validation
from zoo.blocks.inverted_residual import InvertedResidual
from zoo.blocks.squeeze_excite import SqueezeExcite, squeeze_width


@keras.saving.register_keras_serializable(package="zoo")
class MBConv(InvertedResidual):
    """1x1 expand -> kxk depthwise -> squeeze-excite -> 1x1 linear projection, plus identity.

    The generalised inverted residual (its units, kernel size and `call`) with
    EfficientNet's defaults and what is EfficientNet's own: a `SqueezeExcite`
    of `se_ratio` times the block's *input* channels, the block's activation
    and sigmoid gates (as keras.applications' EfficientNet), and drop-connect:
    in training, the residual branch of each example is dropped with
    probability `drop_rate` (the kept ones scaled by `1 / (1 - drop_rate)`), as
    Keras' `Dropout(noise_shape=(None, 1, 1, 1))`. A block without identity
    ignores `drop_rate`, as keras.applications does.

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
        **kwargs: `InvertedResidual`'s `expanded_filters`; base
            `keras.layers.Layer` arguments (`name`, `dtype`, ...).

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
        super().__init__(filters, strides=strides, expansion=expansion, data_format=data_format,
                         bn_momentum=bn_momentum, bn_epsilon=bn_epsilon,
                         bn_synchronized=bn_synchronized, activation=activation,
                         padding=padding, kernel_size=kernel_size, se_ratio=se_ratio, **kwargs)
        self.drop_rate = _validation.fraction("drop_rate", drop_rate)
        self.drop = None

    def _units(self):
        return [*super()._units(), self.drop]

    def _squeeze_excite(self, in_channels, hidden):
        return SqueezeExcite(squeeze_width(in_channels, self.se_ratio),
                             activation=self.activation, name="se",
                             data_format=self.compute_format, dtype=self.dtype_policy)

    def _make_identity(self):
        if self.drop_rate > 0:  # before the add: created, hence tracked, in call order
            self.drop = keras.layers.Dropout(self.drop_rate, noise_shape=(None, 1, 1, 1),
                                             name="drop", dtype=self.dtype_policy)
        super()._make_identity()

    def get_config(self):
        return {**super().get_config(), "drop_rate": self.drop_rate}
