"""Tests for `zoo.blocks.inverted_residual.InvertedResidual` (MobileNetV2's block,
generalised to MobileNetV3's)."""

import keras
import numpy as np
import pytest

import helpers
from zoo.blocks import ConvBN, InvertedResidual


@pytest.mark.parametrize("filters, strides, expansion, in_channels, residual", [
    (4, 1, 6, 4, True),    # same width, stride 1: identity added
    (6, 2, 6, 4, False),   # strided
    (6, 1, 6, 4, False),   # width changes
    (4, 1, 1, 4, True),    # no expand conv (MobileNetV2's first block, residual here)
    (8, 2, 1, 4, False),   # no expand conv, strided
])
def test_layer_contract(filters, strides, expansion, in_channels, residual):
    # The battery covers config round-trips, a training step, both mixed
    # precision policies and the channels_first twin (same weights).
    size = 8 // strides
    layer = helpers.run_layer_test(
        InvertedResidual,
        {"filters": filters, "strides": strides, "expansion": expansion},
        input_shape=(2, 8, 8, in_channels),
        expected_output_shape=(2, size, size, filters),
    )
    assert layer.residual is residual
    names = [sub.name for sub in layer._layers]
    assert names == (["expand"] if expansion > 1 else []) + ["depthwise", "project"] + \
        (["add"] if residual else [])


def test_units_are_expand_depthwise_linear_projection():
    block = InvertedResidual(8, strides=2, expansion=6)
    block.build((None, 9, 9, 5))
    assert (block.expand.filters, block.expand.kernel_size, block.expand.activation) == \
        (30, 1, "relu6")  # expansion x input channels, as keras.applications
    assert (block.depthwise.depthwise, block.depthwise.strides, block.depthwise.kernel_size,
            block.depthwise.activation, block.depthwise.padding) == (True, 2, 3, "relu6", "same")
    assert (block.project.filters, block.project.activation) == (8, None)
    assert [w.path.split("/", 1)[1] for w in block.weights][::5] == [
        "expand/conv/kernel", "depthwise/conv/kernel", "project/conv/kernel"]
    assert tuple(block.compute_output_shape((None, 9, 9, 5))) == (None, 5, 5, 8)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_output_is_input_plus_linear_branch(data_format):
    shape = (2, 6, 6, 4) if data_format == "channels_last" else (2, 4, 6, 6)
    x = helpers.random_inputs(shape, seed=2)
    block = InvertedResidual(4, expansion=3, data_format=data_format)
    block(x)
    helpers.randomize_batchnorm(block, seed=3)
    got = helpers.to_numpy(block(x, training=False))
    # The units compute in compute_format (NHWC on CPUs without NCHW convs).
    inner = x if block.compute_format == data_format else np.transpose(x, (0, 2, 3, 1))
    branch = inner
    for unit in (block.expand, block.depthwise, block.project):
        branch = unit(branch, training=False)
    branch = helpers.to_numpy(branch)
    if block.compute_format != data_format:
        branch = np.transpose(branch, (0, 3, 1, 2))
    np.testing.assert_allclose(got, x + branch, atol=1e-5, rtol=0)
    assert helpers.to_numpy(block.project(block.depthwise(block.expand(inner)))).min() < 0, \
        "the projection is linear: no ReLU6 clips it"


def test_symmetric_padding_reaches_the_depthwise_unit():
    block = InvertedResidual(4, strides=2, padding="symmetric")
    block.build((None, 8, 8, 4))
    assert block.depthwise.padding == "symmetric" and block.depthwise.pad is not None
    assert InvertedResidual.from_config(block.get_config()).padding == "symmetric"


def test_unknown_channels_is_a_clear_error():
    block = InvertedResidual(4, name="ir")
    helpers.assert_rejects(lambda: block.build((None, 8, 8, None)), ValueError,
                           "ir", "channel", "(None, 8, 8, None)")


def test_is_built_from_convbn_units():
    block = InvertedResidual(4, expansion=2)
    block.build((None, 4, 4, 2))
    assert all(isinstance(unit, ConvBN) for unit in (block.expand, block.depthwise,
                                                     block.project))
    assert block.add is None and not block.residual  # 2 -> 4 channels: no add


ONEDNN_OFF = """
import numpy as np
from zoo.blocks import ConvBN, InvertedResidual
from zoo import ops
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 7, 7, 4)).astype("float32")
for name, make in [
        ("convbn", lambda f: ConvBN(None, 3, strides=2, depthwise=True, padding="same",
                                    data_format=f)),
        ("same", lambda f: ConvBN(5, 3, strides=2, padding="same", data_format=f)),
        ("block", lambda f: InvertedResidual(4, strides=1, data_format=f)),
        ("strided", lambda f: InvertedResidual(6, strides=2, data_format=f))]:
    last, first = make("channels_last"), make("channels_first")
    expected = np.asarray(last(x))
    first(np.transpose(x, (0, 3, 1, 2)))
    first.set_weights(last.get_weights())
    got = np.transpose(np.asarray(first(np.transpose(x, (0, 3, 1, 2)))), (0, 2, 3, 1))
    print(name, first.compute_format, float(np.abs(got - expected).max()))
"""


@pytest.mark.tensorflow_only("TF_ENABLE_ONEDNN_OPTS selects TensorFlow's CPU kernels")
def test_channels_first_with_onednn_off():
    # TensorFlow's own CPU kernels have neither NCHW Conv2D nor NCHW
    # DepthwiseConv2dNative; the blocks compute in NHWC there.
    out = helpers.run_in_fresh_process(ONEDNN_OFF, env={"TF_ENABLE_ONEDNN_OPTS": "0"})
    names = ["convbn", "same", "block", "strided"]
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in
            [[name] for name in names]]
    assert [row[:2] for row in rows] == [[name, "channels_last"] for name in names], out
    assert all(float(row[2]) < 1e-5 for row in rows), out


# --------------------------------------------------------------------------
# MobileNetV3's generalisation: kernel size, activation, squeeze-excite, hidden width


@pytest.mark.parametrize("kwargs, in_channels, size, names", [
    ({"filters": 8, "kernel_size": 5, "se_ratio": 0.25, "activation": "hard_swish"}, 8, 8,
     ["expand", "depthwise", "se", "project", "add"]),
    ({"filters": 8, "strides": 2, "expansion": None, "expanded_filters": 20, "se_ratio": 0.25},
     4, 4, ["expand", "depthwise", "se", "project"]),
    ({"filters": 4, "expansion": None, "expanded_filters": 4, "se_ratio": 0.25}, 4, 8,
     ["depthwise", "se", "project", "add"]),  # hidden = input width: no expand conv
])
def test_layer_contract_mobilenet_v3(kwargs, in_channels, size, names):
    layer = helpers.run_layer_test(InvertedResidual, kwargs, input_shape=(2, 8, 8, in_channels),
                                   expected_output_shape=(2, size, size, kwargs["filters"]))
    assert [sub.name for sub in layer._layers] == names


def test_mobilenet_v3_units():
    # keras.applications' MobileNetV3Large block 8 at alpha 0.75: 64 -> _depth(64 * 2.3) = 144.
    block = InvertedResidual(64, expansion=None, expanded_filters=144, kernel_size=5,
                             se_ratio=0.25, activation="hard_swish")
    block.build((None, 8, 8, 64))
    # Keras registers "hard_swish" as "hard_silu": x * relu6(x + 3) / 6.
    assert (block.expand.filters, block.expand.activation) == (144, "hard_silu")
    assert (block.depthwise.kernel_size, block.depthwise.activation) == (5, "hard_silu")
    # MobileNetV3's squeeze: _depth(0.25 * 144) = 40 of the *hidden* width, ReLU, hard sigmoid.
    assert (block.se.squeeze_filters, block.se.activation, block.se.gate_activation) == \
        (40, "relu", "hard_sigmoid")
    assert block.residual and block.project.activation is None
    config = block.get_config()
    assert (config["expansion"], config["expanded_filters"], config["kernel_size"],
            config["se_ratio"]) == (None, 144, 5, 0.25)


def test_defaults_and_config_of_mobilenet_v2_blocks_are_unchanged():
    # A config saved before kernel_size, se_ratio and expanded_filters existed loads as it was.
    block = InvertedResidual(8, strides=2, expansion=6)
    old = {key: value for key, value in block.get_config().items()
           if key not in ("kernel_size", "se_ratio", "expanded_filters")}
    loaded = InvertedResidual.from_config(old)
    loaded.build((None, 8, 8, 4))
    assert (loaded.kernel_size, loaded.se_ratio, loaded.expanded_filters, loaded.se) == \
        (3, 0.0, None, None)
    assert [w.path.split("/", 1)[1] for w in loaded.weights][::5] == [
        "expand/conv/kernel", "depthwise/conv/kernel", "project/conv/kernel"]
    # Positional arguments keep their places: filters, strides, expansion, data_format, ...
    positional = InvertedResidual(8, 2, 3, "channels_last", 0.5, 1e-2, False, "relu", "symmetric")
    assert (positional.strides, positional.expansion, positional.bn_momentum,
            positional.bn_epsilon, positional.activation, positional.padding) == \
        (2, 3, 0.5, 1e-2, "relu", "symmetric")


def test_hidden_width_must_be_whole():
    # expansion stays an int (tests/bad_input/test_bad_mobilenet_v2.py); without
    # expanded_filters it is required.
    helpers.assert_rejects(lambda: InvertedResidual(8, expansion=None), ValueError,
                           "expansion", "None")
    helpers.assert_rejects(lambda: InvertedResidual(8, expansion=None, expanded_filters=7.5),
                           TypeError, "expanded_filters", "7.5")


def test_hard_sigmoid_is_keras_applications_relu6_over_6():
    # The gate keras.applications' MobileNetV3 writes out: ReLU(6)(x + 3) / 6.
    x = np.linspace(-8, 8, 4001).astype("float32")
    ours = helpers.to_numpy(keras.activations.hard_sigmoid(x))
    theirs = np.minimum(np.maximum(x + 3, 0), 6) * np.float32(1 / 6)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1.2e-7)  # 1 ulp of 1.0 at most
    np.testing.assert_array_equal(ours[x <= -3], 0)
    np.testing.assert_array_equal(ours[x >= 3], 1)
    swish = helpers.to_numpy(keras.activations.hard_swish(x))
    np.testing.assert_allclose(swish, x * theirs, rtol=0, atol=1e-6)


@pytest.mark.parametrize("expansion, kernel, stride, se, activation, in_channels, filters", [
    (72.0 / 16, 3, 2, None, "relu", 16, 24),
    (88.0 / 24, 3, 1, None, "relu", 24, 24),
    (6, 5, 1, 0.25, "hard_swish", 40, 40),
    (2.3, 3, 1, None, "hard_swish", 64, 64),
    (4, 5, 2, 0.25, "hard_swish", 24, 40),
])
def test_equals_keras_applications_mobilenet_v3_block(expansion, kernel, stride, se, activation,
                                                      in_channels, filters):
    # The definition: keras.applications' own `_inverted_res_block` (block 1: with its
    # expand conv), weights copied; 9x11: odd sizes, where its correct_pad pads evenly.
    from keras.src.applications import mobilenet_v3 as reference
    act = reference.relu if activation == "relu" else reference.hard_swish
    inputs = keras.Input((9, 11, in_channels))
    k = keras.Model(inputs, reference._inverted_res_block(inputs, expansion, filters, kernel,
                                                           stride, se, act, 1))
    helpers.randomize_batchnorm(k, seed=1)
    hidden = reference._depth(in_channels * expansion)
    block = InvertedResidual(filters, stride, expansion=None, expanded_filters=hidden,
                             kernel_size=kernel, se_ratio=se or 0.0, activation=activation,
                             bn_momentum=0.999)
    block.build((None, 9, 11, in_channels))
    rng = np.random.default_rng(2)
    for layer in k.layers:  # random squeeze-excite biases: a misplaced one shows
        if isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            kernel_value, bias = layer.get_weights()
            layer.set_weights([kernel_value, rng.normal(0, 0.5, bias.shape)])
    ours = {w.path.split("/", 1)[1]: w for w in block.weights}
    names = {"expand": "expanded_conv_1_expand", "depthwise": "expanded_conv_1_depthwise",
             "project": "expanded_conv_1_project"}
    for unit, name in names.items():
        layer, bn = k.get_layer(name), k.get_layer(f"{name}_bn")
        ours[f"{unit}/conv/kernel"].assign(layer.get_weights()[0])
        for weight, value in zip(("gamma", "beta", "moving_mean", "moving_variance"),
                                 bn.get_weights()):
            ours[f"{unit}/bn/{weight}"].assign(value)
    if se:
        for conv, name in (("reduce", "squeeze_excite_conv"), ("expand", "squeeze_excite_conv_1")):
            kernel_value, bias = k.get_layer(f"expanded_conv_1_{name}").get_weights()
            ours[f"se/{conv}/kernel"].assign(kernel_value)
            ours[f"se/{conv}/bias"].assign(bias)
    assert len(block.weights) == len(k.weights)
    x = helpers.random_inputs((2, 9, 11, in_channels), seed=3)
    expected = helpers.to_numpy(k(x, training=False))
    np.testing.assert_allclose(helpers.to_numpy(block(x, training=False)), expected,
                               rtol=0, atol=1e-5 * max(1.0, np.abs(expected).max()))
    assert block.residual == (stride == 1 and in_channels == filters)
