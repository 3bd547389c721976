"""Batch normalization of an image batch: Keras' ops, or one fused kernel on TensorFlow.

Keras 3 normalizes on TensorFlow with separate ops: `ops.moments` (a mean,
a squared difference, another mean) and then `tf.nn.batch_normalization`
(rsqrt, two multiplies, a subtract, an add), in training and in inference,
and their gradients op by op. tf.keras 2 used TensorFlow's
`FusedBatchNormV3`: one kernel forward (statistics and normalization in two
passes over the data) and one backward (`FusedBatchNormGradV3`), which
oneDNN and cuDNN implement. These functions take that kernel on TensorFlow
for 4D inputs normalized over their channel axis (1 or 3), and Keras' ops
everywhere else: on every other backend, and for any other rank or axis.
The Keras path is the reference, and tests/ops/test_batch_norm_ops.py holds the
fused one to it.

Both return what `keras.layers.BatchNormalization` computes, in the inputs'
dtype; the arithmetic and the statistics are in float32 on both paths (the
fused kernel takes float16 and bfloat16 inputs with float32 scale, offset
and statistics, as Keras' layer casts them to float32). The batch
statistics in training are the biased (population) mean and variance that
Keras averages into its moving statistics.
"""

import keras

# Axis -> TensorFlow data_format of FusedBatchNormV3, for 4D inputs.
_FUSED_FORMATS = {1: "NCHW", 3: "NHWC", -1: "NHWC"}


def fused_batch_norm_applies(inputs, axis):
    """Whether `batch_norm_*` run TensorFlow's fused kernel for these arguments.

    Args:
        inputs: a tensor (or anything with `shape` and `dtype`).
        axis: int. The channel axis normalized over.

    Returns:
        bool. True on the TensorFlow backend for 4D float16, bfloat16 or
        float32 inputs with `axis` 1 or 3 (-1); False otherwise (Keras'
        ops then run, with the same results).

    Example:
    >>> fused_batch_norm_applies(keras.ops.ones((2, 3, 3, 4)), axis=1) == (
    ...     keras.backend.backend() == "tensorflow")
    True
    >>> fused_batch_norm_applies(keras.ops.ones((2, 4)), axis=1)
    False
    """
    return (keras.backend.backend() == "tensorflow" and len(inputs.shape) == 4
            and axis in _FUSED_FORMATS
            and keras.backend.standardize_dtype(inputs.dtype) in ("float16", "bfloat16", "float32"))


def batch_norm_training(inputs, gamma, beta, epsilon, axis):
    """Normalizes `inputs` with their own batch statistics (training mode).

    Args:
        inputs: float tensor. Any rank; the fused kernel needs 4D.
        gamma: float32 tensor `(channels,)`. Scale.
        beta: float32 tensor `(channels,)`. Offset.
        epsilon: float. Added to the variance.
        axis: int. The channel axis; every other axis is reduced.

    Returns:
        `(outputs, mean, variance)`: the normalized inputs, in their own
        dtype, and the batch mean and biased
        variance over the reduced axes (float32, shape `(channels,)`).

    Example:
    >>> x = keras.ops.convert_to_tensor([[[[1.0]], [[3.0]]]])  # (1, 2, 1, 1)
    >>> y, mean, variance = batch_norm_training(
    ...     x, keras.ops.ones((1,)), keras.ops.zeros((1,)), 0.0, axis=3)
    >>> [round(float(v), 4) for v in keras.ops.ravel(y)], float(mean[0]), float(variance[0])
    ([-1.0, 1.0], 2.0, 1.0)
    """
    if fused_batch_norm_applies(inputs, axis):
        from zoo.ops import _tensorflow_batch_norm

        return _tensorflow_batch_norm.training(inputs, gamma, beta, epsilon,
                                               _FUSED_FORMATS[axis])
    return _keras_training(inputs, gamma, beta, epsilon, axis)


def batch_norm_inference(inputs, mean, variance, gamma, beta, epsilon, axis):
    """Normalizes `inputs` with given statistics (inference mode).

    Args:
        inputs: float tensor.
        mean: float32 tensor `(channels,)`. The moving mean.
        variance: float32 tensor `(channels,)`. The moving variance.
        gamma: float32 tensor `(channels,)`. Scale.
        beta: float32 tensor `(channels,)`. Offset.
        epsilon: float. Added to the variance.
        axis: int. The channel axis.

    Returns:
        The normalized inputs, in their own dtype.

    Example:
    >>> x = keras.ops.full((1, 2, 2, 1), 5.0)
    >>> y = batch_norm_inference(x, keras.ops.full((1,), 1.0), keras.ops.full((1,), 4.0),
    ...                          keras.ops.ones((1,)), keras.ops.zeros((1,)), 0.0, axis=3)
    >>> float(y[0, 0, 0, 0])
    2.0
    """
    if fused_batch_norm_applies(inputs, axis):
        from zoo.ops import _tensorflow_batch_norm

        return _tensorflow_batch_norm.inference(inputs, mean, variance, gamma, beta, epsilon,
                                                _FUSED_FORMATS[axis])
    outputs = keras.ops.batch_normalization(_to_float32(inputs), mean, variance, axis,
                                            offset=beta, scale=gamma, epsilon=epsilon)
    return keras.ops.cast(outputs, inputs.dtype)


def _keras_training(inputs, gamma, beta, epsilon, axis):
    """The reference: what `keras.layers.BatchNormalization` computes, op by op."""
    wide = _to_float32(inputs)
    axis = axis % len(inputs.shape)
    reduction_axes = [i for i in range(len(inputs.shape)) if i != axis]
    mean, variance = keras.ops.moments(wide, axes=reduction_axes)
    outputs = keras.ops.batch_normalization(wide, mean, variance, axis, offset=beta,
                                            scale=gamma, epsilon=epsilon)
    return keras.ops.cast(outputs, inputs.dtype), mean, variance


def _to_float32(inputs):
    """float16/bfloat16 inputs in float32 (wider dtypes unchanged), as Keras'
    layer computes: half-precision statistics overflow and lose digits."""
    return keras.ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
