"""Tests for `zoo.blocks.convnext_block.ConvNeXtBlock`, against keras.applications'
ConvNeXt block."""

import keras
import numpy as np
import pytest
from keras.src.applications.convnext import ConvNeXtBlock as keras_block

import helpers
from zoo.blocks import ConvNeXtBlock, DropPath, LayerScale


@pytest.mark.parametrize("kwargs, names", [
    ({}, ["depthwise", "norm", "pointwise1", "act", "pointwise2", "layer_scale"]),
    ({"drop_path_rate": 0.2, "layer_scale_init_value": 0.5},
     ["depthwise", "norm", "pointwise1", "act", "pointwise2", "layer_scale", "drop_path"]),
    ({"layer_scale_init_value": None}, ["depthwise", "norm", "pointwise1", "act", "pointwise2"]),
])
def test_layer_contract(kwargs, names):
    # Config round-trips, a training step, mixed precision and the channels_first twin.
    # At the default layer scale (1e-6) the gradients behind it are ~1e-6 of the
    # others: one step moves a LayerNorm gamma of 1 by less than float32 resolves.
    layer = helpers.run_layer_test(ConvNeXtBlock, kwargs, input_shape=(2, 8, 8, 4),
                                   expected_output_shape=(2, 8, 8, 4),
                                   expect_all_trainable_updated=bool(kwargs))
    assert [sub.name for sub in layer._sublayers()] == names


def test_units_and_weights():
    block = ConvNeXtBlock(drop_path_rate=0.1)
    block.build((None, 9, 7, 8))
    assert (block.depthwise.kernel_size, block.depthwise.padding, block.depthwise.use_bias) == \
        ((7, 7), "same", True)
    assert (block.norm.epsilon, block.pointwise1.units, block.pointwise2.units) == (1e-6, 32, 8)
    assert keras.activations.serialize(block.act.activation) == "gelu"
    assert isinstance(block.layer_scale, LayerScale) and block.layer_scale.init_value == 1e-6
    assert isinstance(block.drop_path, DropPath) and block.drop_path.rate == 0.1
    assert [w.path.split("/", 1)[1] for w in block.weights] == [
        "depthwise/kernel", "depthwise/bias", "norm/gamma", "norm/beta", "pointwise1/kernel",
        "pointwise1/bias", "pointwise2/kernel", "pointwise2/bias", "layer_scale/gamma"]


def test_gelu_is_exact_as_keras():
    x = np.linspace(-3, 3, 13).astype("float32")
    block = ConvNeXtBlock()
    block.build((None, 8, 8, 2))
    np.testing.assert_allclose(helpers.to_numpy(block.act(x)),
                               helpers.to_numpy(keras.activations.gelu(x, approximate=False)),
                               atol=1e-7)
    assert np.abs(helpers.to_numpy(block.act(x)) - helpers.to_numpy(
        keras.activations.gelu(x, approximate=True))).max() > 1e-4


@pytest.mark.parametrize("drop_path_rate", [0.0, 0.3])
def test_same_outputs_as_keras_block(drop_path_rate):
    channels, x = 6, helpers.random_inputs((2, 9, 11, 6), seed=4)
    inputs = keras.Input((9, 11, channels))
    reference = keras.Model(inputs, keras_block(channels, drop_path_rate, 1e-6, name="b")(inputs))
    rng = np.random.default_rng(5)
    for weight in reference.weights:  # gamma, beta, biases and the layer scale random too
        weight.assign(rng.normal(0, 0.5, weight.shape).astype("float32"))
    block = ConvNeXtBlock(drop_path_rate, 1e-6)
    block(x)
    def weights(unit):
        return reference.get_layer(f"b_{unit}").get_weights()

    kernel, bias = weights("depthwise_conv")
    block.set_weights([kernel.swapaxes(2, 3), bias,  # Conv2D(groups=C)'s (7, 7, 1, C) kernel
                       *weights("layernorm"), *weights("pointwise_conv_1"),
                       *weights("pointwise_conv_2"), *weights("layer_scale")])
    expected = helpers.to_numpy(reference(x, training=False))
    np.testing.assert_allclose(helpers.to_numpy(block(x, training=False)), expected,
                               atol=1e-5 * max(1.0, np.abs(expected).max()), rtol=0)
    assert np.abs(expected - x).max() > 0.1  # the branch is not negligible


def test_drop_path_drops_the_branch_of_whole_examples():
    x = helpers.random_inputs((64, 8, 8, 4), seed=6)
    block = ConvNeXtBlock(drop_path_rate=0.5, layer_scale_init_value=1.0)
    y = helpers.to_numpy(block(x, training=True))
    same = [bool(np.array_equal(y[i], x[i])) for i in range(64)]
    assert 10 < sum(same) < 54  # dropped examples are exactly their input
    branch = helpers.to_numpy(block(x, training=False)) - x
    kept = [i for i in range(64) if not same[i]]
    np.testing.assert_allclose(y[kept] - x[kept], branch[kept] / 0.5, atol=1e-4)


def test_unknown_channels_is_a_clear_error():
    block = ConvNeXtBlock(name="cb")
    helpers.assert_rejects(lambda: block.build((None, 8, 8, None)), ValueError,
                           "cb", "(None, 8, 8, None)")
