"""Tests for `zoo.blocks.conv.ConvBN`."""


import keras
import numpy as np
import pytest

import helpers
from zoo.blocks import ConvBN


@pytest.mark.parametrize("activation", ["relu", None])
@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("kernel_size", [1, 3, 7])
def test_layer_contract(kernel_size, strides, activation):
    size = 8 // strides
    helpers.run_layer_test(
        ConvBN,
        {"filters": 6, "kernel_size": kernel_size, "strides": strides,
         "activation": activation},
        input_shape=(2, 8, 8, 4),
        expected_output_shape=(2, size, size, 6),
    )


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7])
@pytest.mark.parametrize("size", [7, 8, 9])
def test_strided_output_is_ceil_of_size_over_stride(kernel_size, size):
    # The docstring promises ceil(size / strides), like padding="same".
    layer = ConvBN(3, kernel_size, strides=2)
    y = layer(helpers.random_inputs((2, size, size, 4)))
    expected = (2, -(-size // 2), -(-size // 2), 3)
    assert tuple(y.shape) == expected
    assert tuple(layer.compute_output_shape((2, size, size, 4))) == expected


@pytest.mark.parametrize("kernel_size", [2, 4])
def test_strided_even_kernel_output_is_ceil_of_size_over_stride(kernel_size):
    # Documented output size is ceil(size / strides) for every kernel size;
    # explicit kernel_size // 2 padding on both sides breaks that for even
    # kernels (8x8, kernel 2, stride 2 gives 5x5 with a zero-padded border).
    layer = ConvBN(3, kernel_size, strides=2)
    y = layer(helpers.random_inputs((2, 8, 8, 4)))
    assert tuple(y.shape) == (2, 4, 4, 3)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("kernel_size", [3, 7])
def test_stride2_pads_symmetrically(kernel_size, data_format):
    x_last = helpers.random_inputs((2, 8, 8, 4), seed=3)
    x = x_last if data_format == "channels_last" else np.transpose(x_last, (0, 3, 1, 2))
    layer = ConvBN(5, kernel_size, strides=2, data_format=data_format)
    layer(x)
    helpers.randomize_batchnorm(layer, seed=4)
    got = helpers.to_numpy(layer(x, training=False))

    # The reference runs in NHWC, which every backend and CPU kernel library
    # has (TensorFlow's own CPU kernels have no NCHW convolution).
    def reference(padding):
        p = kernel_size // 2
        padded = keras.ops.pad(x_last, [[0, 0], [p, p], [p, p], [0, 0]]) \
            if padding == "valid" else x_last
        y = keras.ops.conv(padded, layer.conv.kernel, strides=2, padding=padding)
        gamma, beta, mean, variance = (helpers.to_numpy(w) for w in layer.bn.weights)
        y = (helpers.to_numpy(y) - mean) / np.sqrt(variance + layer.bn_epsilon) * gamma + beta
        y = np.maximum(y, 0.0)
        return y if data_format == "channels_last" else np.transpose(y, (0, 3, 1, 2))

    np.testing.assert_allclose(got, reference("valid"), atol=1e-5, rtol=0)
    # The check can tell the difference: TF's "same" pads bottom/right only.
    assert np.abs(reference("same") - got).max() > 1e-3


def test_stride1_and_1x1_use_same_padding_without_pad_layer():
    assert ConvBN(4, 3).pad is None
    assert ConvBN(4, 1, strides=2).pad is None
    assert ConvBN(4, 3, strides=2).pad is not None
    assert ConvBN(4, 3).conv.padding == "same"


def test_conv_has_no_bias_and_activation_is_optional():
    layer = ConvBN(4, 3, activation=None)
    layer.build((None, 8, 8, 3))
    assert layer.conv.use_bias is False
    assert layer.act is None
    assert [w.path.split("/", 1)[1] for w in layer.weights] == [
        "conv/kernel", "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"]
    # Without activation the output can be negative.
    assert helpers.to_numpy(layer(helpers.random_inputs((2, 8, 8, 3)))).min() < 0


def test_gamma_initializer_zeros_round_trips():
    layer = ConvBN(4, 3, gamma_initializer="zeros")
    layer.build((None, 8, 8, 3))
    assert np.all(helpers.to_numpy(layer.bn.gamma) == 0)
    clone = ConvBN.from_config(layer.get_config())
    clone.build((None, 8, 8, 3))
    assert np.all(helpers.to_numpy(clone.bn.gamma) == 0)


@pytest.mark.parametrize("kwargs, argument, value", [
    ({"filters": 0}, "filters", "0"),
    ({"filters": -3}, "filters", "-3"),
    ({"filters": 2.5}, "filters", "2.5"),
    ({"filters": True}, "filters", "True"),
    ({"kernel_size": 0}, "kernel_size", "0"),
    ({"strides": -1}, "strides", "-1"),
    ({"strides": 0}, "strides", "0"),
    ({"data_format": "channel_last"}, "data_format", "channel_last"),
    ({"activation": "nope"}, "activation", "nope"),
    ({"filters": None}, "filters", "None"),
    ({"filters": 0, "depthwise": True}, "filters", "0"),
    ({"depthwise": "yes"}, "depthwise", "'yes'"),
    ({"padding": "valid"}, "padding", "'valid'"),
    ({"padding": "SAME"}, "padding", "'SAME'"),
])
def test_bad_arguments(kwargs, argument, value):
    args = {"filters": 4, "kernel_size": 3, **kwargs}
    # A wrong type (2.5, True) is a TypeError, a wrong value a ValueError.
    with pytest.raises((TypeError, ValueError)) as info:
        ConvBN(**args)
    message = str(info.value)
    assert argument in message and value in message, message


@pytest.mark.parametrize("shape", [(8, 8, 4), (2, 8, 8, 8, 4), (2, 8)])
def test_wrong_rank_names_layer_and_shape(shape):
    layer = ConvBN(4, 3, name="my_conv_bn")
    with pytest.raises(ValueError) as info:
        layer(np.zeros(shape, "float32"))
    message = str(info.value)
    assert "my_conv_bn" in message and str(shape) in message, message


# --------------------------------------------------------------------------
# depthwise=True and padding="same" (MobileNetV2)


@pytest.mark.parametrize("depthwise, padding, strides", [
    (True, "same", 2), (True, "symmetric", 2), (True, "same", 1), (False, "same", 2),
])
def test_depthwise_and_same_padding_layer_contract(depthwise, padding, strides):
    size = 8 // strides
    helpers.run_layer_test(
        ConvBN,
        {"filters": None if depthwise else 6, "kernel_size": 3, "strides": strides,
         "activation": "relu6", "depthwise": depthwise, "padding": padding},
        input_shape=(2, 8, 8, 4),
        expected_output_shape=(2, size, size, 4 if depthwise else 6),
    )


def _reference(x_last, layer, padding, depthwise):
    """BN(conv(x)) then ReLU6 in NHWC with NumPy statistics, the conv by keras.ops."""
    kernel = layer.conv.kernel
    conv = keras.ops.depthwise_conv if depthwise else keras.ops.conv
    y = helpers.to_numpy(conv(x_last, kernel, strides=2, padding=padding))
    gamma, beta, mean, variance = (helpers.to_numpy(w) for w in layer.bn.weights)
    y = (y - mean) / np.sqrt(variance + layer.bn_epsilon) * gamma + beta
    return np.clip(y, 0.0, 6.0)


@pytest.mark.parametrize("depthwise", [True, False])
@pytest.mark.parametrize("size", [7, 8])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_same_padding_is_tensorflow_same(data_format, size, depthwise):
    # keras.applications' MobileNetV2 pads strided 3x3 convs 0 before / 1
    # after an even size and 1 / 1 an odd one: TensorFlow's "same".
    x_last = helpers.random_inputs((2, size, size, 4), seed=5)
    x = x_last if data_format == "channels_last" else np.transpose(x_last, (0, 3, 1, 2))
    layer = ConvBN(4 if depthwise else 5, 3, strides=2, activation="relu6",
                   data_format=data_format, depthwise=depthwise, padding="same")
    layer(x)
    helpers.randomize_batchnorm(layer, seed=6)
    got = helpers.to_numpy(layer(x, training=False))
    if data_format == "channels_first":
        got = np.transpose(got, (0, 2, 3, 1))
    assert layer.pad is None and layer.conv.padding == "same"
    np.testing.assert_allclose(got, _reference(x_last, layer, "same", depthwise),
                               atol=1e-5, rtol=0)
    if size % 2 == 0:  # and it differs from the symmetric padding there
        p = np.pad(x_last, [(0, 0), (1, 1), (1, 1), (0, 0)])
        assert np.abs(_reference(p, layer, "valid", depthwise) - got).max() > 1e-3


def test_depthwise_weights_and_names():
    layer = ConvBN(None, 3, depthwise=True)
    layer.build((None, 8, 8, 5))
    assert isinstance(layer.conv, keras.layers.DepthwiseConv2D)
    assert layer.conv.depth_multiplier == 1 and layer.conv.use_bias is False
    assert [(w.path.split("/", 1)[1], tuple(w.shape)) for w in layer.weights] == [
        ("conv/kernel", (3, 3, 5, 1)), ("bn/gamma", (5,)), ("bn/beta", (5,)),
        ("bn/moving_mean", (5,)), ("bn/moving_variance", (5,))]
    # filters may also be the input's own channel count.
    assert tuple(ConvBN(5, 3, depthwise=True)(np.zeros((1, 4, 4, 5), "float32")).shape) == \
        (1, 4, 4, 5)


def test_depthwise_filters_other_than_input_channels_names_both():
    layer = ConvBN(6, 3, depthwise=True, name="dw")
    message = helpers.assert_rejects(lambda: layer(np.zeros((1, 4, 4, 5), "float32")),
                                     ValueError, "dw", "filters=6", "(1, 4, 4, 5)")
    assert "depthwise" in message


def test_old_config_without_the_new_arguments_loads_as_before():
    # A config saved before depthwise/padding existed keeps today's layer.
    layer = ConvBN(4, 3, strides=2)
    config = layer.get_config()
    assert (config["depthwise"], config["padding"]) == (False, "symmetric")
    old = {k: v for k, v in config.items() if k not in ("depthwise", "padding")}
    clone = ConvBN.from_config(old)
    assert (clone.depthwise, clone.padding) == (False, "symmetric")
    assert clone.pad is not None and isinstance(clone.conv, keras.layers.Conv2D)
    x = helpers.random_inputs((2, 8, 8, 3))
    layer(x)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(helpers.to_numpy(clone(x)), helpers.to_numpy(layer(x)))
