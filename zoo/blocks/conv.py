"""Conv2D -> BatchNormalization -> activation, the unit every ResNet is made of."""

import keras

from zoo import _validation
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain


@keras.saving.register_keras_serializable(package="zoo")
class ConvBN(keras.layers.Layer):
    """Conv2D (no bias) -> BatchNormalization -> optional activation.

    The convolution has no bias because the BatchNormalization right after it
    subtracts the batch mean, which would cancel any bias.

    Strided convolutions with a kernel larger than 1 pad explicitly and
    symmetrically (`kernel_size // 2` on every side) instead of using
    `padding="same"`: TensorFlow's "same" pads only bottom/right for even
    inputs, which shifts features by one pixel relative to the papers,
    torchvision and `keras.applications` (whose stem does the same explicit
    padding).

    `channels_first` runs natively where the backend has NCHW convolutions
    (oneDNN, cuDNN, JAX); on TensorFlow's own CPU kernels the block computes
    in `channels_last` and transposes at its edges (`compute_format`), with
    the same weights and outputs.

    Args:
        filters: int. Output channels.
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
        **kwargs,
    ):
        super().__init__(**_validation.layer_kwargs(kwargs))
        self.filters = _validation.positive_int("filters", filters)
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
        # Keras checks every input against it, naming this block (an inner
        # Conv2D's own check would name "conv").
        self.input_spec = keras.InputSpec(ndim=4)

        explicit_padding = self.strides > 1 and self.kernel_size > 1
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
        self.conv = keras.layers.Conv2D(
            self.filters,
            self.kernel_size,
            strides=self.strides,
            padding="valid" if explicit_padding else "same",
            use_bias=False,
            data_format=self.compute_format,
            kernel_initializer="he_normal",
            name="conv",
            **sublayer_args,
        )
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
        }
