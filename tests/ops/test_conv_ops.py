"""zoo.ops' convolution as one matrix multiply, held to `keras.ops.conv`.

`conv2d_as_matmul` is written in `keras.ops`, so it is checked on every
backend: outputs for every padding, stride and kernel size, including the
taps that read only padding and are left out; on TensorFlow, the input and
kernel gradients too, and that `conv2d` really runs a `MatMul` (and no
convolution op) where the rule says it does."""

import itertools

import keras
import numpy as np
import pytest

from zoo import ops
from zoo.ops import conv as conv_ops

TENSORFLOW = keras.backend.backend() == "tensorflow"
tensorflow_only = pytest.mark.skipif(not TENSORFLOW, reason="gradients and graphs of TensorFlow")

# (height, width, kernel, stride, padding): odd and even kernels, images
# smaller than, equal to and larger than the kernel, 1x1 images.
CASES = [case for case in itertools.product(
    (1, 2, 3, 5, 8), (1, 4, 7), (1, 2, 3, 7), (1, 2, 3), ("same", "valid"))
    if case[4] == "same" or min(case[0], case[1]) >= case[2]]


def _arrays(height, width, kernel_size, channels=3, filters=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, height, width, channels)).astype("float32")
    kernel = rng.normal(size=(kernel_size, kernel_size, channels, filters)).astype("float32")
    return x, kernel


@pytest.mark.parametrize("height,width,kernel_size,stride,padding", CASES)
def test_matmul_equals_keras_conv(height, width, kernel_size, stride, padding):
    x, kernel = _arrays(height, width, kernel_size)
    ours = keras.ops.convert_to_numpy(ops.conv2d_as_matmul(x, kernel, stride, padding))
    want = keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, strides=stride,
                                                     padding=padding))
    assert ours.shape == want.shape
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)


def test_output_size_is_keras_rule():
    assert [conv_ops.output_size(n, 3, 2, "same") for n in (1, 2, 3, 4, 5)] == [1, 1, 2, 2, 3]
    assert [conv_ops.output_size(n, 3, 2, "valid") for n in (3, 4, 5, 6, 7)] == [1, 1, 2, 2, 3]


@tensorflow_only
@pytest.mark.parametrize("height,width,kernel_size,stride,padding", [
    (1, 1, 3, 1, "same"), (2, 2, 3, 1, "same"), (6, 6, 3, 2, "valid"), (4, 4, 1, 2, "same"),
    (5, 5, 1, 1, "same"), (7, 5, 3, 2, "same"), (8, 8, 7, 2, "same")])
def test_gradients_equal_keras_conv(height, width, kernel_size, stride, padding):
    import tensorflow as tf

    x, kernel = _arrays(height, width, kernel_size, channels=5, filters=6)
    x, kernel = tf.constant(x), tf.constant(kernel)
    upstream = tf.constant(np.random.default_rng(1).normal(
        size=keras.ops.conv(x, kernel, strides=stride, padding=padding).shape), tf.float32)

    def gradients(compute):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            loss = tf.reduce_sum(compute(x, kernel) * upstream)
        return tape.gradient(loss, [x, kernel])

    ours = gradients(lambda a, k: ops.conv2d_as_matmul(a, k, stride, padding))
    want = gradients(lambda a, k: keras.ops.conv(a, k, strides=stride, padding=padding))
    for got, expected in zip(ours, want):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_inputs_keep_their_dtype(dtype):
    x, kernel = _arrays(2, 2, 3)
    x, kernel = keras.ops.cast(x, dtype), keras.ops.cast(kernel, dtype)
    ours = ops.conv2d_as_matmul(x, kernel, 1, "same")
    want = keras.ops.conv(x, kernel, strides=1, padding="same")
    assert keras.backend.standardize_dtype(ours.dtype) == dtype
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.cast(ours, "float32")),
                               keras.ops.convert_to_numpy(keras.ops.cast(want, "float32")),
                               rtol=5e-2, atol=5e-2)


def test_rules_exist_only_for_tensorflow_cpus():
    assert set(conv_ops.MATMUL_RULES) == {"cpu/onednn", "cpu/eigen"}
    for rule in conv_ops.MATMUL_RULES.values():
        assert set(rule) == {"1", "k"}
        for limits in rule.values():
            assert set(limits) == {"max_pixels", "min_channel_product"}


def test_image_taps_counts_the_taps_that_read_the_image():
    assert conv_ops.image_taps((8, 8), (1, 1)) == (1, 64)
    assert conv_ops.image_taps((8, 8), (3, 3), 1, "same") == (9, 64)
    assert conv_ops.image_taps((1, 1), (3, 3), 1, "same") == (1, 1)  # the centre tap only
    assert conv_ops.image_taps((2, 2), (3, 3), 1, "same") == (9, 4)
    assert conv_ops.image_taps((1, 4), (3, 3), 1, "same") == (3, 4)
    assert conv_ops.image_taps((4, 4), (3, 3), 2, "valid") == (9, 1)


@pytest.mark.parametrize("platform", sorted(conv_ops.MATMUL_RULES))
def test_applies_follows_the_platform_rule(platform):
    rule = conv_ops.MATMUL_RULES[platform]
    applies = conv_ops.conv2d_as_matmul_applies
    one, several = rule["1"], rule["k"]
    # Channels just enough for either class's rule: only the pixels decide.
    wide = max(one["min_channel_product"], several["min_channel_product"])
    channels = 2 ** ((wide.bit_length() + 1) // 2)
    filters = -(-wide // channels)
    # One tap reads the image: 1x1 kernels, by output pixels...
    for side in (1, 2, 4, 8, 32):
        assert applies((4, side, side, channels), (1, 1, channels, filters),
                       platform=platform) is (side * side <= one["max_pixels"])
    # ...and a 3x3 kernel on a 1x1 image, whose other taps read only padding.
    assert applies((4, 1, 1, channels), (3, 3, channels, filters), padding="same",
                   platform=platform) is (one["max_pixels"] >= 1)
    # Too few channels for the rule: Keras' convolution.
    if one["min_channel_product"] > 1:
        assert not applies((4, 1, 1, 4), (1, 1, 4, 4), platform=platform)
    # Several taps (3 per row here), by output pixels: at the limit, and one more.
    limit = several["max_pixels"]
    for pixels in (limit, limit + 1):
        if pixels >= 2:
            assert applies((4, 1, pixels, channels), (3, 3, channels, filters),
                           padding="same", platform=platform) is (pixels <= limit)


@pytest.mark.parametrize("kwargs", [
    {"platform": None},  # another backend
    {"platform": "gpu"},  # not measured: cuDNN's convolutions
    {"data_format": "channels_first"},
    {"dilation_rate": 2},
    {"strides": (1, 2)},
    {"input_shape": (4, None, None, 8)},  # height and width unknown when traced
    {"input_shape": (4, 2, 2, 6)},  # grouped: input channels a multiple of the kernel's
])
def test_applies_refuses_what_the_matmul_does_not_compute(kwargs):
    arguments = {"input_shape": (4, 2, 2, 8), "kernel_shape": (1, 1, 8, 8),
                 "platform": "cpu/onednn", **kwargs}
    if arguments["input_shape"][3] == 6:
        arguments["kernel_shape"] = (1, 1, 3, 8)
    assert conv_ops.conv2d_as_matmul_applies(**arguments) is False


def test_conv2d_equals_keras_conv_on_either_path():
    for shape, kernel_size in (((2, 2, 2, 8), 3), ((2, 9, 9, 4), 3), ((2, 5, 5, 4), 1)):
        x, kernel = _arrays(shape[1], shape[2], kernel_size, channels=shape[3], filters=5)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(ops.conv2d(x, kernel, 1, "same")),
            keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, 1, "same")),
            rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(ops.tensorflow_platform() not in conv_ops.MATMUL_RULES,
                    reason="a TensorFlow platform with a measured rule (a CPU)")
def test_conv2d_runs_the_path_the_rule_picks():
    import tensorflow as tf

    def op_types(shape, kernel_shape):
        x = tf.TensorSpec(shape, tf.float32)
        kernel = tf.TensorSpec(kernel_shape, tf.float32)
        graph = tf.function(lambda a, k: ops.conv2d(a, k, 1, "same")).get_concrete_function(
            x, kernel).graph
        return {op.type for op in graph.get_operations()}

    # One tap reads the image, with many channels: a matmul under every rule.
    small = op_types((4, 1, 1, 512), (3, 3, 512, 512))
    assert "MatMul" in small and "Conv2D" not in small
    large = op_types((4, 32, 32, 16), (3, 3, 16, 8))
    assert "Conv2D" in large and "MatMul" not in large
    dynamic = op_types((4, None, None, 512), (1, 1, 512, 512))
    assert "Conv2D" in dynamic and "MatMul" not in dynamic


@pytest.mark.parametrize("kwargs,fragments", [
    ({"padding": "SAME"}, ("padding", "'SAME'")),
    ({"strides": (1, 2)}, ("strides", "(1, 2)")),
    ({"strides": 0}, ("strides", "0")),
    ({"kernel_shape": (3, 3, 5, 4)}, ("kernel", "(3, 3, 5, 4)", "3 channels")),
    ({"input_shape": (2, 2, 2, 3), "padding": "valid"}, ("padding='valid'", "(2, 2, 2, 3)")),
])
def test_matmul_rejects_what_it_cannot_compute(kwargs, fragments):
    arguments = {"input_shape": (2, 4, 4, 3), "kernel_shape": (3, 3, 3, 4), "strides": 1,
                 "padding": "same", **kwargs}
    x = np.zeros(arguments["input_shape"], "float32")
    kernel = np.zeros(arguments["kernel_shape"], "float32")
    message = str(pytest.raises(ValueError, ops.conv2d_as_matmul, x, kernel,
                                arguments["strides"], arguments["padding"]).value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)
