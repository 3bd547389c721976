"""The inverted residual block of MobileNetV2 (https://arxiv.org/abs/1801.04381), with
MobileNetV3's kernel sizes, activations and squeeze-excite (https://arxiv.org/abs/1905.02244)."""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.blocks.conv import PADDINGS, BatchNormBlock
from zoo.blocks.squeeze_excite import SqueezeExcite, squeeze_width


@keras.saving.register_keras_serializable(package="zoo")
class InvertedResidual(BatchNormBlock):
    """1x1 expand -> kxk depthwise -> [squeeze-excite] -> 1x1 linear projection, plus identity.

    "expand" is left out when the hidden width is the input's (`expansion == 1`);
    "project" is linear (the paper's linear bottleneck). The squeeze-excite is
    MobileNetV3's: reduced to `se_ratio` of the *hidden* width rounded to a
    multiple of 8, ReLU, hard-sigmoid gates. The input is added back when the
    stride is 1 and the widths match. Sublayers are made in `build`, from the input width.

    Args:
        filters: int. Output channels (of the projection).
        strides: int. Stride of the depthwise convolution.
        expansion: int, or None with `expanded_filters`. Hidden width as a
            multiple of the input channels.
        data_format: `"channels_last"`, `"channels_first"` or None (Keras').
        bn_momentum, bn_epsilon, bn_synchronized: as for `ConvBN`.
        activation: str. After expand and depthwise (the paper's ReLU6).
        padding: str. Of the strided depthwise convolution (see `ConvBN`).
        kernel_size: int. Of the depthwise convolution.
        se_ratio: float in [0, 1]. 0: no squeeze-excite.
        expanded_filters: int or None. The hidden width, where it is no whole
            multiple of the input's (MobileNetV3 rounds `ratio * input` to a
            multiple of 8); it replaces `expansion`. None: `expansion` times the input's.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> block = InvertedResidual(8, strides=2, expansion=6)
    >>> tuple(block(keras.ops.ones((2, 8, 8, 4))).shape)
    (2, 4, 4, 8)
    >>> [layer.name for layer in block._layers]
    ['expand', 'depthwise', 'project']
    >>> block = InvertedResidual(16, expansion=None, expanded_filters=72, kernel_size=5,
    ...                          se_ratio=0.25, activation="hard_swish")
    >>> tuple(block(keras.ops.ones((2, 8, 8, 16))).shape), block.se.squeeze_filters
    ((2, 8, 8, 16), 24)
    """

    def __init__(self, filters, strides=1, expansion=6, data_format=None, bn_momentum=0.9,
                 bn_epsilon=1e-3, bn_synchronized=False, activation="relu6", padding="same",
                 kernel_size=3, se_ratio=0.0, expanded_filters=None, **kwargs):
        super().__init__(data_format, bn_momentum, bn_epsilon, bn_synchronized, **kwargs)
        self.filters = _validation.positive_int("filters", filters)
        self.strides = _validation.positive_int("strides", strides)
        self.expanded_filters = _validation.positive_int("expanded_filters", expanded_filters,
                                                         optional=True)
        self.expansion = _validation.positive_int("expansion", expansion,
                                                  optional=self.expanded_filters is not None)
        self.activation = _validation.activation(activation)
        self.padding = _validation.one_of("padding", padding, PADDINGS)
        self.kernel_size = _validation.positive_int("kernel_size", kernel_size)
        self.se_ratio = _validation.finite_float("se_ratio", se_ratio, 0, 1)
        self.expand = self.depthwise = self.se = self.project = self.add = None

    @property
    def residual(self):
        """Whether the input is added to the output (known once built)."""
        return self.add is not None

    def _units(self):
        return [self.expand, self.depthwise, self.se, self.project]

    def _squeeze_excite(self, in_channels, hidden):
        """The squeeze-excite of the hidden features (MobileNetV3's)."""
        return SqueezeExcite(squeeze_width(hidden, self.se_ratio, divisor=8), activation="relu",
                             gate_activation="hard_sigmoid", name="se",
                             data_format=self.compute_format, dtype=self.dtype_policy)

    def _make_identity(self):
        """Makes what adds the input back (MobileNetV3's and V2's: an `Add`)."""
        self.add = keras.layers.Add(name="add", dtype=self.dtype_policy)

    def build(self, input_shape):
        in_channels = _layout.fix_channels(self, input_shape)
        hidden = self.expanded_filters or self.expansion * in_channels
        # Created in call order, so the weights are listed in it too.
        if hidden != in_channels:
            self.expand = self._unit(hidden, 1, "expand", activation=self.activation,
                                     padding=self.padding)
        self.depthwise = self._unit(None, self.kernel_size, "depthwise", strides=self.strides,
                                    activation=self.activation, depthwise=True,
                                    padding=self.padding)
        if self.se_ratio > 0:
            self.se = self._squeeze_excite(in_channels, hidden)
        self.project = self._unit(self.filters, 1, "project", activation=None,
                                  padding=self.padding)
        if self.strides == 1 and in_channels == self.filters:
            self._make_identity()
        shape = _layout.shape_to_compute(input_shape, self.data_format, self.compute_format)
        output_shape = build_chain(self._units(), shape)
        if self.add is not None:
            self.add.build([shape, output_shape])

    def call(self, inputs, training=None):
        inputs = _layout.to_compute(inputs, self.data_format, self.compute_format)
        x = inputs
        for unit in self._units():
            if unit is not None:
                x = unit(x, training=training)
        if self.add is not None:
            x = self.add([inputs, x])
        return _layout.from_compute(x, self.data_format, self.compute_format)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        channel_axis = _validation.channel_axis(self.data_format) % 4
        for axis in range(1, 4):
            if axis == channel_axis:
                shape[axis] = self.filters
            elif shape[axis] is not None:
                # ceil(size / strides), as both paddings give.
                shape[axis] = -(-shape[axis] // self.strides)
        return tuple(shape)

    def get_config(self):
        return {
            **super().get_config(), "filters": self.filters, "strides": self.strides,
            "expansion": self.expansion, "activation": self.activation,
            "padding": self.padding, "kernel_size": self.kernel_size, "se_ratio": self.se_ratio,
            "expanded_filters": self.expanded_filters
        }
