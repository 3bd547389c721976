"""Tests for `zoo.blocks.preact_bottleneck.PreActBottleneck` (ResNet v2's block)."""

import keras
import numpy as np
import pytest
from keras.src.applications.resnet import residual_block_v2

import helpers
from zoo.blocks import BatchNorm, ConvBN, PreActBottleneck


@pytest.mark.parametrize("filters, strides, in_channels, shortcut", [
    (4, 1, 8, "shortcut"),        # width changes: 1x1 convolution of the pre-activation
    (4, 1, 16, None),             # same width, stride 1: the input itself
    (4, 2, 16, "shortcut_pool"),  # same width, strided: 1x1 max-pool of the input
    (4, 2, 8, "shortcut"),        # both: a strided 1x1 convolution
])
def test_layer_contract(filters, strides, in_channels, shortcut):
    # The battery covers config round-trips, a training step, both mixed
    # precision policies and the channels_first twin (same weights).
    size = 8 // strides
    layer = helpers.run_layer_test(
        PreActBottleneck, {"filters": filters, "strides": strides},
        input_shape=(2, 8, 8, in_channels), expected_output_shape=(2, size, size, 4 * filters))
    names = [sub.name for sub in layer._layers]
    assert names == ["preact_bn", "preact_act", "conv1", "conv2", "conv3", "add"] + \
        ([shortcut] if shortcut else [])
    assert layer.projection is (shortcut == "shortcut")


def test_units_and_weights():
    block = PreActBottleneck(8, strides=2)
    block.build((None, 9, 9, 16))
    assert isinstance(block.preact_bn, BatchNorm) and block.preact_bn.epsilon == 1.001e-5
    assert block.preact_bn.momentum == block.conv1.bn.momentum == 0.9  # the zoo's blocks'
    assert [(type(u), u.filters, u.kernel_size, u.strides, u.activation)
            for u in (block.conv1, block.conv2)] == [(ConvBN, 8, 1, 1, "relu"),
                                                     (ConvBN, 8, 3, 2, "relu")]
    assert block.conv2.pad is not None  # zero padding 1 + valid, as keras.applications
    assert (block.conv3.filters, block.conv3.use_bias) == (32, True)
    assert (block.shortcut.strides, block.shortcut.use_bias) == ((2, 2), True)
    assert [w.path.split("/", 1)[1] for w in block.trainable_weights] == [
        "preact_bn/gamma", "preact_bn/beta", "conv1/conv/kernel", "conv1/bn/gamma",
        "conv1/bn/beta", "conv2/conv/kernel", "conv2/bn/gamma", "conv2/bn/beta",
        "conv3/kernel", "conv3/bias", "shortcut/kernel", "shortcut/bias"]
    assert tuple(block.compute_output_shape((None, 9, 9, 16))) == (None, 5, 5, 32)
    assert tuple(block.compute_output_shape((None, None, 7, 16))) == (None, None, 4, 32)


def _keras_block(x_shape, filters, strides, conv_shortcut):
    """keras.applications' `residual_block_v2`, the definition, as a model."""
    inputs = keras.Input(x_shape[1:])
    outputs = residual_block_v2(inputs, filters, stride=strides, conv_shortcut=conv_shortcut,
                                name="b")
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("filters, strides, in_channels, size", [
    (4, 1, 8, 8),    # keras' conv_shortcut=True (each stage's first block)
    (4, 1, 16, 8),   # identity
    (4, 2, 16, 7),   # keras' strided last block, at an odd size
    (4, 2, 16, 8),
])
def test_equals_keras_applications_residual_block_v2(filters, strides, in_channels, size):
    shape = (2, size, size + 3, in_channels)
    x = helpers.random_inputs(shape, seed=4)
    reference = _keras_block(shape, filters, strides, conv_shortcut=in_channels != 4 * filters)
    helpers.randomize_batchnorm(reference, seed=5)
    rng = np.random.default_rng(6)
    layers = {layer.name: layer for layer in reference.layers}
    for name in ("b_0_conv", "b_3_conv"):
        if name in layers:
            kernel, bias = layers[name].get_weights()
            layers[name].set_weights([kernel, rng.normal(0, 0.5, bias.shape)])
    block = PreActBottleneck(filters, strides=strides)
    block.build(shape)
    pairs = [(block.preact_bn, "b_preact_bn"), (block.conv1.conv, "b_1_conv"),
             (block.conv1.bn, "b_1_bn"), (block.conv2.conv, "b_2_conv"),
             (block.conv2.bn, "b_2_bn"), (block.conv3, "b_3_conv")]
    if block.projection:
        pairs.append((block.shortcut, "b_0_conv"))
    for ours, name in pairs:
        ours.set_weights(layers[name].get_weights())
    assert block.count_params() == reference.count_params()
    expected = helpers.to_numpy(reference(x, training=False))
    got = helpers.to_numpy(block(x, training=False))
    assert got.shape == expected.shape == (2, -(-size // strides), -(-(size + 3) // strides),
                                           4 * filters)
    np.testing.assert_allclose(got, expected, atol=1e-5 * np.abs(expected).max(), rtol=0)


def test_fold_leaves_the_preactivation_batchnorm():
    block = PreActBottleneck(4)
    x = helpers.random_inputs((2, 6, 6, 8), seed=7)
    block(x)
    helpers.randomize_batchnorm(block, seed=8)
    before = helpers.to_numpy(block(x, training=False))
    for unit in (block.conv1, block.conv2):
        unit.fold_batchnorm()
    assert not hasattr(block.preact_bn, "fold_batchnorm")  # no convolution before it
    np.testing.assert_allclose(helpers.to_numpy(block(x, training=False)), before,
                               atol=1e-5, rtol=0)


def test_unknown_channels_is_a_clear_error():
    block = PreActBottleneck(4, name="pre")
    helpers.assert_rejects(lambda: block.build((None, 8, 8, None)), ValueError,
                           "pre", "channel", "(None, 8, 8, None)")
