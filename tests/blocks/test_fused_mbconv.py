"""Tests for `zoo.blocks.fused_mbconv.FusedMBConv` (EfficientNetV2's early-stage block)."""

import keras
import numpy as np
import pytest

import helpers
from zoo.blocks import ConvBN, FusedMBConv, MBConv, SqueezeExcite


@pytest.mark.parametrize("kwargs, in_channels, size, names", [
    ({"filters": 4}, 4, 8, ["expand", "project", "add"]),
    ({"filters": 6, "strides": 2, "kernel_size": 5}, 4, 4, ["expand", "project"]),
    ({"filters": 4, "expansion": 1}, 4, 8, ["project", "add"]),
    ({"filters": 4, "se_ratio": 0.5, "drop_rate": 0.2}, 4, 8,
     ["expand", "se", "project", "drop", "add"]),
])
def test_layer_contract(kwargs, in_channels, size, names):
    # Config round-trips, a training step, mixed precision, the channels_first twin.
    layer = helpers.run_layer_test(FusedMBConv, kwargs, input_shape=(2, 8, 8, in_channels),
                                   expected_output_shape=(2, size, size, kwargs["filters"]))
    assert [sub.name for sub in layer._layers] == names
    assert isinstance(layer, MBConv) and layer.depthwise is None


def test_units_are_keras_applications_fused_block():
    block = FusedMBConv(16, kernel_size=3, strides=2, expansion=4, se_ratio=0.25)
    block.build((None, 9, 9, 10))
    assert isinstance(block.expand, ConvBN) and isinstance(block.project, ConvBN)
    # The expansion is the block's strided kxk convolution; "swish" is Keras' "silu".
    assert (block.expand.filters, block.expand.kernel_size, block.expand.strides,
            block.expand.activation, block.expand.padding) == (40, 3, 2, "silu", "same")
    assert isinstance(block.se, SqueezeExcite) and block.se.squeeze_filters == 2  # of 10 in
    assert (block.project.filters, block.project.kernel_size, block.project.strides,
            block.project.activation) == (16, 1, 1, None)
    assert (block.bn_momentum, block.bn_epsilon) == (0.99, 1e-3)  # keras' BatchNormalization
    assert tuple(block.compute_output_shape((None, 9, 9, 10))) == (None, 5, 5, 16)
    assert block.drop is None and block.add is None  # strided: no identity, no drop-connect


def test_without_expansion_one_conv_with_activation():
    block = FusedMBConv(16, strides=2, expansion=1)
    block.build((None, 9, 9, 8))
    assert block.expand is None and block.se is None
    assert (block.project.kernel_size, block.project.strides, block.project.activation) == \
        (3, 2, "silu")
    assert tuple(block.compute_output_shape((None, 9, 9, 8))) == (None, 5, 5, 16)


def _plain(block, in_channels):
    """`block` as keras.applications' FusedMBConvBlock: plain keras.layers, its weights."""
    def conv_bn(unit, x, act=True):
        conv = keras.layers.Conv2D(unit.filters, unit.kernel_size, unit.strides, padding="same",
                                   use_bias=False)
        bn = keras.layers.BatchNormalization(momentum=unit.bn_momentum, epsilon=unit.bn_epsilon)
        y = bn(conv(x))
        conv.set_weights(unit.conv.get_weights())
        bn.set_weights(unit.bn.get_weights())
        return keras.layers.Activation("swish")(y) if act else y

    inputs = keras.Input((None, None, in_channels))
    x = conv_bn(block.expand, inputs) if block.expand is not None else inputs
    if block.se is not None:
        reduce = keras.layers.Conv2D(block.se.squeeze_filters, 1, activation="swish")
        expand = keras.layers.Conv2D(x.shape[-1], 1, activation="sigmoid")
        gate = expand(reduce(keras.layers.Reshape((1, 1, x.shape[-1]))(
            keras.layers.GlobalAveragePooling2D()(x))))
        reduce.set_weights(block.se.reduce.get_weights())
        expand.set_weights(block.se.expand.get_weights())
        x = keras.layers.multiply([x, gate])
    x = conv_bn(block.project, x, act=block.expansion == 1)
    if block.residual:
        x = keras.layers.add([x, inputs])
    return keras.Model(inputs, x)


@pytest.mark.parametrize("kwargs, in_channels", [
    ({"filters": 6, "expansion": 4, "se_ratio": 0.25}, 6),
    ({"filters": 8, "strides": 2, "expansion": 4}, 6),
    ({"filters": 6, "expansion": 1}, 6),
    ({"filters": 8, "strides": 2, "expansion": 1, "kernel_size": 5}, 6),
])
def test_equals_the_plain_keras_composition(kwargs, in_channels):
    # 7x9: odd sizes, where TensorFlow's "same" pads a strided convolution 0 before, 1 after.
    x = helpers.random_inputs((2, 7, 9, in_channels), seed=2)
    block = FusedMBConv(**kwargs, drop_rate=0.3)
    block.build(x.shape)
    helpers.randomize_batchnorm(block, seed=3)
    plain = _plain(block, in_channels)
    got = helpers.to_numpy(block(x, training=False))
    assert got.shape == tuple(plain(x).shape)
    np.testing.assert_allclose(got, helpers.to_numpy(plain(x, training=False)), atol=1e-5,
                               rtol=1e-5)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_output_is_input_plus_branch(data_format):
    shape = (2, 6, 6, 4) if data_format == "channels_last" else (2, 4, 6, 6)
    x = helpers.random_inputs(shape, seed=2)
    block = FusedMBConv(4, expansion=3, se_ratio=0.25, data_format=data_format)
    block(x)
    helpers.randomize_batchnorm(block, seed=3)
    got = helpers.to_numpy(block(x, training=False))
    inner = x if block.compute_format == data_format else np.transpose(x, (0, 2, 3, 1))
    branch = inner
    for unit in (block.expand, block.se, block.project):
        branch = unit(branch, training=False)
    branch = helpers.to_numpy(branch)
    if block.compute_format != data_format:
        branch = np.transpose(branch, (0, 3, 1, 2))
    np.testing.assert_allclose(got, x + branch, atol=1e-5, rtol=0)


def _twins(drop_rate, channels=4, seed=0):
    """A FusedMBConv with `drop_rate` and its drop_rate=0 twin, same weights."""
    keras.utils.set_random_seed(seed)
    dropping, plain = FusedMBConv(channels, drop_rate=drop_rate), FusedMBConv(channels)
    for block in (dropping, plain):
        block.build((None, 2, 2, channels))
    plain.set_weights(dropping.get_weights())
    return dropping, plain


def test_drop_connect_is_off_in_inference():
    dropping, plain = _twins(0.5)
    x = helpers.random_inputs((8, 2, 2, 4), seed=4)
    for training in (False, None):
        np.testing.assert_array_equal(helpers.to_numpy(dropping(x, training=training)),
                                      helpers.to_numpy(plain(x, training=False)))


def test_drop_connect_drops_whole_examples_branches_at_its_rate():
    # keras.applications: Dropout(rate, noise_shape=(None, 1, 1, 1)) on the branch: per
    # example it is dropped (output = input) or kept and scaled by 1 / (1 - rate).
    rate, n = 0.25, 2000
    dropping, plain = _twins(rate)
    assert dropping.drop.rate == rate and dropping.drop.noise_shape == (None, 1, 1, 1)
    x = helpers.random_inputs((n, 2, 2, 4), seed=5)
    branch = helpers.to_numpy(plain(x, training=True)) - x
    got = helpers.to_numpy(dropping(x, training=True)) - x
    dropped = np.all(np.abs(got) < 1e-6, axis=(1, 2, 3))
    np.testing.assert_allclose(got[~dropped], branch[~dropped] / (1 - rate), atol=1e-4,
                               rtol=1e-4)
    assert np.abs(branch[dropped]).max() > 1e-2  # a dropped branch was not zero anyway
    # Binomial(2000, 0.25): standard deviation 0.0097; 4 of them.
    assert abs(dropped.mean() - rate) < 0.04, dropped.mean()


def test_no_identity_no_drop_connect():
    block = FusedMBConv(8, drop_rate=0.3)
    block.build((None, 4, 4, 4))
    assert block.drop is None and not block.residual
    restored = FusedMBConv.from_config(block.get_config())
    assert (restored.drop_rate, restored.expansion, restored.se_ratio) == (0.3, 4, 0.0)
