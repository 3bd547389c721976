"""The ConvNeXt block (Liu et al. 2022, https://arxiv.org/abs/2201.03545)."""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.blocks.drop_path import DropPath
from zoo.blocks.layer_scale import LayerScale

EXPANSION = 4  # the MLP's hidden width, in input channels
LAYER_NORM_EPSILON = 1e-6  # keras.applications' and the paper's


@keras.saving.register_keras_serializable(package="zoo")
class ConvNeXtBlock(keras.layers.Layer):
    """7x7 depthwise conv -> LayerNorm -> Dense 4x -> GELU -> Dense -> LayerScale, plus identity.

    The Dense layers are the paper's 1x1 convolutions, on the channel axis;
    with `channels_first` the branch after the depthwise convolution runs in
    `channels_last` (one transpose each way, as the paper's code permutes).
    GELU is exact (erf), as keras.applications'. Sublayers are made in
    `build`, from the input width; `layer_scale` is absent when
    `layer_scale_init_value` is None, `drop_path` when `drop_path_rate` is 0.

    Args:
        drop_path_rate: float in [0, 1). Stochastic depth of the branch (`DropPath`).
        layer_scale_init_value: float or None. Initial `LayerScale`; None: no scale.
        data_format: `"channels_last"`, `"channels_first"` or None (Keras').
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Input shape: 4D, channels known. Output shape: the input's.

    Example:
    >>> block = ConvNeXtBlock(drop_path_rate=0.1)
    >>> tuple(block(keras.ops.ones((2, 8, 8, 16))).shape)
    (2, 8, 8, 16)
    >>> [layer.name for layer in block._sublayers()]
    ['depthwise', 'norm', 'pointwise1', 'act', 'pointwise2', 'layer_scale', 'drop_path']
    >>> block.pointwise1.units
    64
    """

    def __init__(self, drop_path_rate=0.0, layer_scale_init_value=1e-6, data_format=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.drop_path_rate = _validation.fraction("drop_path_rate", drop_path_rate)
        if layer_scale_init_value is not None:
            layer_scale_init_value = _validation.finite_float(
                "layer_scale_init_value", layer_scale_init_value)
        self.layer_scale_init_value = layer_scale_init_value
        self.data_format = _validation.data_format(data_format)
        self.compute_format = _layout.compute_format(self.data_format)
        self.depthwise = self.norm = self.pointwise1 = self.act = self.pointwise2 = None
        self.layer_scale = self.drop_path = None

    def _sublayers(self):
        """The branch's layers in call order (the absent ones left out)."""
        return [layer for layer in (self.depthwise, self.norm, self.pointwise1, self.act,
                                    self.pointwise2, self.layer_scale, self.drop_path)
                if layer is not None]

    def build(self, input_shape):
        channels = _layout.fix_channels(self, input_shape)
        common = {"dtype": self.dtype_policy}
        self.depthwise = keras.layers.DepthwiseConv2D(
            7, padding="same", data_format=self.compute_format, name="depthwise", **common)
        self.norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="norm",
                                                    **common)
        self.pointwise1 = keras.layers.Dense(EXPANSION * channels, name="pointwise1", **common)
        self.act = keras.layers.Activation("gelu", name="act", **common)
        self.pointwise2 = keras.layers.Dense(channels, name="pointwise2", **common)
        if self.layer_scale_init_value is not None:
            self.layer_scale = LayerScale(self.layer_scale_init_value, name="layer_scale",
                                          **common)
        if self.drop_path_rate > 0:
            self.drop_path = DropPath(self.drop_path_rate, name="drop_path", **common)
        shape = _layout.shape_to_compute(input_shape, self.data_format, self.compute_format)
        shape = self.depthwise.compute_output_shape(shape)
        self.depthwise.build(_layout.shape_to_compute(input_shape, self.data_format,
                                                      self.compute_format))
        # After the depthwise convolution the branch is channels_last.
        build_chain(self._sublayers()[1:],
                    _layout.shape_to_compute(shape, self.compute_format, "channels_last"))

    def call(self, inputs, training=None):
        inputs = _layout.to_compute(inputs, self.data_format, self.compute_format)
        x = _layout.to_compute(self.depthwise(inputs), self.compute_format, "channels_last")
        for layer in self._sublayers()[1:]:
            x = layer(x, training=training) if layer is self.drop_path else layer(x)
        x = inputs + _layout.from_compute(x, self.compute_format, "channels_last")
        return _layout.from_compute(x, self.data_format, self.compute_format)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "drop_path_rate": self.drop_path_rate,
                "layer_scale_init_value": self.layer_scale_init_value,
                "data_format": self.data_format}
