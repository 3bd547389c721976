"""Batch normalization of an image batch: Keras' ops, or one fused kernel on TensorFlow.

Keras 3 normalizes op by op; TensorFlow's `FusedBatchNormV3` does it in one
kernel forward and one backward. Both paths compute in float32 and return
the inputs' dtype, with the biased batch variance Keras averages.
"""

import keras

# Axis -> TensorFlow data_format of FusedBatchNormV3, for 4D inputs.
_FUSED_FORMATS = {1: "NCHW", 3: "NHWC", -1: "NHWC"}


def fused_batch_norm_applies(inputs, axis):
    """Whether `batch_norm_*` run TensorFlow's fused kernel: 4D float inputs, `axis` 1 or 3.

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

    Returns:
        `(outputs, mean, variance)`: outputs in the inputs' dtype, the batch
        mean and biased variance in float32, shape `(channels,)`.

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
    """Normalizes `inputs` with given statistics (inference mode), in their own dtype.

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
    """Half-precision inputs in float32, as Keras' layer computes (wider dtypes unchanged)."""
    return keras.ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
