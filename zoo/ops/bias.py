"""A per-channel bias added to a convolution's output: TensorFlow's `BiasAdd`.

`x + bias` is an `AddV2` in a TensorFlow graph, which Grappler's CPU
remapper does not fuse into the convolution before it; `tf.nn.bias_add` is
a `BiasAdd`, which it fuses with the convolution and a following Relu or
Relu6 into one `_FusedConv2D`. Measured (TF 2.21, Eigen CPU kernels, the
serving graph of a resnet20 with its BatchNorms folded, after Grappler):
21 `_FusedConv2D` with `BiasAdd` instead of 21 `Conv2D`, 30 `AddV2` and 19
`Relu` apart; the unfolded graph's `FusedBatchNormV3` is fused the same way,
so without `BiasAdd` folding would have made the graph slower, not faster.

The Keras version (a broadcast add) is the reference, the path on every
other backend, and what tests/ops/test_bias_add.py holds the TensorFlow one
to.
"""

import keras


def bias_add(inputs, bias, data_format="channels_last"):
    """`inputs + bias` along the channel axis, in the inputs' dtype.

    Args:
        inputs: float tensor, 4D: `(batch, height, width, channels)` or
            `(batch, channels, height, width)`.
        bias: float tensor `(channels,)`, cast to the inputs' dtype.
        data_format: str. `"channels_last"` or `"channels_first"`.

    Returns:
        A tensor of the inputs' shape and dtype.

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
