"""The data layout a 2D convolution can run in on this backend and device.

TensorFlow's own CPU kernels implement Conv2D only for NHWC
(`channels_last`): with oneDNN off (TensorFlow's default on CPUs without
AVX-512 VNNI/BF16 or AMX) a `channels_first` convolution fails at its first
call with `UnimplementedError`. oneDNN, cuDNN and XLA (the JAX backend) run
both layouts. Blocks ask `conv_data_format` once, when built, and where the
answer differs from what they were given they compute in `channels_last` and
transpose at their edges: same weights, same outputs, the layout the caller
asked for.
"""

import functools

import keras


def conv_data_format(data_format):
    """The layout to compute a `data_format` convolution in, here.

    Args:
        data_format: `"channels_last"` or `"channels_first"`.

    Returns:
        `data_format` itself, or `"channels_last"` where this backend and
        device cannot run `channels_first` convolutions.

    Example:
    >>> conv_data_format("channels_last")
    'channels_last'
    """
    if data_format == "channels_first" and not channels_first_conv_supported():
        return "channels_last"
    return data_format


@functools.cache
def channels_first_conv_supported(cpu_only=False):
    """Whether a `channels_first` Conv2D runs on the device Keras uses.

    Args:
        cpu_only: bool. Ask about the CPU even when a GPU is visible.

    Returns:
        bool. True on every backend but TensorFlow; on TensorFlow, True with
        a GPU (cuDNN) and on a CPU where a one-pixel NCHW convolution runs
        (oneDNN kernels), found by trying one, once per process.
    """
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
