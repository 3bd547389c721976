"""Conv2D (or DepthwiseConv2D) -> BatchNormalization -> activation: the unit
every ResNet and MobileNetV2 is made of."""

import keras
import numpy as np

from zoo import _validation, ops
from zoo.blocks import _layout
from zoo.blocks._chain import build_chain
from zoo.blocks.batch_norm import BatchNorm
from zoo.blocks.conv2d import Conv2D

# "symmetric": (k-1)//2 before, k//2 after (torchvision); "same": TensorFlow's.
PADDINGS = ("symmetric", "same")


class BatchNormBlock(keras.layers.Layer):
    """Base of the blocks made of BatchNorm units: their layout and BatchNorm arguments.

    Checks and keeps `data_format` (and the `compute_format` it runs in),
    `bn_momentum`, `bn_epsilon` and `bn_synchronized`, puts them in the
    config, and makes the block's `ConvBN` units with them (`_unit`).
    """

    def __init__(self, data_format=None, bn_momentum=0.9, bn_epsilon=1.001e-5,
                 bn_synchronized=False, **kwargs):
        super().__init__(**_validation.layer_kwargs(kwargs))
        self.data_format = _validation.data_format(data_format)
        self.compute_format = _layout.compute_format(self.data_format)
        self.bn_momentum = _validation.bn_momentum(bn_momentum)
        self.bn_epsilon = _validation.bn_epsilon(bn_epsilon)
        self.bn_synchronized = _validation.bn_synchronized(bn_synchronized)
        # So that Keras' rank error names this block, not an inner layer.
        self.input_spec = keras.InputSpec(ndim=4)

    def _unit(self, filters, kernel_size, name, **kwargs):
        """A `ConvBN` unit of this block, in its compute format, with its BatchNorm."""
        return ConvBN(filters, kernel_size, data_format=self.compute_format,
                      bn_momentum=self.bn_momentum, bn_epsilon=self.bn_epsilon,
                      bn_synchronized=self.bn_synchronized, name=name,
                      dtype=self.dtype_policy, **kwargs)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "bn_momentum": self.bn_momentum, "bn_epsilon": self.bn_epsilon,
                "bn_synchronized": self.bn_synchronized}


@keras.saving.register_keras_serializable(package="zoo")
class ConvBN(BatchNormBlock):
    """Conv2D (no bias) -> BatchNormalization -> optional activation.

    The convolution has no bias: the BatchNorm's mean would cancel it.
    `padding="symmetric"` pads strided convolutions symmetrically, as the
    papers and torchvision; `"same"` is TensorFlow's (bottom/right for even
    inputs), which keras.applications' MobileNetV2 was trained with.
    `fold_batchnorm()` folds the BatchNorm into the kernel for inference.

    Args:
        filters: int, or None with `depthwise=True` (the input's channels).
        kernel_size: int. Square kernel size.
        strides: int. Square stride.
        activation: str or None. Applied after BatchNormalization.
        data_format: `"channels_last"`, `"channels_first"` or None (Keras').
        bn_momentum: float. BatchNormalization momentum.
        bn_epsilon: float. BatchNormalization epsilon.
        bn_synchronized: bool. SyncBatchNorm (TensorFlow only).
        gamma_initializer: str or initializer. `"zeros"` for the last unit
            of a residual branch (Goyal et al. 2017).
        depthwise: bool. A `DepthwiseConv2D` instead of a `Conv2D`.
        padding: str. `"symmetric"` or `"same"`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:
    >>> tuple(ConvBN(16, 3)(keras.ops.ones((2, 8, 8, 3))).shape)
    (2, 8, 8, 16)
    >>> depthwise = ConvBN(None, 3, strides=2, depthwise=True, padding="same")
    >>> tuple(depthwise(keras.ops.ones((2, 8, 8, 3))).shape)
    (2, 4, 4, 3)
    """

    def __init__(self, filters, kernel_size, strides=1, activation="relu", data_format=None,
                 bn_momentum=0.9, bn_epsilon=1.001e-5, gamma_initializer="ones",
                 bn_synchronized=False, depthwise=False, padding="symmetric", **kwargs):
        super().__init__(data_format, bn_momentum, bn_epsilon, bn_synchronized, **kwargs)
        self.depthwise = _validation.boolean("depthwise", depthwise)
        self.filters = _validation.positive_int("filters", filters, optional=self.depthwise)
        self.kernel_size = _validation.positive_int("kernel_size", kernel_size)
        self.strides = _validation.positive_int("strides", strides)
        self.activation = _validation.activation(activation)
        self.gamma_initializer = _validation.initializer("gamma_initializer",
                                                         gamma_initializer)
        self.padding = _validation.one_of("padding", padding, PADDINGS)

        explicit_padding = (self.padding == "symmetric" and self.strides > 1
                            and self.kernel_size > 1)
        pad_before, pad_after = (self.kernel_size - 1) // 2, self.kernel_size // 2
        sublayer_args = {"dtype": self.dtype_policy}
        self.pad = (
            keras.layers.ZeroPadding2D(
                ((pad_before, pad_after), (pad_before, pad_after)),
                data_format=self.compute_format, name="pad", **sublayer_args
            )
            if explicit_padding
            else None
        )
        conv_args = {
            "strides": self.strides, "padding": "valid" if explicit_padding else "same",
            "use_bias": False, "data_format": self.compute_format, "name": "conv", **sublayer_args
        }
        # The weight key is "conv/kernel" in both cases.
        if self.depthwise:
            self.conv = keras.layers.DepthwiseConv2D(
                self.kernel_size, depth_multiplier=1,
                depthwise_initializer="he_normal", **conv_args)
        else:
            self.conv = Conv2D(
                self.filters, self.kernel_size, kernel_initializer="he_normal",
                **conv_args)
        self.bn = BatchNorm(
            axis=_validation.channel_axis(self.compute_format), momentum=self.bn_momentum,
            epsilon=self.bn_epsilon, gamma_initializer=self.gamma_initializer,
            synchronized=self.bn_synchronized, name="bn", **sublayer_args
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
                f"{self.name} is depthwise: its output keeps the input's channels, so filters must "
                f"be None or the input's channel count; received filters={self.filters} for inputs "
                f"of shape {tuple(input_shape)} (data_format={self.data_format!r})")
        self.input_spec = keras.InputSpec(ndim=4, axes={channel_axis: input_shape[channel_axis]})
        build_chain([self.pad, self.conv, self.bn, self.act], self._to_compute_shape(input_shape))

    # True once `fold_batchnorm()` ran: `call` then skips the BatchNorm.
    batchnorm_folded = False

    def call(self, inputs, training=None):
        if self.batchnorm_folded and training:
            raise ValueError(
                f"{self.name} has its BatchNormalization folded into its convolution "
                "(fold_batchnorm()), which is for inference only: call it with "
                "training=False or None, received training=True; train the unfolded model")
        x = _layout.to_compute(inputs, self.data_format, self.compute_format)
        if self.pad is not None:
            x = self.pad(x)
        x = self.conv(x, training=training)
        if self.batchnorm_folded:
            x = self._add_folded_bias(x)
        else:
            x = self.bn(x, training=training)
        if self.act is not None:
            x = self.act(x)
        return _layout.from_compute(x, self.data_format, self.compute_format)

    def fold_batchnorm(self):
        """Folds the BatchNormalization into the convolution, in place: inference only.

        The kernel is scaled per output channel and `call` adds the folded
        bias (kept in `bn.beta`); the BatchNorm's other weights become the
        identity, so a `.keras` file of a folded block loads unfolded with
        the same outputs. `call(training=True)` then raises; fold a copy
        (`ZooModel.folded()`). Folding twice does nothing.

        Example:
        >>> import numpy as np
        >>> block = ConvBN(4, 3, strides=2)
        >>> x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
        >>> block.build(x.shape)
        >>> block.bn.set_weights([np.full(4, 2.0), np.full(4, 0.5),  # gamma, beta,
        ...                       np.full(4, 0.1), np.full(4, 4.0)])  # mean, variance
        >>> before = block(x, training=False)
        >>> block.fold_batchnorm()
        >>> bool(np.allclose(block(x), before, rtol=1e-5, atol=1e-5))
        True
        >>> block.batchnorm_folded
        True
        """
        if not self.built:
            raise ValueError(f"{self.name} is not built: call it on inputs (or build it) "
                             "before fold_batchnorm()")
        if self.batchnorm_folded:
            return
        bn = self.bn
        gamma, beta, mean, variance = (keras.ops.convert_to_numpy(v).astype("float64")
                                       for v in (bn.gamma, bn.beta, bn.moving_mean,
                                                 bn.moving_variance))
        scale = gamma / np.sqrt(variance + bn.epsilon)
        kernel = keras.ops.convert_to_numpy(self.conv.kernel).astype("float64")
        # A depthwise kernel (kh, kw, channels, 1) scales its input axis.
        kernel = kernel * (scale[:, None] if self.depthwise else scale)
        identity_variance = max(1.0 - bn.epsilon, 0.0)
        for variable, value in (
                (self.conv.kernel, kernel),
                (bn.beta, beta - mean * scale),
                (bn.gamma, np.full_like(gamma, np.sqrt(identity_variance + bn.epsilon))),
                (bn.moving_mean, np.zeros_like(mean)),
                (bn.moving_variance, np.full_like(variance, identity_variance))):
            variable.assign(value.astype(keras.backend.standardize_dtype(variable.dtype)))
        self.batchnorm_folded = True

    def _add_folded_bias(self, x):
        # A BiasAdd on TensorFlow, which Grappler fuses into the convolution.
        return ops.bias_add(x, self.bn.beta, self.compute_format)

    def compute_output_shape(self, input_shape):
        shape = build_chain([self.pad, self.conv], self._to_compute_shape(input_shape),
                            build=False)
        return _layout.shape_from_compute(shape, self.data_format, self.compute_format)

    def _to_compute_shape(self, shape):
        return _layout.shape_to_compute(shape, self.data_format, self.compute_format)

    def get_config(self):
        return {
            **super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
            "strides": self.strides, "activation": self.activation,
            "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
            "depthwise": self.depthwise, "padding": self.padding
        }
