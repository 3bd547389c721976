"""The data layout a 2D convolution can run in on this backend and device.

TensorFlow's own (Eigen) CPU kernels run only NHWC convolutions; oneDNN,
cuDNN and XLA run both.
"""

import functools

import keras


def conv_data_format(data_format):
    """The layout to compute a `data_format` convolution in, here.

    Example:
    >>> conv_data_format("channels_last")
    'channels_last'
    """
    if data_format == "channels_first" and not channels_first_conv_supported():
        return "channels_last"
    return data_format


@functools.cache
def channels_first_conv_supported(cpu_only=False):
    """Whether a `channels_first` Conv2D runs on the device Keras uses (tried once)."""
    if keras.backend.backend() != "tensorflow":
        return True
    import tensorflow as tf

    if not cpu_only and tf.config.list_logical_devices("GPU"):
        return True
    with tf.init_scope(), tf.device("/CPU:0"):  # eagerly, even inside a tf.function
        try:
            tf.nn.conv2d(tf.zeros((1, 1, 1, 1)), tf.zeros((1, 1, 1, 1)), strides=1,
                         padding="VALID", data_format="NCHW")
        except (tf.errors.UnimplementedError, tf.errors.InvalidArgumentError):
            return False
    return True
