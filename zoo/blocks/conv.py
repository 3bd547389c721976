"""Conv2D (or DepthwiseConv2D) -> BatchNormalization -> activation: the unit
every ResNet and MobileNetV2 is made of."""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain

# "symmetric": explicit (k-1)//2 before and k//2 after (torchvision, the
# papers); "same": TensorFlow's (keras.applications' MobileNetV2).
PADDINGS = ("symmetric", "same")


@keras.saving.register_keras_serializable(package="zoo")
class ConvBN(keras.layers.Layer):
    """Conv2D (no bias) -> BatchNormalization -> optional activation.

    The convolution has no bias because the BatchNormalization right after it
    subtracts the batch mean, which would cancel any bias. With
    `depthwise=True` it is a `DepthwiseConv2D` (one `kernel_size` filter per
    input channel, depth multiplier 1, no bias): the output has as many
    channels as the input.

    With `padding="symmetric"` (the default), strided convolutions with a
    kernel larger than 1 pad explicitly and symmetrically (`kernel_size // 2`
    on every side) instead of using `padding="same"`: TensorFlow's "same"
    pads only bottom/right for even inputs, which shifts features by one
    pixel relative to the papers, torchvision and `keras.applications`'
    ResNets (whose stem does the same explicit padding).
    `keras.applications.MobileNetV2` was trained with TensorFlow's "same"
    instead (in its stem, and its `correct_pad` before the strided depthwise
    convolutions is exactly "same" for a 3x3 kernel: nothing before and one
    pixel after an even size, one on each side of an odd one);
    `padding="same"` reproduces it, so its weights give its outputs. Both
    give `ceil(size / strides)` outputs, and agree at stride 1 for odd
    kernels.

    `channels_first` runs natively where the backend has NCHW convolutions
    (oneDNN, cuDNN, JAX); on TensorFlow's own CPU kernels the block computes
    in `channels_last` and transposes at its edges (`compute_format`), with
    the same weights and outputs.

    Args:
        filters: int, or None with `depthwise=True`. Output channels. A
            depthwise convolution keeps the input's channel count: `filters`
            is then None (any input) or that count (checked when built).
        kernel_size: int. Square kernel size.
        strides: int. Square stride.
        activation: str or None. Applied after BatchNormalization; `None`
            for the last unit of a residual branch (the add comes first).
        data_format: str or None. `"channels_last"` or `"channels_first"`;
            `None` uses `keras.config.image_data_format()`.
        bn_momentum: float. BatchNormalization moving-average momentum.
        bn_epsilon: float. BatchNormalization epsilon (default matches
            `keras.applications.ResNet*`).
        bn_synchronized: bool. Batch statistics over all replicas of a
            `tf.distribute` strategy (SyncBatchNorm) instead of each
            replica's own batch; keeps the moving statistics identical on
            every worker of a multi-worker run. TensorFlow backend only;
            True on another backend is a ValueError.
        gamma_initializer: str or initializer. `"zeros"` gives the
            zero-init-residual trick (Goyal et al. 2017) for the last unit of
            a residual branch.
        depthwise: bool. A `DepthwiseConv2D` instead of a `Conv2D`.
        padding: str. `"symmetric"` or `"same"` (TensorFlow's), see above;
            only strided convolutions with kernels larger than 1 differ.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Input shape:
        4D tensor `(batch, height, width, channels)` (channels_last) or
        `(batch, channels, height, width)` (channels_first).

    Output shape:
        4D tensor with `filters` channels and spatial size
        `ceil(size / strides)`.

    Example:
    >>> tuple(ConvBN(16, 3)(keras.ops.ones((2, 8, 8, 3))).shape)
    (2, 8, 8, 16)
    >>> depthwise = ConvBN(None, 3, strides=2, depthwise=True, padding="same")
    >>> tuple(depthwise(keras.ops.ones((2, 8, 8, 3))).shape)
    (2, 4, 4, 3)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        activation="relu",
        data_format=None,
        bn_momentum=0.9,
        bn_epsilon=1.001e-5,
        gamma_initializer="ones",
        bn_synchronized=False,
        depthwise=False,
        padding="symmetric",
        **kwargs,
    ):
        super().__init__(**_validation.layer_kwargs(kwargs))
        self.depthwise = _validation.boolean("depthwise", depthwise)
        self.filters = _validation.positive_int("filters", filters, optional=self.depthwise)
        self.kernel_size = _validation.positive_int("kernel_size", kernel_size)
        self.strides = _validation.positive_int("strides", strides)
        # Normalized to its registered name so get_config stays serializable
        # and a typo fails here, not at the first call.
        self.activation = _validation.activation(activation)
        self.data_format = _validation.data_format(data_format)
        self.compute_format = _layout.compute_format(self.data_format)
        self.bn_momentum = _validation.bn_momentum(bn_momentum)
        self.bn_epsilon = _validation.bn_epsilon(bn_epsilon)
        self.bn_synchronized = _validation.bn_synchronized(bn_synchronized)
        self.gamma_initializer = _validation.initializer("gamma_initializer",
                                                         gamma_initializer)
        self.padding = _validation.one_of("padding", padding, PADDINGS)
        # Keras checks every input against it, naming this block (an inner
        # Conv2D's own check would name "conv").
        self.input_spec = keras.InputSpec(ndim=4)

        explicit_padding = (self.padding == "symmetric" and self.strides > 1
                            and self.kernel_size > 1)
        pad_before, pad_after = (self.kernel_size - 1) // 2, self.kernel_size // 2
        sublayer_args = {"dtype": self.dtype_policy}
        self.pad = (
            keras.layers.ZeroPadding2D(
                # (k-1)//2 before, k//2 after: symmetric for odd kernels, and
                # ceil(size / strides) outputs for even ones too.
                ((pad_before, pad_after), (pad_before, pad_after)),
                data_format=self.compute_format,
                name="pad", **sublayer_args,
            )
            if explicit_padding
            else None
        )
        conv_args = {
            "strides": self.strides,
            "padding": "valid" if explicit_padding else "same",
            "use_bias": False,
            "data_format": self.compute_format,
            "name": "conv",
            **sublayer_args,
        }
        # The same layer name in both cases: the weight key is "conv/kernel"
        # (Keras names a DepthwiseConv2D's weight "kernel" too).
        if self.depthwise:
            self.conv = keras.layers.DepthwiseConv2D(
                self.kernel_size, depth_multiplier=1,
                depthwise_initializer="he_normal", **conv_args)
        else:
            self.conv = keras.layers.Conv2D(
                self.filters, self.kernel_size, kernel_initializer="he_normal",
                **conv_args)
        self.bn = keras.layers.BatchNormalization(
            axis=_validation.channel_axis(self.compute_format),
            momentum=self.bn_momentum,
            epsilon=self.bn_epsilon,
            gamma_initializer=self.gamma_initializer,
            synchronized=self.bn_synchronized,
            name="bn",
            **sublayer_args,
        )
        self.act = (
            keras.layers.Activation(self.activation, name="act", **sublayer_args)
            if self.activation is not None
            else None
        )

    def build(self, input_shape):
        channel_axis = _validation.channel_axis(self.data_format)
        if self.depthwise and self.filters is not None \
                and input_shape[channel_axis] not in (None, self.filters):
            raise ValueError(
                f"{self.name} is depthwise: its output keeps the input's channels, so "
                f"filters must be None or the input's channel count; received "
                f"filters={self.filters} for inputs of shape {tuple(input_shape)} "
                f"(data_format={self.data_format!r})")
        self.input_spec = keras.InputSpec(ndim=4, axes={channel_axis: input_shape[channel_axis]})
        build_chain([self.pad, self.conv, self.bn, self.act], self._to_compute_shape(input_shape))

    def call(self, inputs, training=None):
        x = _layout.to_compute(inputs, self.data_format, self.compute_format)
        if self.pad is not None:
            x = self.pad(x)
        x = self.bn(self.conv(x), training=training)
        if self.act is not None:
            x = self.act(x)
        return _layout.from_compute(x, self.data_format, self.compute_format)

    def compute_output_shape(self, input_shape):
        shape = build_chain([self.pad, self.conv], self._to_compute_shape(input_shape),
                            build=False)
        return _layout.shape_from_compute(shape, self.data_format, self.compute_format)

    def _to_compute_shape(self, shape):
        return _layout.shape_to_compute(shape, self.data_format, self.compute_format)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "activation": self.activation,
            "data_format": self.data_format,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "bn_synchronized": self.bn_synchronized,
            "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
            "depthwise": self.depthwise,
            "padding": self.padding,
        }
