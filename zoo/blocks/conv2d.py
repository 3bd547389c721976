"""`keras.layers.Conv2D` whose train step computes as one matrix multiply where that is faster."""

import keras

from zoo import _validation, ops


@keras.saving.register_keras_serializable(package="zoo")
class Conv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D`, trained through a matrix multiply where TensorFlow's CPU kernels are slow.

    TensorFlow's CPU convolution kernels compute the gradients of
    convolutions with many channels and few pixels slowly (the last stages
    of a ResNet on small images); a convolution is also a matrix multiply of
    image patches with the kernel, whose gradients are two more matrix
    multiplies. With `training=True`, this layer computes through
    `zoo.ops.conv2d`, which takes the matrix multiply where the rule measured
    by `python -m benchmarks.conv_paths` favours it (`zoo.ops.conv.MATMUL_RULES`:
    TensorFlow on a CPU, 1x1 kernels, and larger kernels on a few pixels)
    and `keras.ops.conv` everywhere else. Inference (`training` False or
    None) is always Keras' own convolution, so exported graphs keep their
    `Conv2D` ops (which Grappler and TFLite fuse with a bias and an
    activation). Both paths give the same outputs to float rounding.

    Weights, config and saved files are Keras' `Conv2D`'s, plus `matmul_path`.

    Args:
        matmul_path: bool. Let `training=True` calls take the matrix
            multiply where it applies (the default); False always runs
            Keras' convolution (the reference).
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
