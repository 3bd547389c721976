"""zoo.ops' batch normalization: TensorFlow's fused kernel held to Keras' ops.

`batch_norm._keras_training` and Keras' `ops.batch_normalization` are the
reference (what `keras.layers.BatchNormalization` computes); on TensorFlow the
public functions run `FusedBatchNormV3` for 4D inputs, and must give the same
outputs, statistics and gradients."""

import keras
import numpy as np
import pytest

from zoo import ops
from zoo.ops import batch_norm

TENSORFLOW = keras.backend.backend() == "tensorflow"
tensorflow_only = pytest.mark.skipif(not TENSORFLOW, reason="the fused kernel is TensorFlow's")

SHAPES = {3: (4, 5, 6, 3), 1: (4, 3, 5, 6), -1: (2, 7, 7, 8)}


def _arguments(axis, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    shape = SHAPES[axis]
    channels = shape[axis]
    # A mean far from 0 and a large spread: the statistics must be exact,
    # not just the normalized outputs.
    x = (rng.normal(2.0, 3.0, shape)).astype("float32")
    gamma = rng.uniform(0.5, 1.5, channels).astype("float32")
    beta = rng.normal(0, 1, channels).astype("float32")
    return keras.ops.cast(x, dtype), gamma, beta


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(x, "float32")))


def test_the_fused_kernel_applies_to_images_on_tensorflow_only():
    image = keras.ops.ones((2, 3, 3, 4))
    assert ops.fused_batch_norm_applies(image, 3) is TENSORFLOW
    assert ops.fused_batch_norm_applies(image, 1) is TENSORFLOW
    assert ops.fused_batch_norm_applies(image, -1) is TENSORFLOW
    assert ops.fused_batch_norm_applies(image, 2) is False  # not a channel axis
    assert ops.fused_batch_norm_applies(keras.ops.ones((2, 4)), 1) is False
    assert ops.fused_batch_norm_applies(keras.ops.ones((2, 3, 4)), 2) is False
    assert ops.fused_batch_norm_applies(keras.ops.ones((2, 3, 3, 4), "float64"), 3) is False
    for dtype in ("float16", "bfloat16"):
        assert ops.fused_batch_norm_applies(keras.ops.ones((2, 3, 3, 4), dtype), 3) is TENSORFLOW


@pytest.mark.parametrize("epsilon", [1e-5, 1e-3])
@pytest.mark.parametrize("axis", [3, 1, -1])
def test_training_equals_keras_ops(axis, epsilon):
    x, gamma, beta = _arguments(axis)
    outputs, mean, variance = ops.batch_norm_training(x, gamma, beta, epsilon, axis)
    want_outputs, want_mean, want_variance = batch_norm._keras_training(x, gamma, beta,
                                                                        epsilon, axis)
    reduced = tuple(i for i in range(4) if i != axis % 4)
    # The biased (population) statistics, as Keras' moving averages take them.
    np.testing.assert_allclose(_numpy(mean), np.mean(_numpy(x), reduced), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_numpy(variance), np.var(_numpy(x), reduced), rtol=1e-5)
    np.testing.assert_allclose(_numpy(mean), _numpy(want_mean), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_numpy(variance), _numpy(want_variance), rtol=1e-5)
    np.testing.assert_allclose(_numpy(outputs), _numpy(want_outputs), atol=1e-5)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float32"


@pytest.mark.parametrize("axis", [3, 1])
def test_inference_equals_keras_ops(axis):
    x, gamma, beta = _arguments(axis, seed=1)
    channels = SHAPES[axis][axis]
    rng = np.random.default_rng(2)
    mean = rng.normal(2, 1, channels).astype("float32")
    variance = rng.uniform(0.5, 9, channels).astype("float32")
    got = ops.batch_norm_inference(x, mean, variance, gamma, beta, 1e-5, axis)
    want = keras.ops.batch_normalization(x, mean, variance, axis, offset=beta, scale=gamma,
                                         epsilon=1e-5)
    np.testing.assert_allclose(_numpy(got), _numpy(want), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("axis", [3, 1])
def test_half_precision_inputs_keep_their_dtype_with_float32_statistics(axis, dtype):
    x, gamma, beta = _arguments(axis, seed=3, dtype=dtype)
    outputs, mean, variance = ops.batch_norm_training(x, gamma, beta, 1e-5, axis)
    want_outputs, want_mean, want_variance = batch_norm._keras_training(x, gamma, beta, 1e-5, axis)
    assert keras.backend.standardize_dtype(outputs.dtype) == dtype
    assert keras.backend.standardize_dtype(mean.dtype) == "float32"
    assert keras.backend.standardize_dtype(variance.dtype) == "float32"
    # Both sum the same half-precision values in float32.
    np.testing.assert_allclose(_numpy(mean), _numpy(want_mean), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_numpy(variance), _numpy(want_variance), rtol=1e-5)
    # One rounding of the outputs to the half dtype apart.
    tolerance = {"float16": 2e-3, "bfloat16": 2e-2}[dtype]
    np.testing.assert_allclose(_numpy(outputs), _numpy(want_outputs), atol=tolerance,
                               rtol=tolerance)


def test_a_single_value_per_channel_has_zero_variance():
    x = keras.ops.convert_to_tensor(np.arange(3, dtype="float32").reshape(1, 1, 1, 3))
    outputs, mean, variance = ops.batch_norm_training(x, np.ones(3, "float32"),
                                                      np.zeros(3, "float32"), 1e-3, 3)
    np.testing.assert_array_equal(_numpy(mean), [0, 1, 2])
    np.testing.assert_array_equal(_numpy(variance), [0, 0, 0])
    np.testing.assert_array_equal(_numpy(outputs), np.zeros((1, 1, 1, 3)))


@tensorflow_only
@pytest.mark.parametrize("axis", [3, 1])
def test_gradients_equal_keras_ops(axis):
    import tensorflow as tf

    x, gamma, beta = _arguments(axis, seed=4)
    x = tf.constant(x)
    gamma, beta = tf.Variable(gamma), tf.Variable(beta)
    # A loss that weighs every output differently, so no gradient is trivially 0.
    weights = tf.constant(np.random.default_rng(5).normal(size=x.shape).astype("float32"))

    def gradients(function):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs, _, _ = function(x, gamma, beta, 1e-5, axis)
            loss = tf.reduce_sum(outputs * weights)
        return tape.gradient(loss, [x, gamma, beta])

    got, want = gradients(ops.batch_norm_training), gradients(batch_norm._keras_training)
    for name, g, w in zip(("inputs", "gamma", "beta"), got, want):
        scale = float(tf.reduce_max(tf.abs(w)))
        np.testing.assert_allclose(g.numpy(), w.numpy(), atol=1e-5 * scale, err_msg=name)


@tensorflow_only
@pytest.mark.parametrize("jit_compile", [False, True])
def test_one_fused_kernel_runs_in_graphs_and_under_xla(jit_compile):
    import tensorflow as tf

    x, gamma, beta = _arguments(3, seed=6)

    @tf.function(jit_compile=jit_compile)
    def fused(x):
        return ops.batch_norm_training(x, gamma, beta, 1e-5, 3)

    got = fused(tf.constant(x))
    want = batch_norm._keras_training(x, gamma, beta, 1e-5, 3)
    for g, w in zip(got, want):
        np.testing.assert_allclose(_numpy(g), _numpy(w), atol=1e-5, rtol=1e-5)
    op_types = [op.type for op in fused.get_concrete_function(tf.constant(x)).graph.get_operations()]
    assert op_types.count("FusedBatchNormV3") == 1
    assert "Rsqrt" not in op_types and "SquaredDifference" not in op_types
