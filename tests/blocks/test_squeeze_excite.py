"""Tests for `zoo.blocks.squeeze_excite.SqueezeExcite`."""

import keras
import numpy as np
import pytest

import helpers
from zoo.blocks import SqueezeExcite
from zoo.blocks.squeeze_excite import squeeze_width


@pytest.mark.parametrize("kwargs", [
    {"squeeze_filters": 2},
    {"squeeze_filters": 3, "activation": "relu", "gate_activation": "hard_sigmoid"},
])
def test_layer_contract(kwargs):
    # Config round-trip, a training step, mixed precision, the channels_first twin.
    layer = helpers.run_layer_test(SqueezeExcite, kwargs, input_shape=(2, 5, 6, 8),
                                   expected_output_shape=(2, 5, 6, 8))
    assert [tuple(w.shape) for w in layer.weights] == [
        (1, 1, 8, kwargs["squeeze_filters"]), (kwargs["squeeze_filters"],),
        (1, 1, kwargs["squeeze_filters"], 8), (8,)]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_output_is_the_input_times_its_gates(data_format):
    # The definition (Hu et al., eq. 2-4, with keras.applications' swish and biases),
    # written in NumPy: gates = sigmoid(W2 swish(W1 mean(x) + b1) + b2), per example.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5, 6)).astype("float32")
    w1, b1 = rng.standard_normal((6, 2)), rng.standard_normal(2)
    w2, b2 = rng.standard_normal((2, 6)), rng.standard_normal(6)
    layer = SqueezeExcite(2, data_format=data_format)
    inputs = x if data_format == "channels_last" else np.transpose(x, (0, 3, 1, 2))
    layer(inputs)
    layer.set_weights([w1.reshape(1, 1, 6, 2), b1, w2.reshape(1, 1, 2, 6), b2])
    squeezed = x.mean(axis=(1, 2)) @ w1 + b1
    gates = sigmoid((squeezed * sigmoid(squeezed)) @ w2 + b2)
    expected = x * gates[:, None, None, :]
    got = helpers.to_numpy(layer(inputs))
    if data_format == "channels_first":
        got = np.transpose(got, (0, 2, 3, 1))
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_gates_depend_on_the_whole_image_only():
    # Moving pixels around leaves the mean, hence every gate, unchanged.
    layer = SqueezeExcite(2)
    x = helpers.random_inputs((1, 4, 4, 3), seed=1)
    flipped = x[:, ::-1, ::-1, :]
    np.testing.assert_allclose(helpers.to_numpy(layer(flipped)),
                               helpers.to_numpy(layer(x))[:, ::-1, ::-1, :], atol=1e-6)


@pytest.mark.parametrize("kwargs, fragments", [
    ({"squeeze_filters": 0}, ("squeeze_filters", "0")),
    ({"squeeze_filters": 2.0}, ("squeeze_filters", "2.0")),
    ({"squeeze_filters": None}, ("squeeze_filters", "None")),
    ({"squeeze_filters": True}, ("squeeze_filters", "True")),
    ({"squeeze_filters": 2, "activation": "nope"}, ("activation", "'nope'")),
    ({"squeeze_filters": 2, "gate_activation": "nope"}, ("gate_activation", "'nope'")),
    ({"squeeze_filters": 2, "data_format": "NHWC"}, ("data_format", "'NHWC'")),
])
def test_bad_arguments(kwargs, fragments):
    helpers.assert_rejects(lambda: SqueezeExcite(**kwargs), (TypeError, ValueError), *fragments)


def test_unknown_channels_is_a_clear_error():
    layer = SqueezeExcite(2, name="se")
    helpers.assert_rejects(lambda: layer.build((None, 4, 4, None)), ValueError,
                           "se", "(None, 4, 4, None)")


def test_keeps_the_compute_dtype():
    layer = SqueezeExcite(2, dtype="mixed_float16")
    y = layer(keras.ops.ones((1, 3, 3, 4)))
    assert helpers.dtype_name(y) == "float16"
    assert {helpers.dtype_name(w) for w in layer.weights} == {"float32"}


def test_mobilenet_v3_gates_are_relu_then_hard_sigmoid():
    # MobileNetV3 (keras.applications' _se_block): gates = relu6(W2 relu(W1 mean(x) + b1)
    # + b2 + 3) / 6, written in NumPy.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4, 8)).astype("float32")
    w1, b1 = rng.standard_normal((8, 8)), rng.standard_normal(8)
    w2, b2 = 2 * rng.standard_normal((8, 8)), rng.standard_normal(8)
    layer = SqueezeExcite(8, activation="relu", gate_activation="hard_sigmoid")
    layer(x)
    layer.set_weights([w1.reshape(1, 1, 8, 8), b1, w2.reshape(1, 1, 8, 8), b2])
    logits = np.maximum(x.mean(axis=(1, 2)) @ w1 + b1, 0) @ w2 + b2
    gates = np.clip(logits + 3, 0, 6) / 6
    assert (gates == 0).any() and (gates == 1).any()  # both flat ends of the gate reached
    np.testing.assert_allclose(helpers.to_numpy(layer(x)), x * gates[:, None, None, :],
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("channels, ratio, divisor, width", [
    (10, 0.25, None, 2), (3, 0.25, None, 1), (1152, 0.25 / 6, None, 48),  # EfficientNet's
    # MobileNetV3's `_depth(hidden * 0.25)`: nearest multiple of 8, never 10% lower, >= 8.
    (72, 0.25, 8, 24), (120, 0.25, 8, 32), (16, 0.25, 8, 8), (88, 0.25, 8, 24),
    (144, 0.25, 8, 40), (72 * 0.75, 0.25, 8, 16),
])
def test_squeeze_width(channels, ratio, divisor, width):
    assert squeeze_width(channels, ratio, divisor) == width
