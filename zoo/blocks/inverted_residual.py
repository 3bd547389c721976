"""The inverted residual block of MobileNetV2 (https://arxiv.org/abs/1801.04381)."""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.blocks.conv import PADDINGS, BatchNormBlock


@keras.saving.register_keras_serializable(package="zoo")
class InvertedResidual(BatchNormBlock):
    """1x1 expand -> 3x3 depthwise -> 1x1 linear projection, plus identity.

    "expand" is left out when `expansion == 1`; "project" is linear (the
    paper's linear bottleneck). The input is added back when the stride is 1
    and the widths match. Sublayers are made in `build`, from the input width.

    Args:
        filters: int. Output channels (of the projection).
        strides: int. Stride of the depthwise convolution.
        expansion: int. Hidden width as a multiple of the input channels.
        data_format: `"channels_last"`, `"channels_first"` or None (Keras').
        bn_momentum, bn_epsilon, bn_synchronized: as for `ConvBN`.
        activation: str. After expand and depthwise (the paper's ReLU6).
        padding: str. Of the strided depthwise convolution (see `ConvBN`).
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> block = InvertedResidual(8, strides=2, expansion=6)
    >>> tuple(block(keras.ops.ones((2, 8, 8, 4))).shape)
    (2, 4, 4, 8)
    >>> [layer.name for layer in block._layers]
    ['expand', 'depthwise', 'project']
    """

    def __init__(self, filters, strides=1, expansion=6, data_format=None, bn_momentum=0.9,
                 bn_epsilon=1e-3, bn_synchronized=False, activation="relu6", padding="same",
                 **kwargs):
        super().__init__(data_format, bn_momentum, bn_epsilon, bn_synchronized, **kwargs)
        self.filters = _validation.positive_int("filters", filters)
        self.strides = _validation.positive_int("strides", strides)
        self.expansion = _validation.positive_int("expansion", expansion)
        self.activation = _validation.activation(activation)
        self.padding = _validation.one_of("padding", padding, PADDINGS)
        self.expand = self.depthwise = self.project = self.add = None

    @property
    def residual(self):
        """Whether the input is added to the output (known once built)."""
        return self.add is not None

    def _units(self):
        return [self.expand, self.depthwise, self.project]

    def build(self, input_shape):
        in_channels = _layout.fix_channels(self, input_shape)
        # Created in call order, so the weights are listed in it too.
        if self.expansion != 1:
            self.expand = self._unit(self.expansion * in_channels, 1, "expand",
                                     activation=self.activation, padding=self.padding)
        self.depthwise = self._unit(None, 3, "depthwise", strides=self.strides,
                                    activation=self.activation, depthwise=True,
                                    padding=self.padding)
        self.project = self._unit(self.filters, 1, "project", activation=None,
                                  padding=self.padding)
        if self.strides == 1 and in_channels == self.filters:
            self.add = keras.layers.Add(name="add", dtype=self.dtype_policy)
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
            "padding": self.padding
        }
