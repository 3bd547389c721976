"""A per-channel bias added to a convolution's output: TensorFlow's `BiasAdd`.

Grappler fuses a `BiasAdd` (not an `AddV2`) into the convolution before it,
so folded BatchNorms stay fused (measured: benchmarks/results/).
"""

import keras


def bias_add(inputs, bias, data_format="channels_last"):
    """`inputs + bias` along the channel axis of a 4D tensor, in the inputs' dtype.

    Example:
    >>> x = keras.ops.zeros((1, 2, 1, 1))  # channels_first: 2 channels
    >>> y = bias_add(x, keras.ops.convert_to_tensor([1.0, 2.0]), "channels_first")
    >>> keras.ops.convert_to_numpy(y).ravel().tolist()
    [1.0, 2.0]
    """
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', "
                         f"received data_format={data_format!r}")
    bias = keras.ops.cast(bias, inputs.dtype)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.nn.bias_add(inputs, bias,
                              data_format="NHWC" if data_format == "channels_last" else "NCHW")
    return reference_bias_add(inputs, bias, data_format)


def reference_bias_add(inputs, bias, data_format="channels_last"):
    """The Keras version of `bias_add`: a broadcast add (every backend)."""
    bias = keras.ops.cast(bias, inputs.dtype)
    if data_format == "channels_first":
        bias = keras.ops.reshape(bias, (-1,) + (1,) * (len(inputs.shape) - 2))
    return inputs + bias
