"""`keras.layers.Conv2D` whose train step computes as one matrix multiply where that is faster."""

import keras

from zoo import _validation, ops


@keras.saving.register_keras_serializable(package="zoo")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D`, trained through a matrix multiply where TensorFlow's CPU kernels are slow.

    With `training=True` it computes through `zoo.ops.conv2d`, which takes an
    im2col matrix multiply where `zoo.ops.conv.MATMUL_RULES` measured it
    faster (TensorFlow's CPU gradients are slow for many channels on few
    pixels). Inference is always Keras' convolution, so exported graphs keep
    their fusable `Conv2D` ops.

    Args:
        matmul_path: bool. Let `training=True` calls take the matrix
            multiply where it applies; False always runs Keras' convolution.
        **kwargs: those of `keras.layers.Conv2D`.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 2, 2, 8)).astype("float32")
    >>> ours = Conv2D(4, 3, padding="same")
    >>> reference = keras.layers.Conv2D(4, 3, padding="same")
    >>> reference.build(x.shape)
    >>> ours.build(x.shape)
    >>> ours.set_weights(reference.get_weights())
    >>> bool(np.allclose(ours(x, training=True), reference(x), atol=1e-5))
    True
    """

    def __init__(self, *args, matmul_path=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.matmul_path = _validation.boolean("matmul_path", matmul_path)

    def call(self, inputs, training=None):
        if not (training and self.matmul_path and self.groups == 1):
            return super().call(inputs)
        outputs = ops.conv2d(inputs, self.kernel, strides=self.strides, padding=self.padding,
                             data_format=self.data_format, dilation_rate=self.dilation_rate)
        if self.use_bias:
            outputs = ops.bias_add(outputs, self.bias, self.data_format)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self):
        return {**super().get_config(), "matmul_path": self.matmul_path}
